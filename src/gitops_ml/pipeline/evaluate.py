"""Stage 5, evaluate: metrics on both splits, DVC plots with PNGs, and the test-set predictions."""

from __future__ import annotations

import joblib
import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from gitops_ml.core import paths
from gitops_ml.core.files import read_table, write_csv, write_json
from gitops_ml.core.lineage import file_md5
from gitops_ml.core.settings import Settings
from gitops_ml.quality.metrics import DECIMALS, classification_metrics
from gitops_ml.quality.plots import curve_tables, render_pngs


def run(settings: Settings) -> dict[str, dict[str, float]]:
    model: Pipeline = joblib.load(paths.MODEL)
    data, options = settings.data, settings.evaluate
    train, test = (read_table(path) for path in (paths.TRAIN_DATA, paths.TEST_DATA))
    scores = {"train": score(model, train, settings), "test": score(model, test, settings)}
    results = {name: classification_metrics(*scored, options.threshold) for name, scored in scores.items()}
    write_json(paths.METRICS, results)

    is_positive, probability = scores["test"]

    predictions = predictions_table(test, probability, settings)
    write_csv(paths.PREDICTIONS, predictions)
    tables = curve_tables(is_positive, probability, bins=options.calibration_bins, max_points=options.curve_points)
    for name, table in tables.items():
        write_csv(paths.PLOTS_DIR / f"{name}.csv", table)
    labels = [str(label) for label in data.classes]
    render_pngs(tables, predictions["actual"], predictions["predicted"], labels, paths.PLOTS_DIR)

    headline = results["test"]
    print(
        f"evaluate: test roc_auc {headline['roc_auc']:.4f}, f1 {headline['f1']:.4f}, "
        f"accuracy {headline['accuracy']:.4f} "
        f"-> {paths.METRICS}"
    )
    if settings.tracking.enabled:
        log_evaluation(settings, results)
    return results


def score(model: Pipeline, frame: pd.DataFrame, settings: Settings) -> tuple[np.ndarray, np.ndarray]:
    """Whether each row is the positive class, and the model's probability that it is."""
    probability = model.predict_proba(frame[list(model.feature_names_in_)])[:, 1]
    return (frame[settings.data.target] == settings.data.positive_class).to_numpy(), probability


def predictions_table(test: pd.DataFrame, probability: np.ndarray, settings: Settings) -> pd.DataFrame:
    """One row per test record: its ids (or position), actual and predicted labels, and the probability.

    The pull-request report pairs these rows with main's to compare the two models on the same records.
    """
    data = settings.data
    ids = test[list(data.id_columns)] if data.id_columns else pd.DataFrame({"row": range(len(test))})
    positive, negative = str(data.positive_class), str(data.negative_class)
    return ids.assign(
        actual=test[data.target].astype(str).to_numpy(),
        predicted=np.where(probability >= settings.evaluate.threshold, positive, negative),
        probability=probability.round(DECIMALS),
    )


def log_evaluation(settings: Settings, results: dict[str, dict[str, float]]) -> None:
    import mlflow

    from gitops_ml.core.tracking import model_run

    model_md5 = file_md5(paths.MODEL)
    with model_run(settings.tracking, model_md5, run_name=f"{settings.train.model}-{model_md5[:8]}", resume=True):
        for split_name, values in results.items():
            mlflow.log_metrics({f"{split_name}_{name}": value for name, value in values.items()})
        mlflow.log_artifact(str(paths.METRICS), artifact_path="evaluation")
        for png in sorted(paths.PLOTS_DIR.glob("*.png")):
            mlflow.log_artifact(str(png), artifact_path="evaluation/plots")
