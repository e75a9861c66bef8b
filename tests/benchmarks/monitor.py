"""Drift-report benchmark: ``monitor`` on a day of prediction logs, small and large.

A fresh copy of the project trains on the synthetic churn table; fresh draws of the same table,
scored by the model and written as the service's prediction log, are the current data (no drift).
Evidently's import alone is timed too: it is most of a small report.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Any

import joblib
import pandas as pd

from gitops_ml.core import paths
from gitops_ml.pipeline.synthetic import make_customer_table
from gitops_ml.serving.prediction_log import PredictionLog
from tests.benchmarks.pipeline import stage_usage
from tests.support import SYNTHETIC, copy_project, merge, tool_env, write_params

TRAINING_ROWS = 20_000
LOGGED_ROWS = (10_000, 200_000)


def run(folder: Path) -> dict[str, Any]:
    project = copy_project(folder / "project")
    write_params(project, **merge(SYNTHETIC, {"data": {"synthetic": {"rows": TRAINING_ROWS, "seed": 0}}}))
    subprocess.run(["dvc", "repro"], cwd=project, env=tool_env(project), check=True, capture_output=True)
    results: dict[str, Any] = {"training_rows": TRAINING_ROWS, "import_seconds": import_seconds(project)}
    for rows in LOGGED_ROWS:
        log = write_log(project, rows)
        results[str(rows)] = stage_usage(project, "monitor", "--current", str(log), "--out", f"reports/m{rows}")
    print_table(results)
    return results


def write_log(project: Path, rows: int) -> Path:
    frame = make_customer_table(rows, seed=rows).drop(columns=["customer_id", "churned"])
    model = joblib.load(project / paths.MODEL)
    frame["prediction_probability"] = model.predict_proba(frame)[:, 1].round(6)
    log = project / "logs" / str(rows) / "predictions.jsonl"
    dropped: list[int] = []
    writer = PredictionLog(log, max_bytes=0, backups=0, on_dropped=dropped.append)
    for start in range(0, rows, 1_000):  # as the service writes it: one model call's columns per line
        chunk = frame.iloc[start : start + 1_000]
        writer.add(
            {
                name: values.to_numpy(dtype=float)
                if pd.api.types.is_numeric_dtype(values)
                else values.astype(object).where(values.notna(), None).tolist()
                for name, values in chunk.items()
            }
        )
    writer.close()
    assert not dropped, f"{sum(dropped)} records not logged"
    return log


def import_seconds(project: Path) -> float:
    start = time.perf_counter()
    command = ["python", "-c", "import evidently.presets, evidently.metrics"]
    subprocess.run(command, cwd=project, env=tool_env(project), check=True)
    return round(time.perf_counter() - start, 2)


def print_table(results: dict[str, Any]) -> None:
    print(f"\nDrift report (monitor), reference: {results['training_rows'] * 4 // 5:,} training rows")
    print(f"{'logged rows':<14}{'seconds':>10}{'peak MB':>10}")
    for rows in LOGGED_ROWS:
        print(f"{rows:<14,}{results[str(rows)]['seconds']:>10}{results[str(rows)]['peak_mb']:>10}")
    print(f"importing Evidently alone: {results['import_seconds']} s")
