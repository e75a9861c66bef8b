from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from gitops_ml.core import paths
from gitops_ml.core.errors import PipelineError
from gitops_ml.core.settings import Settings
from gitops_ml.quality.metrics import METRICS
from gitops_ml.report import build
from tests.support import git, make_settings, write_params

N = 120


def write_results(
    folder: Path,
    *,
    wrong: int,
    ids_from: int = 0,
    validation: str = "### Data validation passed\n",
    recorded: bool = True,
) -> None:
    """Committed pipeline results: predictions where the model is wrong on the first ``wrong`` records."""
    actual = ["malignant" if i % 3 == 0 else "benign" for i in range(N)]
    probability = [(0.8 if a == "malignant" else 0.2) for a in actual]
    probability = [1 - p if i < wrong else p for i, p in enumerate(probability)]
    frame = pd.DataFrame(
        {
            "sample_id": range(ids_from, ids_from + N),
            "actual": actual,
            "predicted": ["malignant" if p >= 0.5 else "benign" for p in probability],
            "probability": probability,
        }
    )
    paths.PREDICTIONS.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(folder / paths.PREDICTIONS, index=False)
    accuracy = 1 - wrong / N
    metrics = dict.fromkeys(METRICS, accuracy) | {"log_loss": 0.1 + wrong / N}
    (folder / paths.METRICS).write_text(json.dumps({"test": metrics, "train": metrics}))
    write_validation(folder, [], recorded=recorded)


def write_validation(folder: Path, failures: list[dict[str, object]], *, recorded: bool = True) -> None:
    """The validate stage's report.json, as it writes it (``recorded``: with the target, as since tasks)."""
    report = {"columns": 4, "data": "data/raw/dataset.parquet", "evaluated": 97, "failures": failures,
              "rows": N, "success": not failures, "suite": "data/expectations/breast_cancer.json"}  # fmt: skip
    if recorded and not failures:
        report["target"] = {"task": "binary", "classes": ["benign", "malignant"]}
    (folder / paths.VALIDATION_JSON).parent.mkdir(parents=True, exist_ok=True)
    (folder / paths.VALIDATION_JSON).write_text(json.dumps(report))


@pytest.fixture
def repo(workdir: Path) -> Path:
    """A git repository whose main branch holds a model wrong on 24 of 120 test records."""
    (workdir / "dvc.lock").write_text("schema: '2.0'\n")
    write_results(workdir, wrong=24)
    git(workdir, "init", "-q", "-b", "main")
    git(workdir, "add", "-A")
    git(workdir, "commit", "-q", "-m", "main's model")
    return workdir


def make_report(settings: Callable[..., Settings], out: Path, **options: object) -> str:
    build.run(settings(), "main", out, **options)  # type: ignore[arg-type]
    return (out / build.REPORT).read_text()


def test_a_better_model_with_a_changed_param_is_reported_beyond_noise(
    repo: Path, settings: Callable[..., Settings]
) -> None:
    write_params(repo, train={"linear": {"C": 0.5}})
    write_results(repo, wrong=0)
    text = make_report(settings, repo / "out", pr_number="12")
    assert text.splitlines()[0] == "## 🟢 Better than `main`, beyond noise"
    assert "| `train.linear.C` | `1.0` | `0.5` |" in text
    assert "| **f1** | 0.8000 | 1.0000 | +0.2000 [" in text
    assert "![ROC and precision-recall curves](./curves.png)" in text and (repo / "out" / "curves.png").is_file()
    assert "✅ CI reproduced this branch's committed results byte for byte (`dvc.lock`)." in text
    assert (repo / "out" / build.PR_NUMBER_FILE).read_text() == "12\n"
    assert "![" not in (repo / "out" / build.REPORT_WITHOUT_IMAGES).read_text()


def test_a_base_from_before_tasks_is_read_as_the_binary_model_it_is(
    workdir: Path, settings: Callable[..., Settings]
) -> None:
    (workdir / "dvc.lock").write_text("schema: '2.0'\n")
    write_results(workdir, wrong=24, recorded=False)  # its validation report names no target
    git(workdir, "init", "-q", "-b", "main")
    git(workdir, "add", "-A")
    git(workdir, "commit", "-q", "-m", "main's model, before tasks")
    write_results(workdir, wrong=0)
    text = make_report(settings, workdir / "out")
    assert text.splitlines()[0] == "## 🟢 Better than `main`, beyond noise"


