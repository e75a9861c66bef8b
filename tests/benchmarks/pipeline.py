"""Pipeline benchmark: install from the lock, full and no-op ``dvc repro``, and the synthetic source at scale.

Each figure comes from real commands in a fresh copy of the project. Per-stage figures run the
stage commands exactly as dvc.yaml does, with each process's own peak memory from ``wait4``.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import time
from pathlib import Path
from typing import Any

import yaml

from tests.support import ROOT, SYNTHETIC, copy_project, tool_env, write_params

STAGES = ("ingest", "validate", "split", "train", "evaluate", "package")
SCALES = (100_000, 1_000_000)
NOOP_ROUNDS = 5
TARGETS = {
    "noop_overhead_seconds": 0.5,
    "full_repro_seconds": 30.0,
    "million_rows_seconds": 300.0,
    "million_rows_mb": 4096,
}


def run(folder: Path) -> dict[str, Any]:
    folder.mkdir(parents=True)
    results: dict[str, Any] = {"targets": TARGETS, "install_seconds": install_seconds(folder)}
    project = copy_project(folder / "default")
    results["full_repro_seconds"] = timed(project, "dvc", "repro")
    results["noop"] = noop_against_status(project)
    results["synthetic"] = {str(rows): synthetic_run(folder / f"rows-{rows}", rows) for rows in SCALES}
    results["scaling"] = scaling(results["synthetic"])
    print_table(results)
    return results


def install_seconds(folder: Path) -> float:
    """uv sync --locked into an empty environment; the package cache is warm from ``make setup``."""
    uv = shutil.which("uv") or str(ROOT / ".tools" / "bin" / "uv")
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


def synthetic_run(folder: Path, rows: int) -> dict[str, Any]:
    project = copy_project(folder)
    overrides = yaml.safe_load(yaml.safe_dump(SYNTHETIC))
    overrides["data"]["synthetic"] = {"rows": rows, "seed": 0}
    write_params(project, **overrides, tracking={"enabled": True})
    stages = {stage: stage_usage(project, stage) for stage in STAGES}
    return {
        "stages": stages,
        "total_seconds": round(sum(s["seconds"] for s in stages.values()), 2),
        "peak_mb": max(s["peak_mb"] for s in stages.values()),
    }


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


def scaling(synthetic: dict[str, Any]) -> dict[str, float]:
    small, large = (synthetic[str(rows)] for rows in SCALES)
    extra_millions = (SCALES[1] - SCALES[0]) / 1e6
    return {
        "rows_ratio": SCALES[1] / SCALES[0],
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
    print(f"\n{'synthetic rows':<16}" + "".join(f"{stage:>15}" for stage in (*STAGES, "total")))
    for rows_count, run_result in results["synthetic"].items():
        cells = [f"{s['seconds']:.1f}s {s['peak_mb']}MB" for s in run_result["stages"].values()]
        cells.append(f"{run_result['total_seconds']:.1f}s {run_result['peak_mb']}MB")
        print(f"{int(rows_count):<16,}" + "".join(f"{cell:>15}" for cell in cells))
    scale = results["scaling"]
    print(
        f"\n{scale['rows_ratio']:.0f}x rows took {scale['time_ratio']}x time and {scale['memory_ratio']}x peak memory "
        f"(targets: 1M rows < 300 s and < 4096 MB);\n"
        f"each further million rows costs {scale['marginal_seconds_per_million_rows']} s"
    )
