"""Team-scale benchmark, on ``make team-stack``'s real servers: DVC push and pull to the S3 store, and the
cost of tracking on the team's MLflow server (PostgreSQL, S3 artifacts, tokens) against a local SQLite file.

Transfers: the pipeline reproduced on 1M synthetic rows, then ``dvc push --run-cache`` of its data,
split and model with the write key, and ``dvc pull`` into a fresh clone with the read-only key. The
store is moto's on loopback, so the figures are DVC's and the store's own cost, with no network.
Tracking: the two tracked stages (train, evaluate) on the default data, interleaved rounds with each
store, so both see the same machine load; the ratio of their medians is the team setup's overhead.
"""

from __future__ import annotations

import statistics
import subprocess
import time
from pathlib import Path
from typing import Any

import yaml

from gitops_ml.team import stack
from tests.support import SYNTHETIC, copy_project, git, tool_env, write_params

ROWS = 1_000_000
TRACKING_ROUNDS = 5
TRACKED_STAGES = ("train", "evaluate")


def run(folder: Path) -> dict[str, Any]:
    folder.mkdir(parents=True)
    with stack.team_stack(folder / "stack") as team:
        results = {"transfer": transfer(folder, team), "tracking": tracking_overhead(folder, team)}
    print_table(results)
    return results


def command(project: Path, *args: str, env: dict[str, str] | None = None) -> float:
    """Seconds ``args`` took in ``project``, which must succeed."""
    start = time.perf_counter()
    done = subprocess.run(args, cwd=project, env=tool_env(project) | (env or {}), capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"{' '.join(args)} failed: {done.stderr[-2000:]}")
    return time.perf_counter() - start


def transfer(folder: Path, team: stack.Stack) -> dict[str, Any]:
    project = copy_project(folder / "laptop")
    overrides = yaml.safe_load(yaml.safe_dump(SYNTHETIC))
    overrides["data"] |= {"synthetic": {"rows": ROWS, "seed": 0}}
    write_params(project, **overrides)
    command(project, "dvc", "repro")
    command(project, "dvc", "remote", "add", "-d", "team", stack.DVC_REMOTE)
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "1M rows")
    endpoint = {"AWS_ENDPOINT_URL_S3": team.s3.endpoint}
    size = sum(path.stat().st_size for path in (project / ".dvc" / "cache").rglob("*") if path.is_file())
    pushed = command(project, "dvc", "push", "--run-cache", env=team.s3.keys["dvc-write"].env() | endpoint)
    clone = folder / "clone"
    subprocess.run(["git", "clone", "-q", str(project), str(clone)], check=True)
    pulled = command(clone, "dvc", "pull", "--run-cache", env=team.s3.keys["dvc-read"].env() | endpoint)
    megabytes = size / 1e6
    return {
        "rows": ROWS,
        "megabytes": round(megabytes, 1),
        "push_seconds": round(pushed, 2),
        "push_mb_per_second": round(megabytes / pushed, 1),
        "pull_seconds": round(pulled, 2),
        "pull_mb_per_second": round(megabytes / pulled, 1),
    }


def tracking_overhead(folder: Path, team: stack.Stack) -> dict[str, Any]:
    project = copy_project(folder / "tracked")
    command(project, "dvc", "repro")
    stores = {"sqlite": {}, "team_server": team.tracking.env()}
    seconds: dict[str, list[float]] = {name: [] for name in stores}
    for _ in range(TRACKING_ROUNDS):
        for name, env in stores.items():
            seconds[name].append(sum(command(project, "python", "-m", "gitops_ml", s, env=env) for s in TRACKED_STAGES))
    medians = {name: round(statistics.median(values), 2) for name, values in seconds.items()}
    return {
        "stages": list(TRACKED_STAGES),
        "rounds": TRACKING_ROUNDS,
        "sqlite_seconds": medians["sqlite"],
        "team_server_seconds": medians["team_server"],
        "ratio": round(medians["team_server"] / medians["sqlite"], 2),
    }


def print_table(results: dict[str, Any]) -> None:
    moved, tracked = results["transfer"], results["tracking"]
    print("\nTeam benchmark (make team-stack's servers on this machine)")
    print(f"{'measure':<60}{'seconds':>10}{'MB/s':>8}")
    pushed = f"dvc push --run-cache, {moved['rows']:,} rows + model ({moved['megabytes']} MB)"
    print(f"{pushed:<60}{moved['push_seconds']:>10}{moved['push_mb_per_second']:>8}")
    print(f"{'dvc pull --run-cache into a fresh clone':<60}{moved['pull_seconds']:>10}{moved['pull_mb_per_second']:>8}")
    print(f"{'train + evaluate, MLflow on a local SQLite file (median)':<60}{tracked['sqlite_seconds']:>10}")
    print(f"{'train + evaluate, the team MLflow server (median)':<60}{tracked['team_server_seconds']:>10}")
    print(f"team server / SQLite: {tracked['ratio']}x ({tracked['rounds']} interleaved rounds)")
