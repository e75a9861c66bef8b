from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from gitops_ml.core.lineage import file_md5, git_commit


@pytest.mark.integration  # a reproduced project (dvc repro)
def test_file_md5_is_the_hash_dvc_records(new_project: Path) -> None:
    lock = yaml.safe_load((new_project / "dvc.lock").read_text())
    recorded = {out["path"]: out["md5"] for stage in lock["stages"].values() for out in stage.get("outs", [])}
    committed = "reports/evaluation/metrics.json"  # cache: false, so it is in git on every clone
    assert file_md5(new_project / committed) == recorded[committed]


def test_outside_git_the_commit_is_unknown(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path.parent))
    assert git_commit() == {"git_commit": "unknown", "git_dirty": "unknown"}
