from __future__ import annotations

import numpy as np
import pandas as pd

from gitops_ml.quality.plots import curve_tables, thin


def test_thin_keeps_the_ends_and_caps_the_rows() -> None:
    table = pd.DataFrame({"x": range(1_000)})
    thinned = thin(table, 10)
    assert len(thinned) == 10
    assert thinned["x"].iloc[0] == 0 and thinned["x"].iloc[-1] == 999
    assert thin(table.head(5), 10).equals(table.head(5))


def test_curves_start_and_end_where_they_must() -> None:
    rng = np.random.default_rng(0)
    is_positive = rng.random(5_000) < 0.3
    probability = np.clip(is_positive * 0.3 + rng.random(5_000) * 0.7, 0, 1)
    tables = curve_tables(is_positive, probability, bins=10, max_points=100)
    roc = tables["roc"]
    assert len(roc) <= 100
    assert (roc.iloc[0]["fpr"], roc.iloc[0]["tpr"]) == (0.0, 0.0)
    assert (roc.iloc[-1]["fpr"], roc.iloc[-1]["tpr"]) == (1.0, 1.0)
    assert roc["fpr"].is_monotonic_increasing and roc["tpr"].is_monotonic_increasing
    calibration = tables["calibration"]
    assert len(calibration) <= 10
    assert calibration["mean_predicted"].between(0, 1).all()
