"""Release notes list every merge since the previous release, so a superseded release run leaves a trace."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gitops_ml.release import deploy, steps
from tests.support import git


def test_the_notes_list_each_commit_since_the_previous_release(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    git(tmp_path, "init", "-q", "-b", "main")
    git(tmp_path, "commit", "-q", "--allow-empty", "-m", "released before")
    git(tmp_path, "tag", "v2026.11.20-g1111111")
    for title in ("Merge pull request #4: new features", "Merge pull request #5: tuned C"):
        git(tmp_path, "commit", "-q", "--allow-empty", "-m", title)
    monkeypatch.chdir(tmp_path)
    listed = steps._merged_since("v2026.11.20-g1111111").splitlines()
    assert [line.split(" ", 2)[2] for line in listed] == ["Merge pull request #5: tuned C",
                                                           "Merge pull request #4: new features"]  # fmt: skip
    assert (
        steps._merged_since("v2000.01.01-g0000000") == "- (the tag v2000.01.01-g0000000 is not in this clone's history)"
    )


def test_a_release_version_is_never_a_pep_440_version_copier_could_take_for_the_templates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Copier takes the highest PEP 440 tag of the template's repository, where model releases are tagged too: a
    short hash of digits alone would make ``v2026.12.07-1234567`` a post-release of 2026.12.7."""
    from packaging.version import InvalidVersion, Version

    git(tmp_path, "init", "-q", "-b", "main")
    git(tmp_path, "commit", "-q", "--allow-empty", "-m", "a commit")
    monkeypatch.chdir(tmp_path)
    tag = steps.version()
    assert re.fullmatch(r"v\d{4}\.\d{2}\.\d{2}-g[0-9a-f]{7}", tag) and deploy.VERSION.match(tag)
    assert str(Version("v2026.12.07-1234567")) == "2026.12.7.post1234567"  # what the g prevents
    for digits in (tag, "v2026.12.07-g1234567"):
        with pytest.raises(InvalidVersion):
            Version(digits)
