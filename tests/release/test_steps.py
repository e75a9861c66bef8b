"""Release notes list every merge since the previous release, so a superseded release run leaves a trace."""

from __future__ import annotations

from pathlib import Path

import pytest

from gitops_ml.release import steps
from tests.support import git


def test_the_notes_list_each_commit_since_the_previous_release(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    git(tmp_path, "init", "-q", "-b", "main")
    git(tmp_path, "commit", "-q", "--allow-empty", "-m", "released before")
    git(tmp_path, "tag", "v2026.11.20-1111111")
    for title in ("Merge pull request #4: new features", "Merge pull request #5: tuned C"):
        git(tmp_path, "commit", "-q", "--allow-empty", "-m", title)
    monkeypatch.chdir(tmp_path)
    listed = steps._merged_since("v2026.11.20-1111111").splitlines()
    assert [line.split(" ", 2)[2] for line in listed] == ["Merge pull request #5: tuned C",
                                                           "Merge pull request #4: new features"]  # fmt: skip
    assert (
        steps._merged_since("v2000.01.01-0000000") == "- (the tag v2000.01.01-0000000 is not in this clone's history)"
    )
