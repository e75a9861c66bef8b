"""Drift report: current (production) data against the training data, with Evidently.

``python -m gitops_ml monitor --current <prediction log, folder of logs, CSV or Parquet>`` checks each
feature with a drift test suited to its kind, the predicted probabilities, and the current data's
quality (missing values, categories never seen in training). It writes ``drift.html`` (Evidently),
``drift.json`` and ``drift.md`` and exits 1 when the drift crosses ``params.yaml``'s thresholds.

Evidently takes seconds to import, so only this command loads it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd

from gitops_ml.core import paths
from gitops_ml.core.errors import DataError
from gitops_ml.core.features import feature_types
from gitops_ml.core.files import read_table, write_json, write_text, write_with
from gitops_ml.core.markdown import code, table
from gitops_ml.core.settings import FeatureType, MonitorSettings, Settings
from gitops_ml.core.target import Target, recorded
from gitops_ml.serving import prediction_log
from gitops_ml.serving.prediction_log import LABEL_FIELD, PROBABILITY_FIELD, VALUE_FIELD

# The prediction whose drift is tested, by task: the log's column and its kind.
PREDICTION: dict[str, tuple[str, FeatureType]] = {
    "binary": (PROBABILITY_FIELD, "numeric"),
    "multiclass": (LABEL_FIELD, "categorical"),
    "regression": (VALUE_FIELD, "numeric"),
}
PREDICTION_NAMES = {
    PROBABILITY_FIELD: "predicted probability",
    LABEL_FIELD: "predicted class",
    VALUE_FIELD: "predicted value",
}

LOG_SUFFIX = ".jsonl"
SAMPLES_SHOWN = 3


def run(settings: Settings, reference_path: Path, current_path: Path, out: Path) -> dict[str, Any]:
    """Write the drift report under ``out`` and return its summary (``summary["drift"]`` is the verdict)."""
    raw_reference = read_table(reference_path)
    types = feature_types(raw_reference, settings.data)
    reference = conform(raw_reference, types, reference_path)
    current = conform(read_current(current_path, settings.data.missing_values), types, current_path)
    if len(current) < settings.monitor.min_rows:
        raise DataError(
            f"{current_path}: {len(current)} rows; at least {settings.monitor.min_rows} are needed to judge drift "
            "(monitor.min_rows in params.yaml)"
        )
    if not paths.MODEL.is_file():
        raise DataError(f"{paths.MODEL}: no model to score the data with; run `make repro` or `dvc pull` first")
    model, target = joblib.load(paths.MODEL), recorded()
    features = list(types)
    column, kind = PREDICTION[target.task]
    reference_scored = reference[features].assign(**{column: predictions(model, reference[features], target)})
    logged = column in current.columns and current[column].notna().all()
    current_predictions = current[column] if logged else predictions(model, current[features], target)
    if kind == "categorical":
        current_predictions = pd.Series(current_predictions, index=current.index).astype(str)
    current_scored = current[features].assign(**{column: current_predictions})

    snapshot = evidently_report(reference_scored, current_scored, types, settings.monitor, (column, kind))
    summary = summarize(snapshot.dict(), types, settings.monitor, column)
    summary["prediction"] |= {
        "column": column,
        "kind": kind,
        "source": "logged by the service" if logged else "recomputed with models/model.joblib",
        **prediction_shift(reference_scored[column], current_scored[column], target, settings.evaluate.threshold),
    }
    summary["quality"] = quality(reference, current, types)
    summary["data"] = {
        "reference": {"path": str(reference_path), "rows": len(reference)},
        "current": {"path": str(current_path), "rows": len(current)},
    }

    outputs = paths.DriftReport.under(out)
    write_with(outputs.html, lambda tmp: snapshot.save_html(str(tmp)))
    write_json(outputs.json, summary)
    markdown = render_markdown(summary)
    write_text(outputs.markdown, markdown)
    print(markdown)
    return summary


def read_current(path: Path, missing_values: Sequence[str] | None = None) -> pd.DataFrame:
    """A prediction log (JSON lines), a folder of them with their rotated files, or a CSV/Parquet table
    (``missing_values``: the texts that mark a missing value in a CSV)."""
    if path.is_dir():
        files = sorted(f for f in path.rglob("*") if f.is_file() and _is_table(f))
        if not files:
            raise DataError(f"{path}: no prediction logs (*.jsonl, *.jsonl.N), CSV or Parquet files in this folder")
        return pd.concat([read_current(f, missing_values) for f in files], ignore_index=True)
    if not _is_log(path):
        return read_table(path, missing_values)
    if not path.is_file():
        raise DataError(f"{path}: file does not exist")
    try:
        return prediction_log.read(path)
    except ValueError as exc:
        raise DataError(f"{path}: cannot be read as a prediction log: {str(exc).splitlines()[0]}") from exc


def _is_log(path: Path) -> bool:
    # The log rotates to predictions.jsonl.1, .2, ... beside the live file.
    return path.suffix == LOG_SUFFIX or (Path(path.stem).suffix == LOG_SUFFIX and path.suffix[1:].isdigit())


def _is_table(path: Path) -> bool:
    return _is_log(path) or path.suffix.lower() in (".csv", ".parquet")


def conform(current: pd.DataFrame, types: dict[str, FeatureType], source: Path) -> pd.DataFrame:
    """The current data with the training features' types, or a DataError naming every column that is off."""
    problems = [f"column {name!r} ({kind}) is missing" for name, kind in types.items() if name not in current]
    conformed = current.copy()
    for name, kind in types.items():
        if name not in current:
            continue
        values = current[name]
        if kind == "numeric" and pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
            conformed[name] = values.astype(float)
        elif kind == "numeric":
            numbers = pd.to_numeric(values, errors="coerce")  # a CSV column with one typo is read as text
            wrong = values[values.notna() & numbers.isna()]
            if len(wrong):
                shown = ", ".join(repr(v) for v in wrong.unique()[:SAMPLES_SHOWN])
                problems.append(f"column {name!r} should be numeric; {len(wrong)} values are not, e.g. {shown}")
            conformed[name] = numbers.astype(float)
        else:
            # Training stores categorical columns as text; a log may hold an integer-coded category.
            conformed[name] = values.astype(str).where(values.notna(), np.nan)
    if problems:
        raise DataError(f"{source}: the data does not match the training features: " + "; ".join(problems))
    return conformed


