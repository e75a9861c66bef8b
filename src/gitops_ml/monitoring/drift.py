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
from gitops_ml.serving import prediction_log
from gitops_ml.serving.prediction_log import PROBABILITY_FIELD as PROBABILITY

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
    model = joblib.load(paths.MODEL)
    features = list(types)
    reference_scored = reference[features].assign(**{PROBABILITY: model.predict_proba(reference[features])[:, 1]})
    logged = PROBABILITY in current.columns and current[PROBABILITY].notna().all()
    current_scored = current[features].assign(
        **{PROBABILITY: current[PROBABILITY] if logged else model.predict_proba(current[features])[:, 1]}
    )

    snapshot = evidently_report(reference_scored, current_scored, types, settings.monitor)
    summary = summarize(snapshot.dict(), types, settings.monitor)
    summary["prediction"] |= {
        "source": "logged by the service" if logged else "recomputed with models/model.joblib",
        **shares_above(reference_scored[PROBABILITY], current_scored[PROBABILITY], settings.evaluate.threshold),
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


def evidently_report(
    reference: pd.DataFrame, current: pd.DataFrame, types: dict[str, FeatureType], monitor: MonitorSettings
) -> Any:
    from evidently import DataDefinition, Dataset, Report
    from evidently.metrics import ValueDrift
    from evidently.presets import DataDriftPreset

    definition = DataDefinition(
        numerical_columns=[c for c, k in types.items() if k == "numeric"] + [PROBABILITY],
        categorical_columns=[c for c, k in types.items() if k == "categorical"],
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
            ValueDrift(column=PROBABILITY, method=monitor.numeric_test, threshold=monitor.numeric_threshold),
        ],
        include_tests=True,
    )
    return report.run(
        Dataset.from_pandas(current, data_definition=definition),
        Dataset.from_pandas(reference, data_definition=definition),
    )


def summarize(snapshot: dict[str, Any], types: dict[str, FeatureType], monitor: MonitorSettings) -> dict[str, Any]:
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
    missing = [c for c in [*types, PROBABILITY] if c not in columns]
    if missing:
        raise RuntimeError(f"Evidently reported no drift test for {missing}")
    drifted = [name for name in types if columns[name]["drifted"]]
    share = len(drifted) / len(types)
    prediction = columns[PROBABILITY]
    dataset_drift = share >= monitor.drift_share
    return {
        "drift": dataset_drift or (monitor.prediction_drift_alerts and prediction["drifted"]),
        "dataset": {"drifted": dataset_drift, "share": round(share, 4), "threshold": monitor.drift_share},
        "drifted_features": drifted,
        "features": {name: {"kind": types[name], **columns[name]} for name in types},
        "prediction": dict(prediction),
    }


def shares_above(reference: pd.Series, current: pd.Series, threshold: float) -> dict[str, float]:
    return {
        "reference_mean_probability": round(float(reference.mean()), 4),
        "current_mean_probability": round(float(current.mean()), 4),
        "reference_positive_share": round(float((reference >= threshold).mean()), 4),
        "current_positive_share": round(float((current >= threshold).mean()), 4),
    }


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
        for name, column in [*ordered, ("predicted probability", {"kind": "prediction", **prediction})]
    ]
    lines.append(table(["column", "kind", "test", "score", "threshold", "drift"], rows, align="lllrrl"))
    lines += [
        "",
        f"Predicted probabilities ({prediction['source']}): mean {prediction['reference_mean_probability']:.3f} in "
        f"training, {prediction['current_mean_probability']:.3f} now; predicted positive "
        f"{prediction['reference_positive_share']:.1%} in training, {prediction['current_positive_share']:.1%} now.",
    ]
    lines += _quality_lines(summary["quality"])
    return "\n".join(lines) + "\n"


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
