from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from gitops_ml.core import paths
from gitops_ml.core.settings import Settings
from gitops_ml.pipeline import ingest, suggest_suite, validate
from gitops_ml.pipeline.synthetic import make_customer_table
from tests.support import SYNTHETIC


def test_suggested_suite_accepts_its_data_and_rejects_drifted_data(
    workdir: Path, settings: Callable[..., Settings]
) -> None:
    frame = make_customer_table(1_000, seed=11)
    frame.to_csv("data/external/churn.csv", index=False)
    config = settings(**SYNTHETIC)
    suite = suggest_suite.run(config, Path("data/external/churn.csv"), Path("data/expectations/mine.json"), 0.1)
    columns = {e["kwargs"].get("column") for e in suite["expectations"]}
    assert "churned" not in columns and "customer_id" not in columns
    assert {"expect_column_values_to_be_in_set", "expect_column_values_to_be_between"} <= {
        e["type"] for e in suite["expectations"]
    }

    mine = settings(**{**SYNTHETIC, "validate": {"suite": "data/expectations/mine.json"}})
    assert validate.validate(frame, mine, data_path=paths.RAW_DATA).success
    drifted = frame.assign(tenure_months=frame["tenure_months"] * 10)
    drifted.loc[0, "plan"] = "enterprise"
    found = validate.validate(drifted, mine, data_path=paths.RAW_DATA).failures
    assert {(f.column, f.description) for f in found} == {
        ("tenure_months", "values out of range"),
        ("plan", "values outside the allowed set"),
    }


def loan_table(rows: int = 400) -> pd.DataFrame:
    """An ordinary table a team brings: ids, a True/False column with gaps, a 40-level category, gaps."""
    rng = np.random.default_rng(5)
    frame = pd.DataFrame({
        "loan_id": [f"L{i:05d}" for i in range(rows)],
        "has_guarantor": rng.choice(np.array([True, False, None], dtype=object), rows),
        "branch": [f"branch-{i % 40:02d}" for i in range(rows)],
        "income": rng.normal(50_000, 9_000, rows).round(0),
        "defaulted": rng.choice([True, False], rows),
    })  # fmt: skip
    frame.loc[::17, "income"] = np.nan
    return frame


def test_a_suite_drafted_from_a_table_accepts_that_table_through_ingest_and_validate(
    workdir: Path, settings: Callable[..., Settings]
) -> None:
    path = workdir / "data" / "external" / "loans.csv"
    text = loan_table().to_csv(index=False)
    path.write_text(text.replace(",,", ",n/a,", 3))  # a few gaps written as n/a
    data = {"source": "file", "path": str(path), "target": "defaulted", "positive_class": True,
            "negative_class": False, "id_columns": ["loan_id"]}  # fmt: skip
    suite = suggest_suite.run(settings(data=data), path, Path("data/expectations/loans.json"), 0.1)
    [guarantor] = [e for e in suite["expectations"] if e["kwargs"].get("column") == "has_guarantor"]
    assert guarantor["kwargs"]["value_set"] == ["False", "True"]
    config = settings(data=data, validate={"suite": "data/expectations/loans.json"})
    frame = ingest.run(config)
    result = validate.validate(frame, config, data_path=paths.RAW_DATA)
    assert result.success, result.failures
