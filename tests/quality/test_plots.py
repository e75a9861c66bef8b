from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from gitops_ml.quality.metrics import Scored
from gitops_ml.quality.plots import curve_tables, render_pngs, thin


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
    tables = curve_tables(
        Scored("binary", is_positive, probability >= 0.5, probability), ("no", "yes"), bins=10, max_points=100
    )
    roc = tables["roc"]
    assert len(roc) <= 100
    assert (roc.iloc[0]["fpr"], roc.iloc[0]["tpr"]) == (0.0, 0.0)
    assert (roc.iloc[-1]["fpr"], roc.iloc[-1]["tpr"]) == (1.0, 1.0)
    assert roc["fpr"].is_monotonic_increasing and roc["tpr"].is_monotonic_increasing
    calibration = tables["calibration"]
    assert len(calibration) <= 10
    assert calibration["mean_predicted"].between(0, 1).all()


def test_each_task_has_its_tables_and_figures(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    actual = rng.integers(0, 3, 600)
    probabilities = rng.dirichlet(np.ones(3), 600) + np.eye(3)[actual]
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    multiclass = Scored("multiclass", actual, probabilities.argmax(axis=1), probabilities)
    classes = ("$x$ and {y}", "b", "c")  # matplotlib would parse "$...$" as mathematics
    tables = curve_tables(multiclass, classes, bins=10, max_points=50)
    assert set(tables) == {"roc_ovr"} and set(tables["roc_ovr"]["class"]) == set(classes)
    assert tables["roc_ovr"].groupby("class").size().max() <= 50
    render_pngs(multiclass, tables, classes, tmp_path / "multiclass")
    assert sorted(p.name for p in (tmp_path / "multiclass").iterdir()) == ["confusion_matrix.png", "roc_ovr.png"]

    values = rng.normal(100, 20, 10_000)
    regression = Scored("regression", values, values + rng.normal(0, 5, 10_000), values)
    tables = curve_tables(regression, (), bins=10, max_points=200)
    table = tables["predicted_vs_actual"]
    assert len(table) == 200 and table["actual"].is_monotonic_increasing
    assert np.allclose(table["residual"], table["actual"] - table["predicted"], atol=1e-5)
    render_pngs(regression, tables, (), tmp_path / "regression")
    assert [p.name for p in (tmp_path / "regression").iterdir()] == ["predicted_vs_actual.png"]
