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
from gitops_ml.core.target import PROBABILITY_PREFIX, Target, recorded
from gitops_ml.quality.metrics import DECIMALS, Scored, score
from gitops_ml.quality.plots import curve_tables, render_pngs


def run(settings: Settings) -> dict[str, dict[str, float]]:
    model: Pipeline = joblib.load(paths.MODEL)
    target, options = recorded(), settings.evaluate
    # One split in memory at a time: the training set can be many times the test set.
    results = {"train": score_table(model, read_table(paths.TRAIN_DATA), target, settings).metrics()}
    test = read_table(paths.TEST_DATA)
    tested = score_table(model, test, target, settings)
    results["test"] = tested.metrics()
    write_json(paths.METRICS, results)
    write_csv(paths.PREDICTIONS, predictions_table(test, tested, target, settings))
    tables = curve_tables(tested, target.classes, bins=options.calibration_bins, max_points=options.curve_points)
    for name, table in tables.items():
        write_csv(paths.PLOTS_DIR / f"{name}.csv", table)
    render_pngs(tested, tables, target.classes, paths.FIGURES_DIR)

    headline = ", ".join(f"{name} {results['test'][name]:.4f}" for name in settings.compare.listed(target.task)[:3])
    print(f"evaluate: {target.task}, test {headline} -> {paths.METRICS}")
    if settings.tracking.enabled:
        log_evaluation(settings, results)
    return results


def score_table(model: Pipeline, frame: pd.DataFrame, target: Target, settings: Settings) -> Scored:
    features = frame[list(model.feature_names_in_)]
    return score(model, features, target.encode(frame[settings.data.target]), target, settings.evaluate.threshold)


def predictions_table(test: pd.DataFrame, scored: Scored, target: Target, settings: Settings) -> pd.DataFrame:
    """One row per test record: its ids (or position), then what the pull-request report pairs with
    main's to compare the two models on the same records (``quality.compare.Predictions.from_csv``):

    - binary: actual and predicted labels, and the positive class's ``probability``;
    - multiclass: actual and predicted labels, and one ``probability:<class>`` column per class;
    - regression: ``actual_value`` and ``predicted_value``.
    """
    data = settings.data
    ids = test[list(data.id_columns)] if data.id_columns else pd.DataFrame({"row": range(len(test))})
    if target.task == "regression":
        return ids.assign(actual_value=scored.actual, predicted_value=scored.predicted.round(DECIMALS))
    labels = np.array([str(label) for label in target.classes], dtype=object)
    if target.task == "binary":
        predicted, actual = labels[scored.predicted.astype(int)], labels[scored.actual.astype(int)]
        return ids.assign(actual=actual, predicted=predicted, probability=scored.scores.round(DECIMALS))
    probabilities = {
        f"{PROBABILITY_PREFIX}{label}": scored.scores[:, i].round(DECIMALS) for i, label in enumerate(labels)
    }
    return ids.assign(actual=labels[scored.actual], predicted=labels[scored.predicted], **probabilities)


def log_evaluation(settings: Settings, results: dict[str, dict[str, float]]) -> None:
    import mlflow

    from gitops_ml.core.tracking import model_run

    model_md5 = file_md5(paths.MODEL)
    with model_run(settings.tracking, model_md5, run_name=f"{settings.train.model}-{model_md5[:8]}", resume=True):
        for split_name, values in results.items():
            mlflow.log_metrics({f"{split_name}_{name}": value for name, value in values.items()})
        mlflow.log_artifact(str(paths.METRICS), artifact_path="evaluation")
        for png in sorted(paths.FIGURES_DIR.glob("*.png")):
            mlflow.log_artifact(str(png), artifact_path="evaluation/figures")