def test_a_change_of_task_is_said_and_not_compared(repo: Path, settings: Callable[..., Settings]) -> None:
    values = pd.DataFrame({"sample_id": range(N), "actual_value": [float(i) for i in range(N)]})
    values.assign(predicted_value=values["actual_value"] + 1).to_csv(repo / paths.PREDICTIONS, index=False)
    metrics = {"mae": 1.0, "rmse": 1.0, "r2": 0.99}
    (repo / paths.METRICS).write_text(json.dumps({"test": metrics, "train": metrics}))
    report = json.loads((repo / paths.VALIDATION_JSON).read_text()) | {"target": {"task": "regression", "classes": []}}
    (repo / paths.VALIDATION_JSON).write_text(json.dumps(report))
    text = make_report(settings, repo / "out")
    assert text.splitlines()[0] == (
        "## 🆕 New task: `main` has a binary model, this PR a regression one; nothing to compare"
    )
    assert "| **r2** | n/a | 0.9900 | n/a |" in text and "roc_auc" not in text
    assert "![Predicted against actual, and the residuals](./predicted_vs_actual.png)" in text


def test_a_regression_is_worse(repo: Path, settings: Callable[..., Settings]) -> None:
    write_results(repo, wrong=40)
    text = make_report(settings, repo / "out")
    assert text.startswith("## 🔴 Worse than `main`, beyond noise")
    assert "No parameter changed." in text


def test_different_test_sets_are_said_not_compared_record_by_record(
    repo: Path, settings: Callable[..., Settings]
) -> None:
    write_results(repo, wrong=0, ids_from=1000)
    text = make_report(settings, repo / "out")
    assert text.splitlines()[0] == "## 🟢 Better than `main` (test sets differ: not checked against noise)"
    assert "The test sets differ" in text
    assert "[+" not in text  # no intervals


def test_a_failed_validation_names_the_stage_and_the_failed_expectation(
    repo: Path, settings: Callable[..., Settings]
) -> None:
    missing = {"expectation": "expect_column_values_to_not_be_null", "column": "mean_radius",
               "description": "values must not be missing", "expected": {}, "unexpected_count": 2,
               "sample_values": [], "observed": None}  # fmt: skip
    write_validation(repo, [missing])
    log = repo / "repro.log"
    log.write_text(
        "Running stage 'validate':\nvalidate: error: 1 of 97 expectations failed\n"
        "ERROR: failed to reproduce 'validate': failed to run: python -m gitops_ml validate, exited with 1\n"
    )
    text = make_report(settings, repo / "out", repro_succeeded=False, repro_log=log)
    assert text.startswith("## ❌ Pipeline failed at stage `validate`")
    assert "| `mean_radius` | `values must not be missing` | `-` | 2 |  |" in text
    assert "exited with 1" in text  # the log's tail
    assert "| **roc_auc** | 0.8000 | n/a | n/a |" in text  # main's figures only: this branch has none


def test_a_first_pull_request_has_nothing_to_compare_with(workdir: Path, settings: Callable[..., Settings]) -> None:
    git(workdir, "init", "-q", "-b", "main")
    git(workdir, "add", "-A")
    git(workdir, "commit", "-q", "-m", "template, before any run")
    write_results(workdir, wrong=3)
    (workdir / "dvc.lock").write_text("schema: '2.0'\n")
    text = make_report(settings, workdir / "out")
    assert text.startswith("## 🆕 First model: `main` has no committed metrics")


def test_bad_arguments_are_named(repo: Path, settings: Callable[..., Settings]) -> None:
    with pytest.raises(PipelineError, match="--base no-such-branch"):
        build.run(settings(), "no-such-branch", repo / "out")
    with pytest.raises(PipelineError, match="--pr-number"):
        build.run(settings(), "main", repo / "out", pr_number="12; rm -rf /")


def test_a_failed_run_names_the_dvc_tracked_data_missing_from_the_checkout(workdir: Path) -> None:
    for name in ("cancer.csv", "labels.csv"):
        (workdir / "data" / "external" / f"{name}.dvc").write_text(f"outs:\n- md5: 0123\n  path: {name}\n")
    (workdir / "data" / "external" / "labels.csv").write_text("id,label\n")  # pulled
    for name, text in {"notes.dvc": "not: [dvc's", "odd.dvc": "outs: [1, {md5: x}]", "list.dvc": "- a"}.items():
        (workdir / name).write_text(text)  # not DVC's own: left to dvc repro to name
    git(workdir, "init", "-q")
    git(workdir, "add", "-A")
    log = workdir / "repro.log"
    log.write_text("check: error: params.yaml: data.path: file 'data/external/cancer.csv' does not exist\n")
    outcome = build.reproduction_outcome(False, log, make_settings())
    assert (outcome.failed_stage, outcome.missing_data) == ("check", ["data/external/cancer.csv"])
