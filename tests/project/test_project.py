"""Project checks: what this project (the example, or a team's own after adoption) must keep true of its own
params, data and results. The only tests that read them: the platform's tests build the projects they need.

They need no data: a clone holds the params, the suites, the ``.dvc`` files that pin the data's versions and
the results DVC keeps in git, which is enough to tell whether those results follow from those inputs. The
pull request's reproduce job and the release (``make release-repro``) run the pipeline on the data itself.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from gitops_ml.core import paths
from tests.support import ROOT


def gitops_ml(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    return subprocess.run(
        [sys.executable, "-m", "gitops_ml", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_params_are_valid_and_hold_every_key_the_stages_read() -> None:
    checked = gitops_ml("check", "--no-data")
    assert checked.returncode == 0, checked.stderr


def test_the_committed_results_follow_from_the_committed_params_code_suites_and_data() -> None:
    checked = gitops_ml("check-results")
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_data_passed_its_suite() -> None:
    report = json.loads((ROOT / paths.VALIDATION_JSON).read_text())
    failed = [f"{f['column']}: {f['description']}" for f in report["failures"]]
    assert report["success"] and not failed, failed
