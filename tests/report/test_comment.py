"""The comment job's step (``make pr-comment``), run with the real CML 0.20.6 against the HTTPS stand-in of GitHub.

CML takes GitHub's address from the git remote (``https://HOST/api/v3`` for any host but
github.com) and publishes images to ``--publish-url`` (here the stand-in's ``/upload``). The real
CML comes from ``../shared/tools`` (the npm registry these machines reach does not serve it); the
tests that run it skip where that folder is absent. The checks of the artifact need no CML.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from gitops_ml import NAME
from gitops_ml.core.errors import PipelineError
from gitops_ml.core.github_api import GitHub
from gitops_ml.report import comment, data
from tests.github_standin import BOT, REPOSITORY, GitHubState, github_api
from tests.support import git, outside_code, write_params

HEAD = "a" * 40
PR = 7
WATERMARK = f"Model report ({NAME})"  # the default, from the project's name
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64
HOSTILE = "@octocat ![x](http://tracker.example/x.png) [doc](../../../etc/passwd) <img src=x> `tick` | cell"


def summary(**changes: object) -> dict[str, object]:
    data: dict[str, object] = {
        "schema_version": 1, "base_name": "main", "base_has_metrics": True, "new_has_metrics": True,
        "both_have_predictions": True, "same_test_set": True, "confidence": 0.95,
        "changes": [{"metric": "f1", "base": 0.9, "new": 0.95, "low": 0.01, "high": 0.08, "threshold": 0.01}],
        "changed_params": [{"key": "train.linear.C", "before": "1.0", "after": "0.5"}],
        "failed_stage": None, "log_tail": "", "reproduction": None, "validation": None,
        "links": [{"label": "elsewhere", "url": "https://tracker.example/"}],
    }  # fmt: skip
    return data | changes


def artifact(folder: Path, data: dict[str, object] | None = None, pr: str = str(PR)) -> Path:
    """What the pull request's job uploads: the report's data, the plots and the pull request number."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "report.json").write_text(json.dumps(data or summary()))
    (folder / "curves.png").write_bytes(PNG)
    (folder / "confusion_matrices.png").write_bytes(PNG)
    (folder / "pr-number.txt").write_text(pr + "\n")
    (folder / "report.md").write_text("@everyone ![](../../../etc/passwd) this Markdown is never posted")
    return folder


@pytest.fixture
def github(tmp_path: Path) -> Iterator[tuple[str, GitHubState]]:
    state = GitHubState(heads={PR: HEAD})
    with github_api(state, tls_folder=tmp_path) as served:
        yield served


def post(
    tmp_path: Path, cml: str, base_url: str, folder: Path, images: str = "publish"
) -> subprocess.CompletedProcess[str]:
    """Run ``make pr-comment``'s command as the comment job does, in a checkout of main."""
    checkout = tmp_path / "main"
    if not checkout.exists():
        checkout.mkdir()
        git(checkout, "init", "-q", "-b", "main")
        git(checkout, "commit", "-q", "--allow-empty", "-m", "main")
        git(checkout, "remote", "add", "origin", f"{base_url}/{REPOSITORY}.git")  # CML's GitHub
    env = {
        "PATH": os.environ["PATH"], "HOME": str(tmp_path / "home"), "ITERATIVE_DO_NOT_TRACK": "1",
        "NODE_EXTRA_CA_CERTS": str(tmp_path / "standin-cert.pem"), "SSL_CERT_FILE": str(tmp_path / "standin-cert.pem"),
        "REPO_TOKEN": "token-of-the-run", "GITHUB_REPOSITORY": REPOSITORY, "GITHUB_API_URL": f"{base_url}/api/v3",
        "HEAD_SHA": HEAD, "REPORT_IMAGES": images, "CML": cml,
        "GITHUB_SERVER_URL": "https://github.com", "PR_RUN_URL": f"https://github.com/{REPOSITORY}/actions/runs/99",
        "CML_COMMENT_PUBLISH_URL": f"{base_url}/upload",
    }  # fmt: skip
    write_params(tmp_path)
    command = [sys.executable, "-m", "gitops_ml", "--params", str(tmp_path / "params.yaml"), "pr-comment"]
    command += ["--artifact", str(folder), "--out", str(tmp_path / "comment")]
    return subprocess.run(command, cwd=checkout, env=env, capture_output=True, text=True, timeout=300)


