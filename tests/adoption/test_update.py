"""Template updates, the parts that need no template: which release is newer, and the pull request that proposes
one, against the GitHub stand-in (its git database API, and GitHub's refusal of workflow changes by GITHUB_TOKEN).
The whole update, from a real template with ``copier update`` and by act, is tested in tests/template/."""

from __future__ import annotations

from pathlib import Path

import pytest
from packaging.version import Version

from gitops_ml.adoption import update
from gitops_ml.core.errors import PipelineError
from gitops_ml.core.github_api import GitHub
from tests.github_standin import REPOSITORY, github_api
from tests.support import git


@pytest.mark.parametrize(
    ("recorded", "release"),
    [("v1.2.0", Version("1.2.0")), ("v1.2.0-3-g1a2b3c4", Version("1.2.0")), ("1a2b3c4d", None), ("", None)],
)
def test_the_release_a_project_is_at_is_read_from_copiers_record(recorded: str, release: Version | None) -> None:
    assert update.release_of(recorded) == release


def test_the_newest_release_is_copiers_choice_never_a_pre_release_or_a_model_release(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q", "-b", "main")
    git(tmp_path, "commit", "-q", "--allow-empty", "-m", "template")
    for tag in ("v1.0.0", "v1.1.0", "v1.2.0rc1", "v2026.12.07-g1234567", "latest"):
        git(tmp_path, "tag", tag)
    assert update.newest_release(str(tmp_path)) == "v1.1.0"


def a_change(folder: Path, done: list[str], conflicts: tuple[str, ...] = ()) -> update.Update:
    """An update as copier leaves it in ``folder``: these files changed (absent ones deleted)."""
    return update.Update("gh:owner/gitops-ml", "v1.0.0", "v1.1.0", tuple(done), conflicts)


def test_an_update_is_one_commit_on_its_branch_and_one_pull_request_brought_up_to_date(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "Makefile").write_text("help: ## List the targets\n")
    (tmp_path / ".ci").mkdir()
    (tmp_path / ".ci/run").write_text("#!/bin/sh\nmake test\n")
    (tmp_path / ".ci/run").chmod(0o755)
    with github_api() as (url, state):
        state.actions_may_open_pulls = True
        state.branch("main", {"Makefile": b"help: ## Show the targets\n", "docs/retired.md": b"# Old\n"})
        github = GitHub(url, REPOSITORY, state.token)
        pull = update.propose(github, a_change(tmp_path, ["Makefile", ".ci/run", "docs/retired.md"]))
        assert state.files("template-update") == {
            "Makefile": b"help: ## List the targets\n", ".ci/run": b"#!/bin/sh\nmake test\n",
        }  # fmt: skip
        assert pull["title"] == "Template update: v1.0.0 -> v1.1.0" and "need a decision" not in pull["body"]
        url = "https://github.com/owner/gitops-ml"
        assert (
            f"[the release notes]({url}/releases/tag/v1.1.0), [every commit]({url}/compare/v1.0.0...v1.1.0)"
            in (pull["body"])
        )

        (tmp_path / "Makefile").write_text("<<<<<<< before updating\nours\n=======\ntheirs\n>>>>>>> after updating\n")
        again = update.propose(github, a_change(tmp_path, ["Makefile"], conflicts=("Makefile",)))
        assert again["number"] == pull["number"] and len(state.pulls) == 1  # the same one, its body anew
        assert "**1 files need a decision**" in again["body"] and "- `Makefile`" in again["body"]
        assert state.files("template-update")["Makefile"].startswith(b"<<<<<<< before updating")


def test_a_workflow_change_needs_a_token_that_may_write_workflows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".github/workflows").mkdir(parents=True)
    (tmp_path / ".github/workflows/ci.yml").write_text("name: ci\n")
    with github_api() as (url, state):
        state.actions_may_open_pulls = True
        state.branch("main", {".github/workflows/ci.yml": b"name: old\n"})
        github = GitHub(url, REPOSITORY, state.token)
        with pytest.raises(PipelineError, match="GITHUB_TOKEN may not write workflow files; give the Template update "
                                                "workflow a TEMPLATE_UPDATE_TOKEN"):  # fmt: skip
            update.propose(github, a_change(tmp_path, [".github/workflows/ci.yml"]))
        assert not state.pulls and "template-update" not in state.branches
        state.workflows_writable = True  # a token of the team's own with the workflows permission
        update.propose(github, a_change(tmp_path, [".github/workflows/ci.yml"]))
        assert state.files("template-update")[".github/workflows/ci.yml"] == b"name: ci\n"


def test_a_project_not_made_by_copier_is_said_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert "no .copier-answers.yml with the template's address" in update.run(None)
