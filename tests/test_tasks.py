"""The multiclass and the regression task end to end, each from one params change on a fresh copy:
the real ``dvc repro``; a pull request changing a parameter, whose pipeline job act runs as GitHub
would and whose report the comment workflow posts with the real CML; the Bento served by ``bentoml
serve`` and asked over HTTP; and the drift report of what the service logged. (The binary task is the
default: the other integration tests run it.)
"""

from __future__ import annotations

import json
import re
import subprocess
import urllib.request
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from gitops_ml import NAME
from gitops_ml.core import paths
from gitops_ml.team.stack import free_port
from tests.github_standin import GitHubState
from tests.support import copy_project, edit_params, git, tool_env, unmeasured, wait_until_healthy
from tests.workflow_runner import Act, clone, head, post_comment, pull_request_event, seed_cache

pytestmark = pytest.mark.integration

# The task's metrics, in the report's order, its figures, and the fields of the service's answer to one record.
TASKS = {
    "wine": ("multiclass", ["macro_f1", "roc_auc_ovr"], ["confusion_matrices.png", "roc_ovr.png"],
             {"id", "label", "probabilities"}),
    "diabetes": ("regression", ["r2"], ["predicted_vs_actual.png"], {"id", "value"}),
}  # fmt: skip
PR_NUMBER = 5


