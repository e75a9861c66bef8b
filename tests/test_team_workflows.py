"""The pull-request workflow against the team's servers, run by act: data on the S3 remote, runs on MLflow.

main keeps its own data file on the team's DVC remote (moto's S3, every request signed), pushed from a
laptop clone. A pull request from a branch of the repository pulls it with the read-only key, passed
as secrets, and tracks its training on the team's MLflow server; a fork's pull request gets no
secrets, and its report says which data was missing. The repository variable TRAINING_RUNNER moves
the job to a bigger runner, never for a fork.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from gitops_ml.core.settings import dotted
from gitops_ml.pipeline.ingest import load_source
from gitops_ml.team import stack
from gitops_ml.team.stack import Stack
from tests.support import CANCER_FILE, edit_params, git, make_settings, tool_env, unmeasured
from tests.workflow_runner import (
    Act,
    as_secrets,
    clone,
    logs_and_artifacts,
    make_origin,
    pull_request_event,
    team_runner,
)

# Real servers, act or dvc repro: left out by make test-fast.
pytestmark = pytest.mark.integration

DATA = "data/external/cancer.csv"
RUNNER = "team-training"  # the label a team gives its bigger runner


def run(repo: Path, *command: str, env: dict[str, str]) -> None:
    environment = unmeasured(tool_env(repo)) | env  # the laptop's set-up: the pipeline is measured elsewhere
    done = subprocess.run(command, cwd=repo, env=environment, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


@pytest.fixture(scope="module")
def origin(team: Stack, tmp_path_factory: pytest.TempPathFactory, new_project: Path) -> Path:
    """main with its data in a file that DVC tracks on the team's remote: reproduced and pushed from a laptop."""
    folder = tmp_path_factory.mktemp("team-origin")
    origin = make_origin(folder, new_project)
    laptop = clone(origin, folder / "laptop")
    load_source(make_settings().data).to_csv(laptop / DATA, index=False)
    edit_params(laptop / "params.yaml", {"data.source": "file", "data.path": DATA} | dotted(CANCER_FILE))
    on_s3 = team.s3.keys["dvc-write"].env() | {"AWS_ENDPOINT_URL_S3": team.s3.endpoint}
    run(laptop, "dvc", "add", DATA, env=on_s3)
    run(laptop, "dvc", "remote", "add", "-d", "team", stack.DVC_REMOTE, env=on_s3)
    run(laptop, "dvc", "repro", env=on_s3)
    git(laptop, "add", "-A")
    git(laptop, "commit", "-q", "-m", "Our data, on the team's remote")
    run(laptop, "dvc", "push", "--run-cache", env=on_s3)
    git(laptop, "push", "-q", str(origin), "HEAD:main")
    return origin


def pull_request(origin: Path, folder: Path) -> Path:
    repo = clone(origin, folder / "repo")
    git(repo, "checkout", "-q", "-b", "weaker-regularisation")
    edit_params(repo / "params.yaml", {"train.linear.C": 0.05})
    git(repo, "commit", "-q", "-am", "Weaker regularisation")
    return repo


def test_a_pull_request_pulls_the_data_with_the_read_only_key_and_links_its_run_on_the_team_server(
    origin: Path, team: Stack, tmp_path: Path
) -> None:
    repo = pull_request(origin, tmp_path)
    act = Act.create(tmp_path / "act")
    event = pull_request_event(7, repo)
    runner = ("--var", f"TRAINING_RUNNER={RUNNER}")

    # The repository variable names the runner: act has no such runner, so it says which label it looked for.
    elsewhere = act.run(repo, "pull_request", event, "pull-request.yml", "-j", "pipeline", *runner)
    assert f"Skipping unsupported platform -- Try running with `-P {RUNNER}=...`" in elsewhere.stdout

    reader = team.s3.keys["dvc-read"]
    secrets = {f"DVC_READ_{name}": value for name, value in reader.env().items()} | team.tracking.credentials()
    ran = act.run(
        repo, "pull_request", event, "pull-request.yml", "-j", "pipeline", *runner, "-P", f"{RUNNER}=-self-hosted",
        *as_secrets(secrets), *team_runner(team),
    )  # fmt: skip
    assert ran.returncode == 0, ran.stdout[-5000:]
    artifact = act.artifact("pr-report")
    stages_run = re.findall(r"Running stage '(\w+)'", (artifact / "repro.log").read_text())
    assert stages_run == ["train", "evaluate", "package"]  # the data and its split came from the remote
    report = (artifact / "report.md").read_text()
    assert f"]({team.tracking.url}/#/experiments/" in report  # the run's page on the team's server
    history = git(origin, "log", "-p", "--all")  # what the repository holds: the remote's name, no key
    for secret in (*reader.env().values(), *team.s3.keys["dvc-write"].env().values(), team.tracking.token):
        assert not any(secret in text for text in [history, *logs_and_artifacts(act, elsewhere, ran)])


def test_a_forks_pull_request_gets_no_credentials_no_bigger_runner_and_a_report_naming_the_missing_data(
    origin: Path, tmp_path: Path
) -> None:
    repo = pull_request(origin, tmp_path)
    act = Act.create(tmp_path / "act")
    event = pull_request_event(8, repo, fork="someone/gitops-ml")
    # GitHub gives a fork's pull request no secrets; the variable is set, and ignored for a fork.
    ran = act.run(
        repo, "pull_request", event, "pull-request.yml", "-j", "pipeline", "--var", f"TRAINING_RUNNER={RUNNER}"
    )
    assert ran.returncode != 0  # the report's step fails the check
    assert "Skipping unsupported platform" not in ran.stdout
    report = (act.artifact("pr-report") / "report.md").read_text()
    assert report.startswith("## ❌ Data missing from this checkout (1 DVC-tracked): no model to compare with `main`")
    assert f"Missing data, tracked by DVC but not in this checkout: `{DATA}`." in report
    assert "pull requests from forks get no credentials" in report
