"""The cross-machine reproducibility contract, on locks and metrics written as DVC writes them."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from gitops_ml.core.errors import PipelineError
from gitops_ml.pipeline import reproducibility
from tests.support import git

# A reproduced project (dvc repro): left out by make test-fast.
pytestmark = pytest.mark.integration

TOLERANCE = 1e-4
MODEL = "models/model.joblib"


def committed_lock(project: Path) -> dict[str, Any]:
    lock: dict[str, Any] = yaml.safe_load((project / "dvc.lock").read_text())
    return lock


def model_md5(lock: dict[str, Any]) -> str:
    return str(lock["stages"]["train"]["outs"][0]["md5"])


def as_another_machine_wrote_it(lock: dict[str, Any]) -> dict[str, Any]:
    """The same lock with the model's bytes (and the metadata naming them) from another CPU's BLAS kernel."""
    text = yaml.safe_dump(lock).replace(model_md5(lock), "0123456789abcdef0123456789abcdef")
    other: dict[str, Any] = yaml.safe_load(text)
    [metadata] = [o for o in other["stages"]["package"]["outs"] if o["path"].endswith("metadata.json")]
    metadata["md5"] = "fedcba9876543210fedcba9876543210"
    return other


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, new_project: Path) -> Path:
    """A repository whose commit holds a new project's pipeline (and what it reads), lock and metrics."""
    for name in (
        "dvc.yaml",
        "params.yaml",
        "src/gitops_ml/core/paths.yaml",
        "dvc.lock",
        "reports/evaluation/metrics.json",
    ):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes((new_project / name).read_bytes())
    git(tmp_path, "init", "-q", "-b", "main")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-q", "-m", "results")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def rerun(repo: Path, lock: dict[str, Any], metrics: dict[str, Any] | None = None) -> reproducibility.Verdict:
    """What a run left in the work tree: this lock (and these metrics), checked against the commit."""
    (repo / "dvc.lock").write_text(yaml.safe_dump(lock, sort_keys=False))
    if metrics is not None:
        (repo / "reports/evaluation/metrics.json").write_text(json.dumps(metrics))
    return reproducibility.check("HEAD", TOLERANCE)


def committed_metrics(project: Path) -> dict[str, Any]:
    metrics: dict[str, Any] = json.loads((project / "reports/evaluation/metrics.json").read_text())
    return metrics


def test_the_same_run_is_reproduced_byte_for_byte(repo: Path) -> None:
    verdict = rerun(repo, committed_lock(repo))
    assert verdict.reproduced and verdict.rebuilt == ()
    assert verdict.describe("HEAD") == "reproduces HEAD's results byte for byte."


def test_another_machines_model_bytes_alone_are_reproduced(repo: Path) -> None:
    verdict = rerun(repo, as_another_machine_wrote_it(committed_lock(repo)))
    assert verdict.reproduced
    assert set(verdict.rebuilt) == {MODEL, "models/bento/model.joblib", "models/bento/metadata.json"}
    assert "Rebuilt with other bytes (expected on another CPU or OS): models/bento/metadata.json" in verdict.describe(
        "HEAD"
    )


def test_metrics_within_the_tolerance_are_the_same(repo: Path) -> None:
    metrics = committed_metrics(repo)
    metrics["test"]["f1"] += TOLERANCE / 2
    assert rerun(repo, as_another_machine_wrote_it(committed_lock(repo)), metrics).reproduced


def test_a_changed_metric_is_named_with_both_values(repo: Path) -> None:
    metrics = committed_metrics(repo)
    before = metrics["test"]["f1"]
    metrics["test"]["f1"] = round(before - 0.0012, 6)
    verdict = rerun(repo, as_another_machine_wrote_it(committed_lock(repo)), metrics)
    assert not verdict.reproduced
    [difference] = verdict.differences
    assert str(difference) == f"metric test.f1 (reports/evaluation/metrics.json): {before} -> {metrics['test']['f1']}"
    assert "Run `make repro` and commit dvc.lock" in verdict.describe("HEAD")


def test_a_large_metric_agrees_relative_to_its_size(repo: Path) -> None:
    metrics = committed_metrics(repo)
    metrics["test"]["rmse"] = 25_000.0
    (repo / "reports/evaluation/metrics.json").write_text(json.dumps(metrics))
    git(repo, "commit", "-qam", "a regression metric")
    metrics["test"]["rmse"] = 25_001.0  # 4e-5 of its size
    assert rerun(repo, committed_lock(repo), metrics).reproduced
    metrics["test"]["rmse"] = 25_010.0
    assert not rerun(repo, committed_lock(repo), metrics).reproduced


def test_a_changed_param_is_named_once_with_every_stage_that_reads_it(repo: Path) -> None:
    lock = committed_lock(repo)
    changed = copy.deepcopy(lock)
    for stage in ("train", "package"):
        changed["stages"][stage]["params"]["params.yaml"]["train"]["linear"]["C"] = 0.05
    [difference] = rerun(repo, changed).differences
    assert str(difference) == "param train.linear.C (package, train): 1.0 -> 0.05"


def test_changed_code_or_source_data_is_an_input_difference(repo: Path) -> None:
    lock = committed_lock(repo)
    [code] = [d for d in lock["stages"]["train"]["deps"] if d["path"] == "src/gitops_ml/pipeline/train.py"]
    code["md5"] = "00000000000000000000000000000000"
    [difference] = rerun(repo, lock).differences
    assert (difference.kind, difference.name, difference.where) == ("input", "src/gitops_ml/pipeline/train.py", "train")


def test_a_stage_added_or_a_command_changed_is_named(repo: Path) -> None:
    lock = committed_lock(repo)
    lock["stages"]["explain"] = {"cmd": "python -m gitops_ml explain", "deps": [], "outs": []}
    lock["stages"]["train"]["cmd"] = "python -m gitops_ml train --fast"
    names = {(d.kind, d.where) for d in rerun(repo, lock).differences}
    assert names == {("stage", "dvc.lock"), ("command", "train")}


def test_no_committed_lock_is_not_reproduced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, new_project: Path
) -> None:
    git(tmp_path, "init", "-q", "-b", "main")
    git(tmp_path, "commit", "-q", "--allow-empty", "-m", "empty")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "dvc.lock").write_text(yaml.safe_dump(committed_lock(new_project)))
    [difference] = reproducibility.check("HEAD", TOLERANCE).differences
    assert str(difference) == "stage dvc.lock (HEAD): (absent) -> present"
    (tmp_path / "dvc.lock").unlink()
    with pytest.raises(PipelineError, match=r"dvc\.lock: missing; run make repro first"):
        reproducibility.check("HEAD", TOLERANCE)
