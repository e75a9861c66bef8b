"""Adoption benchmark (``make bench``, in the template's repository): a team's start and its first pull request.

- ``copier copy`` of this template with a team's table of 5,000 rows (its task included: the project's own
  environment from uv's warm cache, the table tracked by DVC, its suite drafted), then the first ``make repro``;
- the adopted project's "Lint and tests" job for a pull request that changes one parameter, run by act as
  GitHub runs it (a new environment, lint, the project checks and the fast platform tests): the target is
  three minutes on a 2-core runner.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path
from typing import Any

from tests.support import edit_params, git
from tests.template.copying import answers, copier, copy_env, make, team_answers, teams_table, template_repository
from tests.workflow_runner import Act, clone, pull_request_event

TARGET_CHECKS_SECONDS = 180.0


def run(folder: Path) -> dict[str, Any]:
    template = template_repository(folder / "gitops-ml")
    table = folder / "accounts.csv"
    teams_table("binary", rows=5_000).to_csv(table, index=False)
    # As a newcomer's machine: the project's own .venv (uv's cache warm), bytecode compiled as the Makefile does.
    env = copy_env() | {"UV_PROJECT_ENVIRONMENT": ""}
    if os.environ.get("PYTHONDONTWRITEBYTECODE"):
        env["PYTHONDONTWRITEBYTECODE"] = os.environ["PYTHONDONTWRITEBYTECODE"]
    project = folder / "acme"
    given = answers(github_repository="example/gitops-ml") + team_answers("binary", table)

    started = time.monotonic()
    copied = copier(env, "copy", "--trust", "--defaults", *given, str(template), str(project))
    copy_seconds = time.monotonic() - started
    if copied.returncode != 0:
        raise RuntimeError(f"copier copy failed:\n{copied.stderr[-3000:]}")
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "Start from the template")
    started = time.monotonic()
    reproduced = make(project, env, "repro")
    repro_seconds = time.monotonic() - started
    if reproduced.returncode != 0:
        raise RuntimeError(f"make repro failed:\n{reproduced.stdout[-3000:]}")
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "The first results")

    # The pull request as a team makes it: the parameter changed, make repro, the new results committed with it.
    git(project, "checkout", "-q", "-b", "lower-c")
    edit_params(project / "params.yaml", {"train.linear.C": 0.5})
    reproduced = make(project, env, "repro")
    if reproduced.returncode != 0:
        raise RuntimeError(f"make repro of the change failed:\n{reproduced.stdout[-3000:]}")
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "Lower C")
    branch = clone(project, folder / "pull-request")
    act = Act.create(folder / "act", UV_PROJECT_ENVIRONMENT="")  # each job its own environment, as on GitHub
    started = time.monotonic()
    ran = act.run(branch, "pull_request", pull_request_event(1, branch), "pull-request.yml", "-j", "checks")
    checks_seconds = time.monotonic() - started
    if ran.returncode != 0:
        raise RuntimeError(f"the checks job failed:\n{ran.stdout[-3000:]}")
    scope = re.search(r"changes: (\w+): ([^\n]*)", ran.stdout)
    tests = re.search(r"(\d+) passed", ran.stdout)
    results = {
        "copier_copy_seconds": round(copy_seconds, 1),
        "first_make_repro_seconds": round(repro_seconds, 1),
        "parameter_change_checks_job_seconds": round(checks_seconds, 1),
        "checks_job_target_seconds": TARGET_CHECKS_SECONDS,
        "checks_scope": scope[1] if scope else "?",
        "checks_changed_files": scope[2].split(", ") if scope else [],
        "checks_tests_passed": int(tests[1]) if tests else 0,
        "table_rows": 5_000,
    }
    _print_table(results)
    return results


def _print_table(results: dict[str, Any]) -> None:
    print("\nAdoption: a team's table of 5,000 rows, then a pull request changing one parameter")
    print("| step | seconds |")
    print("|---|---|")
    print(f"| `copier copy` (environment, `dvc add`, suite drafted) | {results['copier_copy_seconds']} |")
    print(f"| first `make repro` | {results['first_make_repro_seconds']} |")
    scope, changed = results["checks_scope"], len(results["checks_changed_files"])
    job = f'"Lint and tests" job by act ({scope} files only: {changed}; {results["checks_tests_passed"]} tests)'
    seconds, target = results["parameter_change_checks_job_seconds"], results["checks_job_target_seconds"]
    print(f"| {job} | {seconds} (target {target:.0f}) |")