def run(project: Path, *command: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(command, cwd=project, env=tool_env(project), capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


@pytest.fixture(scope="module", params=sorted(TASKS))
def project(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """main with the task's committed results: one params change, then ``dvc repro``."""
    source = request.param
    project = copy_project(tmp_path_factory.mktemp(source) / "project")
    # Tracking is tests/core/test_tracking.py's, and its local store costs seconds in each stage here.
    edit_params(project / "params.yaml", {"data.source": source, "tracking.enabled": False})
    env = unmeasured(tool_env(project))  # the stages' code for each task is measured in-process elsewhere
    repro = subprocess.run(["dvc", "repro"], cwd=project, env=env, capture_output=True, text=True, timeout=600)
    assert repro.returncode == 0, repro.stdout[-3000:] + repro.stderr[-3000:]
    assert f"task: {TASKS[source][0]} (inferred" in repro.stdout
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", f"{source} results")
    return project


@pytest.fixture(scope="module")
def pull_request(project: Path) -> tuple[Path, Path, Act]:
    """A branch lowering C, its pipeline job run by act with main's DVC cache restored, as on GitHub."""
    folder = project.parent
    origin = folder / "origin.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(project), str(origin)], check=True)
    repo = clone(origin, folder / "pull-request")
    git(repo, "checkout", "-q", "-b", "weaker-regularisation")
    edit_params(repo / "params.yaml", {"train.linear.C": 0.05})
    git(repo, "commit", "-q", "-am", "Weaker regularisation")
    caches = folder / "saved-caches"
    seed_cache(caches, "dvc-from-main", ".dvc/cache", project / ".dvc" / "cache")
    act = Act.create(folder / "act", STANDIN_CACHE=str(caches))
    ran = act.run(repo, "pull_request", pull_request_event(PR_NUMBER, repo), "pull-request.yml", "-j", "pipeline")
    assert ran.returncode == 0, ran.stdout[-5000:]
    return origin, repo, act


def test_the_pull_request_report_compares_the_tasks_metrics_and_its_comment_is_posted(
    project: Path, pull_request: tuple[Path, Path, Act], tmp_path: Path, github: tuple[str, GitHubState], cml: str
) -> None:
    origin, repo, act = pull_request
    task, deciding, figures, _ = TASKS[yaml_source(project)]
    artifact = act.artifact("pr-report")
    stages_run = re.findall(r"Running stage '(\w+)'", (artifact / "repro.log").read_text())
    assert stages_run == ["train", "evaluate", "package"]  # main's outputs came from the restored cache
    summary = json.loads((artifact / "report.json").read_text())
    assert (summary["task"], summary["base_task"], summary["same_test_set"]) == (task, task, True)
    main = json.loads((project / paths.METRICS).read_text())["test"]
    assert [c["metric"] for c in summary["changes"]][: len(deciding)] == deciding
    for change in summary["changes"]:
        assert change["base"] == pytest.approx(main[change["metric"]])
        assert change["low"] <= change["new"] - change["base"] <= change["high"]  # the paired interval
    report = (artifact / "report.md").read_text()
    assert "| `train.linear.C` | `1.0` | `0.05` |" in report
    assert all(f"](./{figure})" in report and (artifact / figure).is_file() for figure in figures)

    comment = post_comment(act, origin, tmp_path, github, cml, PR_NUMBER, head(repo), conclusion="success")
    assert comment.startswith(report.splitlines()[0])  # the same verdict, rendered again by main's code
    assert f"| **{deciding[0]}** | {main[deciding[0]]:.4f} | " in comment
    assert sorted(github[1].uploaded) == figures


def test_the_service_answers_the_task_and_the_drift_report_reads_its_log(project: Path) -> None:
    source = yaml_source(project)
    task, _, _, fields = TASKS[source]
    run(project, "python", "-m", "gitops_ml", "bento", "--version", "task-test")
    log = project / "served" / "predictions.jsonl"
    port = free_port()
    env = tool_env(project) | {"GITOPS_ML_PREDICTION_LOG": str(log), "GITOPS_ML_DRAIN_MAX_SECONDS": "0"}
    env.pop("PYTHONPATH", None)
    with (project / "serve.log").open("w") as sink:
        process = subprocess.Popen(
            ["bentoml", "serve", f"{NAME}:task-test", "--host", "127.0.0.1", "--port", str(port)],
            cwd=project.parent, env=env, stdout=sink, stderr=subprocess.STDOUT,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(f"{url}/readyz", process, project / "serve.log", 90)
        model = get(f"{url}/model")
        assert (model["task"], model["target"]) == (task, settings_target(source))
        rows = pd.concat([pd.read_parquet(project / p) for p in (paths.TRAIN_DATA, paths.TEST_DATA)])
        records = json.loads(rows.drop(columns=[settings_target(source)]).to_json(orient="records"))
        answers = [a for start in range(0, len(records), 200) for a in post(url, records[start : start + 200])]
        assert len(answers) == len(records) and all(set(answer) == fields for answer in answers)
        ids = rows.iloc[:, 0].tolist()
        assert [answer["id"] for answer in answers] == ids  # the id column, echoed back
        if task == "multiclass":
            classes = {"class_0", "class_1", "class_2"}
            assert all(a["label"] in classes and set(a["probabilities"]) == classes for a in answers)
            assert all(abs(sum(a["probabilities"].values()) - 1) < 1e-5 for a in answers)
        else:
            assert all(isinstance(a["value"], float) for a in answers)
        scraped = urllib.request.urlopen(f"{url}/metrics", timeout=10).read().decode()
        histogram = "gitops_ml_predicted_class_probability" if task == "multiclass" else "gitops_ml_predicted_value"
        assert f"{histogram}_count {float(len(records))}" in scraped
    finally:
        process.terminate()
        process.wait(timeout=60)

    drift = run(project, "python", "-m", "gitops_ml", "monitor", "--current", str(log), "--out", "reports/drift")
    summary = json.loads((project / "reports/drift/drift.json").read_text())
    column = "prediction_label" if task == "multiclass" else "prediction_value"
    assert summary["prediction"]["column"] == column and summary["prediction"]["source"] == "logged by the service"
    assert not summary["drift"], drift.stdout  # the data it was trained and tested on


def yaml_source(project: Path) -> str:
    text = (project / "params.yaml").read_text()
    return next(source for source in TASKS if f"source: {source}" in text)


def settings_target(source: str) -> str:
    from gitops_ml.core.settings import EMBEDDED_SOURCES

    return str(EMBEDDED_SOURCES[source]["target"])


def get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=30) as response:
        return json.loads(response.read())


def post(url: str, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    request = urllib.request.Request(
        f"{url}/predict_batch", json.dumps({"records": records}).encode(), {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        answers: list[dict[str, Any]] = json.loads(response.read())
    return answers
