"""Pipeline benchmark: install from the lock, full and no-op ``dvc repro``, and the synthetic source at scale.

Each figure comes from real commands in a fresh copy of the project. Per-stage figures run the
stage commands exactly as dvc.yaml does, with each process's own peak memory from ``wait4``. The
synthetic table has the same rows for every task (only its target differs), so the per-task runs
compare the tasks, and the large regression run shows how time and memory grow with rows. Each
run ends with the pull-request report of a training-parameter change against its own results.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import time
from pathlib import Path
from typing import Any

import yaml

from tests.support import ROOT, SYNTHETIC, copy_project, edit_params, git, host_uv, tool_env, write_params

STAGES = ("ingest", "validate", "split", "train", "evaluate", "package")
TASKS = ("binary", "multiclass", "regression")
TASK_ROWS = 1_000_000
LARGE_RUN = ("regression", 10_000_000)
NOOP_ROUNDS = 5
TARGETS = {
    "noop_overhead_seconds": 0.5,
    "full_repro_seconds": 30.0,
    "large_run_seconds": 300.0,
    "large_run_mb": 4096,
}


def run(folder: Path) -> dict[str, Any]:
    folder.mkdir(parents=True)
    results: dict[str, Any] = {"targets": TARGETS, "install_seconds": install_seconds(folder)}
    project = copy_project(folder / "default")
    results["full_repro_seconds"] = timed(project, "dvc", "repro")
    results["noop"] = noop_against_status(project)
    runs = [(task, TASK_ROWS) for task in TASKS] + [LARGE_RUN]
    results["synthetic"] = [synthetic_run(folder / f"{task}-{rows}", task, rows) for task, rows in runs]
    results["scaling"] = scaling(results["synthetic"])
    print_table(results)
    return results


def install_seconds(folder: Path) -> float:
    """uv sync --locked into an empty environment; the package cache is warm from ``make setup``."""
    uv = host_uv()
    env = {**os.environ, "UV_PROJECT_ENVIRONMENT": str(folder / "venv")}
    start = time.perf_counter()
    subprocess.run([uv, "sync", "--locked", "--quiet"], cwd=ROOT, env=env, check=True)
    return round(time.perf_counter() - start, 2)


def timed(project: Path, *command: str) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=project, env=tool_env(project), check=True, capture_output=True)
    return round(time.perf_counter() - start, 3)


def noop_against_status(project: Path) -> dict[str, float]:
    """Medians of interleaved rounds, so both commands see the same machine load."""
    repro, status = [], []
    for _ in range(NOOP_ROUNDS):
        repro.append(timed(project, "dvc", "repro"))
        status.append(timed(project, "dvc", "status", "dvc.yaml"))
    medians = {"repro_seconds": statistics.median(repro), "status_seconds": statistics.median(status)}
    return {**medians, "overhead_seconds": round(medians["repro_seconds"] - medians["status_seconds"], 3)}


def synthetic_run(folder: Path, task: str, rows: int) -> dict[str, Any]:
    project = copy_project(folder)
    overrides = yaml.safe_load(yaml.safe_dump(SYNTHETIC))
    overrides["data"] |= {"task": task, "synthetic": {"rows": rows, "seed": 0}}
    write_params(project, **overrides, tracking={"enabled": True})
    stages = {stage: stage_usage(project, stage) for stage in STAGES}
    return {
        "task": task,
        "rows": rows,
        "stages": stages,
        "total_seconds": round(sum(s["seconds"] for s in stages.values()), 2),
        "peak_mb": max(s["peak_mb"] for s in stages.values()),
        "report": report_usage(project),
    }


def report_usage(project: Path) -> dict[str, float]:
    """The report of a pull request that changes C: main holds the results above, the branch retrains."""
    git(project, "add", "params.yaml", "reports")
    git(project, "commit", "-q", "-m", "results")
    git(project, "checkout", "-q", "-b", "change-c")
    edit_params(project / "params.yaml", {"train.linear.C": 0.5})
    for stage in ("train", "evaluate"):
        stage_usage(project, stage)
    return stage_usage(project, "report", "--base", "main", "--out", "reports/pr")


def stage_usage(project: Path, stage: str, *args: str) -> dict[str, float]:
    """Wall time and peak memory of ``python -m gitops_ml <stage> <args>``, which must succeed."""
    start = time.perf_counter()
    process = subprocess.Popen(
        ["python", "-m", "gitops_ml", stage, *args], cwd=project, env=tool_env(project), stdout=subprocess.DEVNULL
    )
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        raise RuntimeError(f"{stage} failed with exit code {process.returncode}")
    return {"seconds": round(time.perf_counter() - start, 2), "peak_mb": round(usage.ru_maxrss / 1024)}


def scaling(synthetic: list[dict[str, Any]]) -> dict[str, float]:
    """The large run against the same task's run at TASK_ROWS."""
    task, rows = LARGE_RUN
    small = next(run for run in synthetic if (run["task"], run["rows"]) == (task, TASK_ROWS))
    large = next(run for run in synthetic if (run["task"], run["rows"]) == LARGE_RUN)
    extra_millions = (rows - TASK_ROWS) / 1e6
    return {
        "rows_ratio": rows / TASK_ROWS,
        # Start-up (imports, MLflow store) dominates small runs; this is what each further row costs.
        "marginal_seconds_per_million_rows": round(
            (large["total_seconds"] - small["total_seconds"]) / extra_millions, 1
        ),
        "time_ratio": round(large["total_seconds"] / small["total_seconds"], 2),
        "memory_ratio": round(large["peak_mb"] / small["peak_mb"], 2),
    }


def print_table(results: dict[str, Any]) -> None:
    noop = results["noop"]
    print("\nPipeline benchmark")
    print(f"{'measure':<44}{'value':>12}{'target':>12}")
    rows = [
        ("install from uv.lock into a fresh venv (s)", results["install_seconds"], ""),
        ("full dvc repro, default data (s)", results["full_repro_seconds"], "< 30"),
        ("no-op dvc repro, median (s)", noop["repro_seconds"], ""),
        ("dvc status, median (s)", noop["status_seconds"], ""),
        ("no-op repro minus dvc status (s)", noop["overhead_seconds"], "<= 0.5"),
    ]
    for label, value, target in rows:
        print(f"{label:<44}{value:>12}{target:>12}")
    print(f"\n{'synthetic task, rows':<24}" + "".join(f"{stage:>15}" for stage in (*STAGES, "total", "PR report")))
    for run_result in results["synthetic"]:
        cells = [f"{s['seconds']:.1f}s {s['peak_mb']}MB" for s in run_result["stages"].values()]
        cells.append(f"{run_result['total_seconds']:.1f}s {run_result['peak_mb']}MB")
        cells.append(f"{run_result['report']['seconds']:.1f}s {run_result['report']['peak_mb']}MB")
        print(f"{run_result['task'] + ', ' + format(run_result['rows'], ','):<24}" + "".join(f"{c:>15}" for c in cells))
    scale, (task, rows) = results["scaling"], LARGE_RUN
    large = results["synthetic"][-1]
    print(
        f"\n{task}: {scale['rows_ratio']:.0f}x rows took {scale['time_ratio']}x time and {scale['memory_ratio']}x peak "
        f"memory; each further million rows costs {scale['marginal_seconds_per_million_rows']} s\n"
        f"{rows:,} rows: {large['total_seconds']:.0f} s and {large['peak_mb']} MB at most "
        f"(targets: < {TARGETS['large_run_seconds']:.0f} s and < {TARGETS['large_run_mb']} MB)"
    )
