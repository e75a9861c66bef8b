"""Draft an expectation suite from a table, for a team bringing its own data.

The draft records what the data looks like today: the column set, numeric types and ranges
(widened by a margin), allowed categories, and which columns have no missing values. Review it,
edit it, and check it in: from then on the validate stage holds every new data version to it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gitops_ml.core.features import feature_types
from gitops_ml.core.files import read_table, write_json
from gitops_ml.core.settings import Settings
from gitops_ml.pipeline.ingest import apply_feature_types
from gitops_ml.pipeline.validate import NUMBERS

MAX_CATEGORIES = 50


def run(settings: Settings, data_path: Path, out_path: Path, margin: float) -> dict[str, Any]:
    # Describe the table as ingest will store it, with declared categories already as text.
    frame = apply_feature_types(read_table(data_path, settings.data.missing_values), settings.data)
    suite = suggest(frame, settings, name=out_path.stem, margin=margin)
    write_json(out_path, suite)
    print(f"suggest-suite: {len(suite['expectations'])} expectations from {data_path} -> {out_path}")
    return suite


def suggest(frame: pd.DataFrame, settings: Settings, *, name: str, margin: float) -> dict[str, Any]:
    expectations: list[dict[str, Any]] = [
        {
            "type": "expect_table_columns_to_match_set",
            "kwargs": {"column_set": list(frame.columns), "exact_match": True},
        }
    ]
    for column, kind in feature_types(frame, settings.data).items():
        values = frame[column]
        if values.notna().all():
            expectations.append(_expect("expect_column_values_to_not_be_null", column))
        if kind == "numeric":
            expectations.append(_expect("expect_column_values_to_be_in_type_list", column, type_list=NUMBERS))
            expectations.append(_expect("expect_column_values_to_be_between", column, **_widened(values, margin)))
        else:
            # The values as the data holds them (text, after ingest's conversions), not their str().
            categories = sorted((_plain(value) for value in values.dropna().unique()), key=str)
            if len(categories) <= MAX_CATEGORIES:
                expectations.append(_expect("expect_column_values_to_be_in_set", column, value_set=categories))
    return {"name": name, "expectations": expectations}


def _plain(value: Any) -> Any:
    """A NumPy scalar as the Python value JSON writes (np.int64(3) -> 3)."""
    return value.item() if isinstance(value, np.generic) else value


def _expect(kind: str, column: str, **kwargs: Any) -> dict[str, Any]:
    return {"type": kind, "kwargs": {"column": column, **kwargs}}


def _widened(values: pd.Series, margin: float) -> dict[str, float]:
    """Observed range plus ``margin`` of its width on each side, not below zero for non-negative data."""
    low, high = float(values.min()), float(values.max())
    pad = (high - low) * margin
    widened_low = low - pad if low < 0 else max(0.0, low - pad)
    return {"min_value": round(widened_low, 6), "max_value": round(high + pad, 6)}