def reports(state: GitHubState) -> list[dict[str, object]]:
    return [c for c in state.comments.get(PR, []) if f'"CML watermark {WATERMARK}")' in str(c["body"])]


def test_the_report_is_posted_once_then_updated_in_place(
    tmp_path: Path, cml: str, github: tuple[str, GitHubState]
) -> None:
    base_url, state = github
    first = post(tmp_path, cml, base_url, artifact(tmp_path / "first"))
    assert first.returncode == 0, first.stderr
    [posted] = reports(state)
    body = str(posted["body"])
    assert body.startswith("## 🟢 Better than `main`") and posted["user"] == {"login": BOT, "type": "Bot"}
    assert sorted(state.uploaded) == ["confusion_matrices.png", "curves.png"]  # only the known plots
    assert "https://asset.example/" in body and "etc/passwd" not in body and "@everyone" not in body
    assert f"(https://github.com/{REPOSITORY}/actions/runs/99)" in body and "tracker.example" not in body

    second = post(tmp_path, cml, base_url, artifact(tmp_path / "second", summary(base_name="main-2")))
    assert second.returncode == 0, second.stderr
    [updated] = reports(state)
    assert updated["id"] == posted["id"] and "`main-2`" in str(updated["body"])
    assert "updated the report comment of pull request #7" in second.stdout


def test_one_report_comment_on_a_busy_pull_request(tmp_path: Path, cml: str, github: tuple[str, GitHubState]) -> None:
    base_url, state = github
    for n in range(35):  # more than CML's first page
        state.comment(PR, f"review comment {n}")
    for push in range(3):
        ran = post(tmp_path, cml, base_url, artifact(tmp_path / f"push-{push}"))
        assert ran.returncode == 0, ran.stderr
        assert len(reports(state)) == 1
    assert len(state.comments[PR]) == 36


def test_a_comment_quoting_the_watermark_is_left_alone(
    tmp_path: Path, cml: str, github: tuple[str, GitHubState]
) -> None:
    base_url, state = github
    assert post(tmp_path, cml, base_url, artifact(tmp_path / "first")).returncode == 0
    [ours] = reports(state)
    quoted = f'Look: ![](https://cml.dev/watermark.png#{HEAD} "CML watermark {WATERMARK}")'
    state.comment(PR, quoted, user="someone-else")  # newer than ours, on CML's first page
    ran = post(tmp_path, cml, base_url, artifact(tmp_path / "second", summary(base_name="main-2")))
    assert ran.returncode == 0, ran.stderr
    assert [c["body"] for c in state.comments[PR] if c["user"]["login"] == "someone-else"] == [quoted]
    [new] = [c for c in reports(state) if c["user"]["login"] == BOT]
    assert new["id"] != ours["id"] and "`main-2`" in str(new["body"])


def test_a_failed_image_upload_posts_the_report_without_images_saying_where_they_are(
    tmp_path: Path, cml: str, github: tuple[str, GitHubState]
) -> None:
    base_url, state = github
    state.asset_uploads = "fail"
    ran = post(tmp_path, cml, base_url, artifact(tmp_path / "report"))
    assert ran.returncode == 0, ran.stderr
    [posted] = reports(state)
    assert "![" not in str(posted["body"]).split("CML watermark")[0].rsplit("![](https://cml.dev", 1)[0]
    assert "uploading them to CML's asset host failed" in str(posted["body"])
    assert f"https://github.com/{REPOSITORY}/actions/runs/99" in str(posted["body"])


