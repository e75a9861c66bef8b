from __future__ import annotations

import json
from collections.abc import Callable

import pandas as pd
import pytest

from gitops_ml.core import paths
from gitops_ml.core.settings import Settings
from gitops_ml.pipeline import evaluate, split, train
from gitops_ml.pipeline.synthetic import make_churn_table
from gitops_ml.quality.metrics import classification_metrics
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
