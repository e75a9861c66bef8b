"""The real pull-request workflows, run end to end by act on a temporary repository.

A bare ``origin`` holds the project's main branch; feature branches change one thing each. The
"Pull request" workflow's pipeline job runs as GitHub would run it on that pull request, and the
"Pull request comment" workflow then runs from main, as GitHub runs ``workflow_run`` workflows,
against a loopback stand-in for GitHub's API. The lint-and-test job is not run here: it is this suite.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from gitops_ml.ingest import load_source
from tests.support import git, make_settings
from tests.workflow_runner import (
    REPOSITORY,
    STAND_INS,
    Act,
    GitHubAPI,
    clone,
    github_api_server,
    head,
    make_origin,
    pull_request_event,
    workflow_run_event,
)


@pytest.fixture(scope="module")
def origin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_origin(tmp_path_factory.mktemp("origin"))


def open_pull_request(
    origin: Path, folder: Path, number: int, edit: Callable[[Path], None]
) -> tuple[Path, Act, subprocess.CompletedProcess[str]]:
    """A feature branch made by ``edit``, and the "Pull request" workflow's pipeline job run on it."""
    repo = clone(origin, folder / "repo")
    git(repo, "checkout", "-q", "-b", edit.__name__.replace("_", "-"))
    edit(repo)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", edit.__name__)
    act = Act.create(folder / "act")
    ran = act.run(repo, "pull_request", pull_request_event(number, repo), "pull-request.yml", "-j", "pipeline")
    return repo, act, ran


def lower_regularisation(repo: Path) -> None:
    params = repo / "params.yaml"
    params.write_text(params.read_text().replace("    C: 1.0\n", "    C: 0.05\n"))


def break_the_data(repo: Path) -> None:
    """Switch to a data file in which one value of mean_texture is missing."""
    frame = load_source(make_settings().data)
    frame.loc[3, "mean_texture"] = None
    frame.to_csv(repo / "data" / "external" / "cancer.csv", index=False)
    params = repo / "params.yaml"
    text = params.read_text().replace("  source: breast_cancer ", "  source: file ")
    params.write_text(text.replace("  path: data/external ", "  path: data/external/cancer.csv "))


@pytest.fixture
def github_api() -> Iterator[tuple[str, type[GitHubAPI]]]:
    with github_api_server() as served:
        yield served


def post_comment(
    act: Act,
    origin: Path,
    folder: Path,
    github_api: tuple[str, type[GitHubAPI]],
    number: int,
    head_sha: str,
    *,
    run_id: int,
    conclusion: str,
    private: bool = False,
) -> Path:
    """Run the comment workflow from main, as GitHub runs workflow_run workflows; return what CML got."""
    api_url, api = github_api
    api.heads[number] = head_sha
    cml = folder / "cml"
    event = workflow_run_event(run_id, head_sha, conclusion=conclusion, private=private)
    posted = act.run(
        clone(origin, folder / "main"), "workflow_run", event, "pull-request-comment.yml",
        "-s", "GITHUB_TOKEN=token-of-the-run",
        "--env", f"GITHUB_API_URL={api_url}", "--env", f"CML={STAND_INS / 'cml'}", "--env", f"STANDIN_CML={cml}",
    )  # fmt: skip
    assert posted.returncode == 0, posted.stdout[-5000:]
    return cml


def test_a_parameter_change_gets_a_report_that_the_comment_workflow_posts_to_its_pull_request(
    origin: Path, tmp_path: Path, github_api: tuple[str, type[GitHubAPI]]
) -> None:
    repo, act, ran = open_pull_request(origin, tmp_path, 42, lower_regularisation)
    assert ran.returncode == 0, ran.stdout[-5000:]
    artifact = act.artifacts / "pr-report"
    report = (artifact / "report.md").read_text()
    assert report.startswith("## ")
    assert "| `train.logistic_regression.C` | `1.0` | `0.05` |" in report
    assert "| **roc_auc** | 0.9960 | " in report and "| **f1** | 0.9512 | " in report  # main's, then this PR's
    assert "paired bootstrap 95% interval" in report  # same test set: the deltas carry intervals
    assert (artifact / "pr-number.txt").read_text() == "42\n"
    assert {"curves.png", "confusion_matrices.png", "report-no-images.md"} <= {p.name for p in artifact.iterdir()}

    api = github_api[1]
    cml = post_comment(act, origin, tmp_path, github_api, 42, head(repo), run_id=987, conclusion="success")
    args = (cml / "args").read_text().splitlines()
    assert args[:4] == ["comment", "update", "--target=pr/42", "--watermark-title=Model report (gitops-ml)"]
    assert args[4].endswith("reports/pr/report.md")  # a public repository: plots published with the comment
    assert (cml / "report.md").read_text() == report
    assert (act.artifacts / "download-run-id").read_text().strip() == "987"  # the run that made the report
    assert api.seen == [("GET", f"/repos/{REPOSITORY}/pulls/42", "Bearer token-of-the-run")]


def test_broken_data_fails_the_check_with_a_report_naming_the_failed_expectation(
    origin: Path, tmp_path: Path, github_api: tuple[str, type[GitHubAPI]]
) -> None:
    repo, act, ran = open_pull_request(origin, tmp_path, 7, break_the_data)
    assert ran.returncode != 0  # the check fails
    report = (act.artifacts / "pr-report" / "report.md").read_text()
    assert report.startswith("## ❌ Pipeline failed at stage `validate`")
    assert "| mean_texture | values must not be missing |" in report
    assert "| `data.source` | `breast_cancer` | `file` |" in report

    # A failed run still gets its comment; in a private repository, without the plots (they stay in the artifact).
    cml = post_comment(act, origin, tmp_path, github_api, 7, head(repo), run_id=988, conclusion="failure", private=True)
    assert (cml / "args").read_text().splitlines()[4].endswith("reports/pr/report-no-images.md")
    assert "![" not in (cml / "report.md").read_text()