def test_a_private_repository_gets_no_images_and_is_told_where_they_are(
    tmp_path: Path, cml: str, github: tuple[str, GitHubState]
) -> None:
    base_url, state = github
    ran = post(tmp_path, cml, base_url, artifact(tmp_path / "report"), images="artifact")
    assert ran.returncode == 0, ran.stderr
    assert state.uploaded == []
    assert "Not shown here: the overlaid curves and confusion matrices are in the run's `pr-report` artifact" in str(
        reports(state)[0]["body"]
    )


@pytest.mark.parametrize("images", ["publish", "artifact"])  # CML rewrites the Markdown only when it publishes
def test_strings_from_the_branch_are_posted_as_code_and_nothing_else_is_uploaded(
    tmp_path: Path, cml: str, github: tuple[str, GitHubState], images: str
) -> None:
    base_url, state = github
    hostile = summary(
        base_name=HOSTILE,
        changed_params=[{"key": HOSTILE, "before": json.dumps(HOSTILE), "after": None}],
        failed_stage="train ```\n@octocat",
        log_tail="```\n![x](../../../etc/passwd)\n@octocat",
    )
    ran = post(tmp_path, cml, base_url, artifact(tmp_path / "report", hostile), images=images)
    assert ran.returncode == 0, ran.stderr
    body = str(reports(state)[0]["body"])
    assert sorted(state.uploaded) == (["confusion_matrices.png", "curves.png"] if images == "publish" else [])
    interpreted = outside_code(body)
    for forbidden in ("@octocat", "tracker.example", "passwd", "<img"):
        assert forbidden not in interpreted, forbidden


@pytest.mark.parametrize(
    ("number", "message"),
    [("5; curl evil", "holds no pull request number"), ("", "holds no pull request number")],
)
def test_an_artifact_without_a_clean_number_is_not_posted(tmp_path: Path, number: str, message: str) -> None:
    with pytest.raises(PipelineError, match=message):
        comment.pull_request_number(artifact(tmp_path, pr=number))


def test_a_report_for_another_commit_is_not_posted(tmp_path: Path, github: tuple[str, GitHubState]) -> None:
    base_url, state = github
    settings = comment.CommentJob(
        GitHub(f"{base_url}/api/v3", REPOSITORY, state.token), "b" * 40, "artifact", ["cml"], WATERMARK, BOT, None
    )
    os.environ["SSL_CERT_FILE"] = str(tmp_path / "standin-cert.pem")
    try:
        with pytest.raises(PipelineError, match=f"pull request #7 is at {HEAD}, not at the tested commit"):
            comment.run(artifact(tmp_path / "report"), tmp_path / "out", settings)
    finally:
        del os.environ["SSL_CERT_FILE"]
    assert state.comments == {}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"changes": [{"metric": "f1; rm -rf", "base": 1.0, "new": 1.0}]}, "changes.0.metric"),
        ({"confidence": float("nan")}, "confidence"),
        ({"base_name": "x" * 1000}, "base_name"),
        ({"extra": "key"}, "extra"),
        ({"schema_version": 2}, "schema_version"),
    ],
)
def test_report_data_is_read_strictly_naming_the_field(tmp_path: Path, change: dict[str, object], field: str) -> None:
    (tmp_path / "report.json").write_text(json.dumps(summary(**change)))
    with pytest.raises(PipelineError, match=f"report.json: not a report this version reads .*{field}"):
        data.load(tmp_path / "report.json")


def test_only_known_plot_files_that_are_png_are_taken(tmp_path: Path) -> None:
    folder = artifact(tmp_path / "report")
    (folder / "curves.png").write_bytes(b"<svg onload=alert(1)>")  # not a PNG
    (folder / "confusion_matrices.png").unlink()
    (folder / "confusion_matrices.png").symlink_to("/etc/passwd")
    (folder / "secrets.png").write_bytes(PNG)  # not a plot the report makes
    (tmp_path / "out").mkdir()
    assert comment.copy_figures(folder, tmp_path / "out") == []
    assert list((tmp_path / "out").iterdir()) == []
