"""The real pull-request workflows, run end to end by act on a temporary repository.

A bare ``origin`` holds the project's main branch; feature branches change one thing each. The
"Pull request" workflow's pipeline job runs as GitHub would run it on that pull request, and the
"Pull request comment" workflow then runs from main, as GitHub runs ``workflow_run`` workflows,
with the real CML against the HTTPS stand-in for GitHub's API (``tests/github_standin.py``). The
lint-and-test job is not run here: it is this suite.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from gitops_ml.core.settings import dotted
from gitops_ml.pipeline.ingest import load_source
from tests.github_standin import GitHubState
from tests.support import CANCER_FILE, edit_params, git, make_settings
from tests.workflow_runner import Act, clone, head, make_origin, post_comment, pull_request_event

# Real servers, act or dvc repro: left out by make test-fast.
pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def origin(tmp_path_factory: pytest.TempPathFactory, new_project: Path) -> Path:
    return make_origin(tmp_path_factory.mktemp("origin"), new_project)


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
    edit_params(repo / "params.yaml", {"train.linear.C": 0.05})


def break_the_data(repo: Path) -> None:
    """Switch to a data file in which one value of mean_texture is missing."""
    frame = load_source(make_settings().data)
    frame.loc[3, "mean_texture"] = None
    frame.to_csv(repo / "data" / "external" / "cancer.csv", index=False)
    file = {"data.source": "file", "data.path": "data/external/cancer.csv"}
    edit_params(repo / "params.yaml", file | dotted(CANCER_FILE))


def committed_metrics(repo: Path) -> dict[str, float]:
    metrics: dict[str, float] = json.loads((repo / "reports" / "evaluation" / "metrics.json").read_text())["test"]
    return metrics


def test_a_parameter_change_gets_a_report_that_the_comment_workflow_posts_to_its_pull_request(
    origin: Path, tmp_path: Path, github: tuple[str, GitHubState], cml: str
) -> None:
    repo, act, ran = open_pull_request(origin, tmp_path, 42, lower_regularisation)
    assert ran.returncode == 0, ran.stdout[-5000:]
    artifact = act.artifact("pr-report")
    report = (artifact / "report.md").read_text()
    main = committed_metrics(origin_clone(origin, tmp_path))
    assert report.startswith("## ")
    assert "| `train.linear.C` | `1.0` | `0.05` |" in report
    assert f"| **roc_auc** | {main['roc_auc']:.4f} | " in report and f"| **f1** | {main['f1']:.4f} | " in report
    assert "paired bootstrap 95% interval" in report  # same test set: the deltas carry intervals
    assert (artifact / "pr-number.txt").read_text() == "42\n"
    assert {"curves.png", "confusion_matrices.png", "report.json"} <= {p.name for p in artifact.iterdir()}

    state = github[1]
    comment = post_comment(act, origin, tmp_path, github, cml, 42, head(repo), conclusion="success")
    assert comment.startswith(report.splitlines()[0])  # the same verdict, rendered again by main's code
    assert f"| **f1** | {main['f1']:.4f} | " in comment and "https://asset.example/" in comment  # public: plots
    assert sorted(state.uploaded) == ["confusion_matrices.png", "curves.png"]


def test_broken_data_fails_the_check_with_a_report_naming_the_failed_expectation(
    origin: Path, tmp_path: Path, github: tuple[str, GitHubState], cml: str
) -> None:
    repo, act, ran = open_pull_request(origin, tmp_path, 7, break_the_data)
    assert ran.returncode != 0  # the check fails
    report = (act.artifact("pr-report") / "report.md").read_text()
    assert report.startswith("## ❌ Pipeline failed at stage `validate`")
    assert "| `mean_texture` | `values must not be missing` |" in report
    assert '| `data.source` | `"breast_cancer"` | `"file"` |' in report

    # A failed run still gets its comment; in a private repository, without the plots (they stay in the artifact).
    comment = post_comment(act, origin, tmp_path, github, cml, 7, head(repo), conclusion="failure", private=True)
    assert comment.startswith("## ❌ Pipeline failed at stage `validate`")
    assert "| `mean_texture` | `values must not be missing` |" in comment
    assert "![" not in comment.split("![](https://cml.dev/watermark.png")[0] and github[1].uploaded == []


def origin_clone(origin: Path, folder: Path) -> Path:
    return clone(origin, folder / "main-results")
