"""The comment job's script, run directly: it trusts nothing in the artifact it is handed."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import ROOT
from tests.workflow_runner import REPOSITORY, STAND_INS, GitHubAPI, github_api_server

SCRIPT = ROOT / ".github" / "scripts" / "post-report-comment.sh"
HEAD = "a" * 40


@pytest.fixture
def api() -> Iterator[tuple[str, type[GitHubAPI]]]:
    with github_api_server() as served:
        served[1].heads[5] = HEAD
        yield served


def post(tmp_path: Path, api_url: str, pr_number: str, **env: str) -> subprocess.CompletedProcess[str]:
    report = tmp_path / "report"
    report.mkdir(exist_ok=True)
    (report / "pr-number.txt").write_text(pr_number + "\n")
    (report / "report.md").write_text("## with plots\n![curves](./curves.png)\n")
    (report / "report-no-images.md").write_text("## without plots\n")
    environment = {
        "PATH": os.environ["PATH"],
        "REPO_TOKEN": "t0ken",
        "GITHUB_REPOSITORY": REPOSITORY,
        "GITHUB_API_URL": api_url,
        "HEAD_SHA": HEAD,
        "CML": str(STAND_INS / "cml"),
        "STANDIN_CML": str(tmp_path / "cml"),
    } | env
    return subprocess.run([SCRIPT, report], env=environment, capture_output=True, text=True, timeout=60)


def posted(tmp_path: Path) -> str | None:
    recorded = tmp_path / "cml" / "report.md"
    return recorded.read_text() if recorded.is_file() else None


@pytest.mark.parametrize(
    ("private", "images", "expected"),
    [
        ("false", "", "## with plots\n![curves](./curves.png)\n"),
        ("true", "", "## without plots\n"),
        ("", "", "## without plots\n"),  # unknown visibility counts as private
        ("true", "publish", "## with plots\n![curves](./curves.png)\n"),
        ("false", "artifact", "## without plots\n"),
    ],
)
def test_images_are_published_only_for_public_repositories_unless_chosen(
    tmp_path: Path, api: tuple[str, type[GitHubAPI]], private: str, images: str, expected: str
) -> None:
    result = post(tmp_path, api[0], "5", REPOSITORY_PRIVATE=private, REPORT_IMAGES=images)
    assert result.returncode == 0, result.stderr
    assert posted(tmp_path) == expected
    assert "--target=pr/5" in (tmp_path / "cml" / "args").read_text().splitlines()


@pytest.mark.parametrize(
    ("pr_number", "head", "message"),
    [
        ("5; curl evil", HEAD, "holds no pull request number"),
        ("", HEAD, "holds no pull request number"),
        ("5", "b" * 40, f"pull request #5 is at {'a' * 40}, not at the tested commit {'b' * 40}"),
        ("6", HEAD, "404"),  # no such pull request
    ],
)
def test_a_report_that_does_not_match_its_pull_request_is_not_posted(
    tmp_path: Path, api: tuple[str, type[GitHubAPI]], pr_number: str, head: str, message: str
) -> None:
    result = post(tmp_path, api[0], pr_number, HEAD_SHA=head)
    assert result.returncode != 0
    assert message in result.stderr
    assert posted(tmp_path) is None


def test_an_unknown_image_choice_is_named(tmp_path: Path, api: tuple[str, type[GitHubAPI]]) -> None:
    result = post(tmp_path, api[0], "5", REPORT_IMAGES="imgur")
    assert result.returncode == 1
    assert "REPORT_IMAGES must be publish or artifact, not 'imgur'" in result.stderr
    assert posted(tmp_path) is None
