from __future__ import annotations

import json
from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from gitops_ml import evaluate, paths, split, train
from gitops_ml.metrics import classification_metrics
from gitops_ml.plots import thin
from gitops_ml.settings import Settings
from gitops_ml.synthetic import make_churn_table
from tests.support import SYNTHETIC

METRIC_NAMES = {"accuracy", "precision", "recall", "f1", "roc_auc", "average_precision", "log_loss"}


def test_evaluate_writes_metrics_predictions_plot_data_and_pngs(settings: Callable[..., Settings]) -> None:
    config = settings(**SYNTHETIC, evaluate={"curve_points": 50})
    paths.RAW_DATA.parent.mkdir(parents=True)
    make_churn_table(2_000, seed=4).to_parquet(paths.RAW_DATA)
    split.run(config)
    train.run(config)
    results = evaluate.run(config)

    assert json.loads(paths.METRICS.read_text()) == results
    assert set(results) == {"train", "test"}
    assert set(results["test"]) == METRIC_NAMES
    predictions = pd.read_csv(paths.PREDICTIONS)
    test = pd.read_parquet(paths.TEST_DATA)
    assert list(predictions.columns) == ["customer_id", "actual", "predicted", "probability"]
    assert predictions["customer_id"].tolist() == test["customer_id"].tolist()
    assert set(predictions["predicted"]) <= {"yes", "no"}
    recomputed = classification_metrics(predictions["actual"] == "yes", predictions["probability"], 0.5)
    assert recomputed["roc_auc"] == pytest.approx(results["test"]["roc_auc"], abs=1e-5)
    for name in ("roc", "precision_recall", "calibration"):
        assert 2 <= len(pd.read_csv(paths.PLOTS_DIR / f"{name}.csv")) <= 50
    for name in ("roc", "precision_recall", "calibration", "confusion_matrix"):
        assert (paths.PLOTS_DIR / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_metrics_of_a_known_case() -> None:
    values = classification_metrics([True, True, False, False], [0.9, 0.4, 0.6, 0.1], threshold=0.5)
    assert values["accuracy"] == 0.5
    assert values["precision"] == 0.5
    assert values["recall"] == 0.5
    assert values["roc_auc"] == 0.75
    assert values["log_loss"] == pytest.approx(-np.mean(np.log([0.9, 0.4, 0.4, 0.9])), abs=1e-6)


def test_thin_keeps_the_ends_and_caps_the_rows() -> None:
    table = pd.DataFrame({"x": range(1_000)})
    thinned = thin(table, 10)
    assert len(thinned) == 10
    assert thinned["x"].iloc[0] == 0 and thinned["x"].iloc[-1] == 999
    assert thin(table.head(5), 10).equals(table.head(5))