def predictions(model: Any, features: pd.DataFrame, target: Target) -> np.ndarray:
    """The model's prediction as the service logs it: the positive class's probability, the label, or the value."""
    if target.task == "regression":
        return np.asarray(model.predict(features), dtype=float)
    probabilities = model.predict_proba(features)
    if target.task == "binary":
        return np.asarray(probabilities[:, 1], dtype=float)
    labels = np.asarray([str(label) for label in target.classes], dtype=object)
    return np.asarray(labels[np.asarray(probabilities).argmax(axis=1)])


def evidently_report(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    types: dict[str, FeatureType],
    monitor: MonitorSettings,
    prediction: tuple[str, FeatureType],
) -> Any:
    from evidently import DataDefinition, Dataset, Report
    from evidently.metrics import ValueDrift
    from evidently.presets import DataDriftPreset

    column, kind = prediction
    kinds = {**types, column: kind}
    definition = DataDefinition(
        numerical_columns=[c for c, k in kinds.items() if k == "numeric"],
        categorical_columns=[c for c, k in kinds.items() if k == "categorical"],
    )
    method, threshold = (
        (monitor.numeric_test, monitor.numeric_threshold)
        if kind == "numeric"
        else (monitor.categorical_test, monitor.categorical_threshold)
    )
    report = Report(
        [
            DataDriftPreset(
                columns=list(types),
                drift_share=monitor.drift_share,
                num_method=monitor.numeric_test,
                cat_method=monitor.categorical_test,
                num_threshold=monitor.numeric_threshold,
                cat_threshold=monitor.categorical_threshold,
            ),
            ValueDrift(column=column, method=method, threshold=threshold),
        ],
        include_tests=True,
    )
    return report.run(
        Dataset.from_pandas(current, data_definition=definition),
        Dataset.from_pandas(reference, data_definition=definition),
    )


def summarize(
    snapshot: dict[str, Any], types: dict[str, FeatureType], monitor: MonitorSettings, prediction_column: str
) -> dict[str, Any]:
    """Per-column drift from Evidently's tests (a failed drift test is a drifted column), then the verdicts."""
    scores = {metric["id"]: metric["value"] for metric in snapshot["metrics"]}
    columns: dict[str, dict[str, Any]] = {}
    for test in snapshot["tests"]:
        params = test["metric_config"]["params"]
        if params["type"].endswith(":ValueDrift"):
            columns[params["column"]] = {
                "test": params["method"],
                "score": float(scores[test["metric_config"]["metric_id"]]),
                "threshold": params["threshold"],
                "drifted": test["status"] == "FAIL",
            }
    missing = [c for c in [*types, prediction_column] if c not in columns]
    if missing:
        raise RuntimeError(f"Evidently reported no drift test for {missing}")
    drifted = [name for name in types if columns[name]["drifted"]]
    share = len(drifted) / len(types)
    prediction = columns[prediction_column]
    dataset_drift = share >= monitor.drift_share
    return {
        "drift": dataset_drift or (monitor.prediction_drift_alerts and prediction["drifted"]),
        "dataset": {"drifted": dataset_drift, "share": round(share, 4), "threshold": monitor.drift_share},
        "drifted_features": drifted,
        "features": {name: {"kind": types[name], **columns[name]} for name in types},
        "prediction": dict(prediction),
    }


