"""The multiclass and the regression task end to end, each from one params change on a fresh copy:
the real ``dvc repro``, the pull-request report of a param change on a feature branch, the Bento
served by ``bentoml serve`` and asked over HTTP, and the drift report of what the service logged.
(The binary task is the default: the other integration tests run it.)
"""

from __future__ import annotations

import json
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from gitops_ml.core import paths
from tests.support import copy_project, edit_params, free_port, git, tool_env, wait_until_healthy

pytestmark = pytest.mark.integration

# The task's metrics, in the report's order, and the fields of the service's answer to one record.
TASKS = {
    "wine": ("multiclass", ["macro_f1", "roc_auc_ovr"], {"id", "label", "probabilities"}),
    "diabetes": ("regression", ["r2"], {"id", "value"}),
}


def run(project: Path, *command: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(command, cwd=project, env=tool_env(project), capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


@pytest.fixture(scope="module", params=sorted(TASKS))
def project(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """main with the task's committed results (one params change), and a feature branch changing C."""
    source = request.param
    project = copy_project(tmp_path_factory.mktemp(source) / "project")
    edit_params(project / "params.yaml", {"data.source": source})
    repro = run(project, "dvc", "repro")
    assert f"task: {TASKS[source][0]} (inferred" in repro.stdout
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", f"{source} results")
    git(project, "checkout", "-q", "-b", "weaker-regularisation")
    edit_params(project / "params.yaml", {"train.linear.C": 0.05})
    run(project, "dvc", "repro")
    yield project


def test_the_report_compares_the_tasks_metrics_on_the_same_records(project: Path) -> None:
    source = yaml_source(project)
    task, deciding, _ = TASKS[source]
    run(project, "python", "-m", "gitops_ml", "report", "--base", "main", "--out", "reports/pr")
    summary = json.loads((project / "reports/pr/report.json").read_text())
    assert (summary["task"], summary["base_task"], summary["same_test_set"]) == (task, task, True)
    metrics = json.loads((project / paths.METRICS).read_text())["test"]
    assert [c["metric"] for c in summary["changes"]][: len(deciding)] == deciding
    for change in summary["changes"]:
        assert change["new"] == pytest.approx(metrics[change["metric"]])
        assert change["low"] <= change["new"] - change["base"] <= change["high"]  # the paired interval
    report = (project / "reports/pr/report.md").read_text()
    assert "| `train.linear.C` | `1.0` | `0.05` |" in report
    figure = "roc_ovr.png" if task == "multiclass" else "predicted_vs_actual.png"
    assert f"](./{figure})" in report and (project / "reports/pr" / figure).is_file()


def test_the_service_answers_the_task_and_the_drift_report_reads_its_log(project: Path) -> None:
    source = yaml_source(project)
    task, _, fields = TASKS[source]
    run(project, "python", "-m", "gitops_ml", "bento", "--version", "task-test")
    log = project / "served" / "predictions.jsonl"
    port = free_port()
    env = tool_env(project) | {"GITOPS_ML_PREDICTION_LOG": str(log), "GITOPS_ML_DRAIN_SECONDS": "0"}
    env.pop("PYTHONPATH", None)
    with (project / "serve.log").open("w") as sink:
        process = subprocess.Popen(
            ["bentoml", "serve", "gitops-ml-classifier:task-test", "--host", "127.0.0.1", "--port", str(port)],
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
