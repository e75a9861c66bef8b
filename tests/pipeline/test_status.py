"""``check-results``: whether the results a project holds follow from its inputs, told from a clone that has
pulled no data (what CI's test job and a fork's clone hold)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from gitops_ml.core import paths
from gitops_ml.pipeline.restore import locked_stages
from tests.support import edit_params, tool_env, unmeasured

# Real servers, act or dvc repro: left out by make test-fast.
pytestmark = pytest.mark.integration


@pytest.fixture
def clone(new_project: Path, tmp_path: Path) -> Path:
    """A clone of a project whose results are committed: code, params and results, no data, model or cache."""
    subprocess.run(["git", "clone", "-q", str(new_project), str(tmp_path / "clone")], check=True)
    return tmp_path / "clone"


def check_results(project: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["python", "-m", "gitops_ml", "check-results"], cwd=project, env=unmeasured(tool_env(project)),
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_a_clone_without_data_or_model_tells_its_results_are_current(clone: Path) -> None:
    assert not (clone / paths.RAW_DATA).exists() and not (clone / paths.MODEL).exists()
    checked = check_results(clone)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout == "the results follow from the inputs: params, code, suites and data versions.\n"


def test_a_param_changed_without_reproducing_is_named_with_both_values_and_its_stages(clone: Path) -> None:
    edit_params(clone / "params.yaml", {"train.linear.C": 0.3})
    checked = check_results(clone)
    assert checked.returncode == 1
    assert checked.stdout.splitlines() == [
        "the results do not follow from the inputs (1 changes since they were made):",
        "  - param train.linear.C: 1.0 -> 0.3 (train, package)",
        "Run `make repro` and commit dvc.lock and the results it changed.",
    ]


def test_changed_code_and_a_result_edited_by_hand_are_named(clone: Path) -> None:
    train = clone / "src" / "gitops_ml" / "pipeline" / "train.py"
    train.write_text(train.read_text() + "\n# changed\n")
    metrics = json.loads((clone / paths.METRICS).read_text())
    metrics["test"]["f1"] = 0.99
    (clone / paths.METRICS).write_text(json.dumps(metrics))
    lines = check_results(clone).stdout.splitlines()
    assert "  - dep src/gitops_ml/pipeline/train.py: modified (train)" in lines
    assert f"  - out {paths.METRICS}: modified (evaluate)" in lines


def test_no_results_yet_says_to_reproduce(clone: Path) -> None:
    (clone / "dvc.lock").unlink()
    checked = check_results(clone)
    assert checked.returncode == 1 and "dvc.lock: missing: run `make repro` and commit what it wrote" in checked.stdout


def test_the_lock_is_read_as_dvc_writes_it_so_classes_named_yes_and_no_stay_text() -> None:
    lock = "stages:\n  package:\n    params:\n      params.yaml:\n        data.positive_class: yes\n"
    assert locked_stages(lock)["package"]["params"]["params.yaml"] == {"data.positive_class": "yes"}