def prediction_shift(reference: pd.Series, current: pd.Series, target: Target, threshold: float) -> dict[str, Any]:
    """The predictions in training and now: the mean and the positive share (binary), the share of each
    class (multiclass), the mean and spread (regression)."""
    if target.task == "multiclass":
        classes = [str(label) for label in target.classes]
        shares = {
            side: {label: round(float((values == label).mean()), 4) for label in classes}
            for side, values in (("reference", reference), ("current", current))
        }
        return {"reference_class_shares": shares["reference"], "current_class_shares": shares["current"]}
    found: dict[str, Any] = {
        f"{side}_mean": round(float(values.mean()), 4)
        for side, values in (("reference", reference), ("current", current))
    }
    if target.task == "binary":
        found |= {
            f"{side}_positive_share": round(float((values >= threshold).mean()), 4)
            for side, values in (("reference", reference), ("current", current))
        }
    else:
        found |= {
            f"{side}_std": round(float(values.std()), 4)
            for side, values in (("reference", reference), ("current", current))
        }
    return found


def quality(reference: pd.DataFrame, current: pd.DataFrame, types: dict[str, FeatureType]) -> dict[str, Any]:
    """Missing shares beside the training data's, and categories the model never saw in training."""
    missing = {
        name: {
            "reference": round(float(reference[name].isna().mean()), 4),
            "current": round(float(current[name].isna().mean()), 4),
        }
        for name in types
    }
    new_categories = {}
    for name, kind in types.items():
        if kind == "categorical":
            seen = set(reference[name].dropna().astype(str))
            unseen = current[name].dropna()
            unseen = unseen[~unseen.isin(seen)]
            if len(unseen):
                new_categories[name] = {
                    "values": sorted(unseen.unique().tolist())[:10],
                    "share": round(len(unseen) / len(current), 4),
                }
    return {"missing": missing, "new_categories": new_categories}


def render_markdown(summary: dict[str, Any]) -> str:
    dataset, prediction, data = summary["dataset"], summary["prediction"], summary["data"]
    verdict = "**Drift detected**" if summary["drift"] else "**No drift**"
    drifted = ", ".join(code(name) for name in summary["drifted_features"]) or "none"
    lines = [
        f"## {verdict}: {len(summary['drifted_features'])} of {len(summary['features'])} features drifted "
        f"(share {dataset['share']:.2f}, threshold {dataset['threshold']:.2f}); "
        f"predictions {'shifted' if prediction['drifted'] else 'stable'}",
        "",
        f"Current: {code(data['current']['path'])}, {data['current']['rows']:,} rows. "
        f"Reference: {code(data['reference']['path'])}, {data['reference']['rows']:,} rows.",
        "",
        f"Drifted features: {drifted}.",
        "",
    ]
    ordered = sorted(summary["features"].items(), key=lambda item: not item[1]["drifted"])
    rows = [
        [
            code(name),
            column["kind"],
            column["test"],
            f"{column['score']:.4g}",
            f"{column['threshold']:.4g}",
            "**yes**" if column["drifted"] else "no",
        ]
        for name, column in [*ordered, (PREDICTION_NAMES[prediction["column"]], {**prediction, "kind": "prediction"})]
    ]
    lines.append(table(["column", "kind", "test", "score", "threshold", "drift"], rows, align="lllrrl"))
    lines += ["", _prediction_line(prediction)]
    lines += _quality_lines(summary["quality"])
    return "\n".join(lines) + "\n"


def _prediction_line(prediction: dict[str, Any]) -> str:
    where = f"{PREDICTION_NAMES[prediction['column']].capitalize()} ({prediction['source']})"
    if "reference_class_shares" in prediction:
        before, now = prediction["reference_class_shares"], prediction["current_class_shares"]
        shares = "; ".join(
            f"{code(label, 60)} {before[label]:.1%} in training, {now[label]:.1%} now" for label in before
        )
        return f"{where}: {shares}."
    line = f"{where}: mean {prediction['reference_mean']:.4g} in training, {prediction['current_mean']:.4g} now"
    if "reference_positive_share" in prediction:
        line += (
            f"; predicted positive {prediction['reference_positive_share']:.1%} in training, "
            f"{prediction['current_positive_share']:.1%} now"
        )
    else:
        line += f"; spread (std) {prediction['reference_std']:.4g} in training, {prediction['current_std']:.4g} now"
    return line + "."


def _quality_lines(found: dict[str, Any]) -> list[str]:
    lines = ["", "Data quality of the current data:"]
    grown = {n: m for n, m in found["missing"].items() if m["current"] > m["reference"]}
    for name, share in grown.items():
        lines.append(f"- {code(name)}: {share['current']:.1%} missing (training: {share['reference']:.1%})")
    for name, new in found["new_categories"].items():
        # Category values come from API traffic: shown as code, so the issue cannot mention, link or embed.
        values = ", ".join(code(json.dumps(v), 60) for v in new["values"])
        lines.append(f"- {code(name)}: categories never seen in training ({new['share']:.1%} of rows): {values}")
    if len(lines) == 2:
        lines.append("- no more missing values than in training, and no new categories")
    return lines
