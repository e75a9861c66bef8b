from __future__ import annotations

import json
from collections.abc import Callable

import pandas as pd
import pytest

from gitops_ml.core import paths
from gitops_ml.core.settings import Settings
from gitops_ml.pipeline import evaluate, ingest
from gitops_ml.pipeline.synthetic import make_customer_table
from gitops_ml.quality.compare import Predictions
from gitops_ml.quality.metrics import TASK_METRICS, Scored
from tests.support import SYNTHETIC, train_on

METRIC_NAMES = {"accuracy", "precision", "recall", "f1", "roc_auc", "average_precision", "log_loss"}


def test_evaluate_writes_metrics_predictions_plot_data_and_pngs(settings: Callable[..., Settings]) -> None:
    config = settings(**SYNTHETIC, evaluate={"curve_points": 50})
    train_on(config, make_customer_table(2_000, seed=4))
    results = evaluate.run(config)

    assert json.loads(paths.METRICS.read_text()) == results
    assert set(results) == {"train", "test"}
    assert set(results["test"]) == METRIC_NAMES
    predictions = pd.read_csv(paths.PREDICTIONS)
    test = pd.read_parquet(paths.TEST_DATA)
    assert list(predictions.columns) == ["customer_id", "actual", "predicted", "probability"]
    assert predictions["customer_id"].tolist() == test["customer_id"].tolist()
    assert set(predictions["predicted"]) <= {"yes", "no"}
    probability = predictions["probability"].to_numpy()
    recomputed = Scored(
        "binary", (predictions["actual"] == "yes").to_numpy(), probability >= 0.5, probability
    ).metrics()
    assert recomputed["roc_auc"] == pytest.approx(results["test"]["roc_auc"], abs=1e-5)
    for name in ("roc", "precision_recall", "calibration"):
        assert 2 <= len(pd.read_csv(paths.PLOTS_DIR / f"{name}.csv")) <= 50
    for name in ("roc", "precision_recall", "calibration", "confusion_matrix"):
        assert (paths.FIGURES_DIR / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    ("source", "columns", "figures"),
    [
        ("wine", ["actual", "predicted", "probability:class_0", "probability:class_1", "probability:class_2"],
         ["confusion_matrix.png", "roc_ovr.png"]),
        ("diabetes", ["actual_value", "predicted_value"], ["predicted_vs_actual.png"]),
    ],
)  # fmt: skip
def test_each_task_is_evaluated_by_its_own_metrics_and_plots(
    settings: Callable[..., Settings], source: str, columns: list[str], figures: list[str]
) -> None:
    config = settings(data={"source": source})
    raw = ingest.run(config)
    target = train_on(config, raw)
    results = evaluate.run(config)

    assert sorted(results["test"]) == sorted(TASK_METRICS[target.task])
    predictions = pd.read_csv(paths.PREDICTIONS)
    assert list(predictions.columns)[1:] == columns
    recomputed = Predictions.from_csv(paths.PREDICTIONS.read_text(), config.data.id_columns, target).metrics()
    assert recomputed == pytest.approx(results["test"], abs=1e-4)
    assert sorted(p.name for p in paths.FIGURES_DIR.iterdir()) == figures
