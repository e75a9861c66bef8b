"""Pull-request workflow benchmark: the "Pull request" pipeline job, run by act on this machine.

As on GitHub after main's first run: the package cache is warm (uv's, offline) and the DVC cache
that main's run left is restored by the cache step, so `make pull` checks the unchanged outputs
out and DVC runs only the stages a change touches. Three pull requests: one changes a training
parameter, one changes only the README, and one changes only the README on a branch whose
dvc.lock was written on another CPU (another model hash): unchanged stages are restored by their
inputs from the run-cache, so none runs.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import yaml

from tests.support import edit_params, git, reproduced_project
from tests.workflow_runner import Act, clone, make_origin, pull_request_event, seed_cache

TARGET_SECONDS = 90.0
STAGES = ("ingest", "validate", "split", "train", "evaluate", "package")


def run(folder: Path) -> dict[str, Any]:
    project = reproduced_project(folder / "project")
    origin = make_origin(folder, project)
    saved = folder / "saved-caches"
    seed_cache(saved, "dvc-from-main", ".dvc/cache", project / ".dvc" / "cache")  # as main's run left it

    results: dict[str, Any] = {"target_seconds": TARGET_SECONDS}
    scenarios = (
        ("parameter_change", 1, _lower_regularisation),
        ("docs_only", 2, _edit_readme),
        ("docs_only_lock_from_another_cpu", 3, _edit_readme_with_a_lock_from_another_cpu),
    )
    for name, number, edit in scenarios:
        repo = clone(origin, folder / name)
        git(repo, "checkout", "-q", "-b", name)
        edit(repo)
        git(repo, "commit", "-qam", name)
        act = Act.create(folder / f"{name}-act", STANDIN_CACHE=str(saved))
        started = time.monotonic()
        ran = act.run(repo, "pull_request", pull_request_event(number, repo), "pull-request.yml", "-j", "pipeline")
        seconds = time.monotonic() - started
        if ran.returncode != 0:
            raise RuntimeError(f"{name}: act failed\n{ran.stdout[-3000:]}")
        log = (act.artifact("pr-report") / "repro.log").read_text()
        results[name] = {"seconds": round(seconds, 1), "stages_run": re.findall(r"Running stage '(\w+)'", log)}
    _print_table(results)
    return results


def _lower_regularisation(repo: Path) -> None:
    edit_params(repo / "params.yaml", {"train.linear.C": 0.5})


def _edit_readme(repo: Path) -> None:
    readme = repo / "README.md"
    readme.write_text(readme.read_text() + "\nA line of documentation.\n")


def _edit_readme_with_a_lock_from_another_cpu(repo: Path) -> None:
    """The docs change on a branch whose dvc.lock names another CPU's model bytes (same inputs and metrics)."""
    lock = repo / "dvc.lock"
    model = next(o["md5"] for o in yaml.safe_load(lock.read_text())["stages"]["train"]["outs"])
    lock.write_text(lock.read_text().replace(model, "0123456789abcdef0123456789abcdef"))
    _edit_readme(repo)


def _print_table(results: dict[str, Any]) -> None:
    print("\nPull-request workflow (act, pipeline job: checkout to report artifact; warm package and DVC caches)")
    print(f"{'pull request':<34}{'seconds':>9}  stages run")
    for name in ("parameter_change", "docs_only", "docs_only_lock_from_another_cpu"):
        row = results[name]
        print(f"{name:<34}{row['seconds']:>9}  {', '.join(row['stages_run']) or 'none'}")
    print(f"target: a parameter change under {TARGET_SECONDS:.0f} s; a docs-only change runs no stage")
