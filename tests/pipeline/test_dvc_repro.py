"""The real pipeline: ``dvc repro`` in a fresh copy of the project, as a newcomer or CI runs it."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
import yaml

from gitops_ml.core import paths
from gitops_ml.core.lineage import file_md5
from tests.support import CANCER_FILE, ROOT, git, merge, tool_env, unmeasured, write_params

# Real servers, act or dvc repro: left out by make test-fast.
pytestmark = pytest.mark.integration

STAGES = ("ingest", "validate", "split", "train", "evaluate", "package")


def run(project: Path, *command: str, measured: bool = True) -> subprocess.CompletedProcess[str]:
    env = tool_env(project) if measured else unmeasured(tool_env(project))
    return subprocess.run(list(command), cwd=project, env=env, capture_output=True, text=True, timeout=600)


def repro(project: Path, *, measured: bool = True) -> subprocess.CompletedProcess[str]:
    return run(project, "dvc", "repro", measured=measured)


def ran_stages(output: str) -> list[str]:
    return [stage for stage in STAGES if f"Running stage '{stage}'" in output]


@pytest.fixture(scope="module")
def reproduced(tmp_path_factory: pytest.TempPathFactory, new_project: Path) -> Path:
    """A fresh clone of a project whose results are committed, after one full ``dvc repro`` (shared: tests copy it
    before changing it)."""
    project = tmp_path_factory.mktemp("fresh") / "project"
    subprocess.run(["git", "clone", "-q", str(new_project), str(project)], check=True)
    result = repro(project, measured=False)  # the stages' code is measured by the tests that change a stage below
    assert result.returncode == 0, result.stdout + result.stderr
    # The validation report is committed (cache: false) and the re-ingested data is identical: DVC skips it.
    assert ran_stages(result.stdout) == ["ingest", "split", "train", "evaluate", "package"]
    return project


@pytest.fixture
def project(new_project: Path, tmp_path: Path) -> Path:
    """A private copy of a reproduced project, DVC cache and outputs included."""
    return Path(shutil.copytree(new_project, tmp_path / "project", symlinks=True))


def check_repro(project: Path) -> subprocess.CompletedProcess[str]:
    return run(project, "python", "-m", "gitops_ml", "check-repro")


def test_fresh_clone_reproduces_the_committed_results_on_any_cpu(reproduced: Path) -> None:
    # The committed dvc.lock was written on some machine; this CPU's BLAS kernel may give other model
    # bytes. The contract: same code, data and params, same metrics; the bytes may differ.
    checked = check_repro(reproduced)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.startswith("reproduces HEAD's results")
    changed = {line[3:] for line in git(reproduced, "status", "--porcelain").splitlines()}
    rebuilt = set(checked.stdout.partition("(expected on another CPU or OS): ")[2].strip().split(", ")) - {""}
    assert changed <= {"dvc.lock"} | rebuilt, changed  # nothing else in git differs: metrics, reports, suites
    assert run(reproduced, "dvc", "status", "dvc.yaml").stdout.strip() == "Data and pipelines are up to date."
    metrics = yaml.safe_load((reproduced / paths.METRICS).read_text())
    assert metrics["test"]["roc_auc"] > 0.95


def ci_clone(project: Path, folder: Path) -> Path:
    """A fresh clone of ``project`` with its DVC cache restored, as CI's cache step restores main's."""
    clone = folder / "ci"
    subprocess.run(["git", "clone", "-q", str(project), str(clone)], check=True)
    shutil.copytree(project / ".dvc" / "cache", clone / ".dvc" / "cache")
    return clone


def pull(project: Path) -> subprocess.CompletedProcess[str]:
    """What `make pull` runs without a DVC remote."""
    checkout = run(project, "dvc", "checkout", "--allow-missing")
    assert checkout.returncode == 0, checkout.stderr
    return run(project, "python", "-m", "gitops_ml", "restore")


def test_a_lock_written_on_another_cpu_restores_by_inputs_and_runs_no_stage(project: Path, tmp_path: Path) -> None:
    # Commit the lock as a machine with another BLAS kernel writes it: another model hash, same metrics.
    lock = (project / "dvc.lock").read_text()
    model_md5 = file_md5(project / paths.MODEL)
    (project / "dvc.lock").write_text(lock.replace(model_md5, "0123456789abcdef0123456789abcdef"))
    git(project, "commit", "-qam", "results from another machine")
    ci = ci_clone(project, tmp_path)

    restored = pull(ci)  # the cache lacks that model; its run-cache knows the train stage's inputs
    assert restored.returncode == 0, restored.stderr
    assert restored.stdout.strip().splitlines()[-1] == "restore: train restored from the run-cache"
    result = repro(ci)
    assert result.returncode == 0, result.stderr
    assert ran_stages(result.stdout) == []
    assert file_md5(ci / paths.MODEL) == model_md5 and (ci / paths.BENTO_MODEL_FILE).is_file()
    checked = check_repro(ci)
    assert checked.returncode == 0, checked.stdout
    assert f"{paths.MODEL}" in checked.stdout.partition("Rebuilt with other bytes")[2]


def test_a_committed_metric_the_run_does_not_reproduce_fails_the_check_naming_it(project: Path) -> None:
    metrics = yaml.safe_load((project / paths.METRICS).read_text())
    committed_f1 = metrics["test"]["f1"]
    metrics["test"]["f1"] = round(committed_f1 + 0.02, 6)
    (project / paths.METRICS).write_text(json.dumps(metrics))
    git(project, "commit", "-qam", "metrics edited by hand")
    subprocess.run(["git", "checkout", "HEAD~1", "--", str(paths.METRICS)], cwd=project, check=True)

    checked = check_repro(project)
    assert checked.returncode == 1
    assert f"metric test.f1 (reports/evaluation/metrics.json): {metrics['test']['f1']} -> {committed_f1}" in (
        checked.stdout
    )


def test_a_failed_evaluate_keeps_the_last_good_metrics_and_plots(project: Path) -> None:
    outputs = (paths.METRICS, paths.PREDICTIONS, paths.FIGURES_DIR / "roc.png", paths.PLOTS_DIR / "roc.csv")
    before = {output: file_md5(project / output) for output in outputs}
    write_params(project, evaluate={"calibration_bins": 1})

    result = repro(project)

    assert result.returncode != 0
    assert ran_stages(result.stdout) == ["evaluate"]
    assert "evaluate.calibration_bins: Input should be greater than or equal to 2" in result.stderr
    assert {output: file_md5(project / output) for output in outputs} == before


def test_second_clean_run_is_byte_identical(reproduced: Path, new_project: Path) -> None:
    """Two clean runs on this machine, in two folders: the one whose results the project committed, and its clone's."""
    for output in (paths.METRICS, paths.PREDICTIONS, paths.MODEL, paths.TRAIN_DATA, paths.VALIDATION_JSON):
        assert file_md5(new_project / output) == file_md5(reproduced / output), output


def test_nothing_changed_nothing_runs(project: Path) -> None:
    result = repro(project)
    assert result.returncode == 0
    assert ran_stages(result.stdout) == []


def test_a_training_param_reruns_only_train_evaluate_and_package(project: Path) -> None:
    write_params(project, train={"linear": {"C": 0.05}}, tracking={"enabled": True})
    result = repro(project)
    assert result.returncode == 0, result.stderr
    assert ran_stages(result.stdout) == ["train", "evaluate", "package"]
    assert run(project, "dvc", "status", "dvc.yaml").stdout.strip() == "Data and pipelines are up to date."
    diff = run(project, "dvc", "metrics", "diff", "--md").stdout
    assert "test.log_loss" in diff


def cancer_csv(project: Path, change: Callable[[pd.DataFrame], pd.DataFrame]) -> str:
    frame = change(pd.read_parquet(project / paths.RAW_DATA))
    frame.to_csv(project / "data/external/cancer.csv", index=False)
    return "data/external/cancer.csv"


def with_text(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.astype({"mean_perimeter": object})
    frame.loc[10, "mean_perimeter"] = "abc"
    return frame


def with_value(column: str, value: object, rows: list[int]) -> Callable[[pd.DataFrame], pd.DataFrame]:
    def change(frame: pd.DataFrame) -> pd.DataFrame:
        frame.loc[rows, column] = value
        return frame

    return change


# Each kind of bad data, with the line validate prints for it; test_validate checks each in process.
BAD_DATA = {
    "missing column": (lambda f: f.drop(columns="mean_radius"), "column 'mean_radius': column is missing"),
    "nulls where forbidden": (
        with_value("mean_texture", None, [3, 4, 5]),
        "column 'mean_texture': values must not be missing (expect_column_values_to_not_be_null; "
        "expected -); 3 unexpected",
    ),
    "out-of-range value": (
        with_value("mean_area", 1e6, [7]),
        "column 'mean_area': values out of range (expect_column_values_to_be_between; expected max_value=",
    ),
    "text in a numeric column": (with_text, "column 'mean_perimeter': values of the wrong type"),
    "unknown target label": (
        with_value("diagnosis", "unsure", [0]),
        "column 'diagnosis': values outside the allowed set (expect_column_values_to_be_in_set; "
        "expected value_set=['benign', 'malignant']); 1 unexpected, e.g. ['unsure']",
    ),
    "duplicate ids": (with_value("sample_id", 1, [1]), "column 'sample_id': values must be unique"),
}


def every_problem(frame: pd.DataFrame) -> pd.DataFrame:
    for change, _ in BAD_DATA.values():
        frame = change(frame)
    return frame


@pytest.mark.parametrize(
    ("case", "change", "messages"),
    [
        ("every kind of bad value at once", every_problem, [message for _, message in BAD_DATA.values()]),
        ("no rows", lambda f: f.head(0), ["table: row count out of range"]),
    ],
)
def test_bad_data_stops_at_validate_and_keeps_the_last_model(
    project: Path, case: str, change: Callable[[pd.DataFrame], pd.DataFrame], messages: list[str]
) -> None:
    # One real dvc repro per failure class: a table that loads but breaks expectations, and an empty one.
    before = {output: file_md5(project / output) for output in (paths.MODEL, paths.METRICS, paths.TRAIN_DATA)}
    write_params(project, **merge(CANCER_FILE, {"data": {"source": "file", "path": cancer_csv(project, change)}}))

    result = repro(project)

    assert result.returncode != 0
    assert "validate: error: validation failed" in result.stderr
    for message in messages:
        assert message in result.stderr, message
    assert ran_stages(result.stdout) == ["ingest", "validate"]
    assert {output: file_md5(project / output) for output in before} == before
    assert "Data validation FAILED" in (project / paths.VALIDATION_MARKDOWN).read_text()


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.csv", b"", "empty.csv: file is empty (no header, no rows)"),
        ("broken.parquet", b"PAR1 not really", "broken.parquet: cannot be read as PARQUET"),
        ("binary.csv", bytes(range(256)) * 4, "binary.csv: cannot be read as CSV"),
    ],
)
def test_unreadable_file_stops_at_ingest_and_keeps_the_last_model(
    project: Path, name: str, content: bytes, message: str
) -> None:
    model = file_md5(project / paths.MODEL)
    raw = file_md5(project / paths.RAW_DATA)
    (project / "data/external" / name).write_bytes(content)
    write_params(project, **merge(CANCER_FILE, {"data": {"source": "file", "path": f"data/external/{name}"}}))

    result = repro(project)

    assert result.returncode != 0
    assert f"ingest: error: data/external/{message}" in result.stderr
    assert "Traceback" not in result.stderr
    assert file_md5(project / paths.MODEL) == model
    assert file_md5(project / paths.RAW_DATA) == raw


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"train": {"linear": {"CC": 1.0}}}, "train.linear.CC: unknown key"),
        (
            {"train": {"linear": {"C": "strong"}}},
            "train.linear.C: Input should be a valid number",
        ),
    ],
)
def test_bad_params_stop_the_stage_with_the_key_named_and_keep_the_model(
    project: Path, overrides: dict[str, object], message: str
) -> None:
    model = file_md5(project / paths.MODEL)
    write_params(project, **overrides)

    result = repro(project)

    assert result.returncode != 0
    assert ran_stages(result.stdout) == ["train"]
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert file_md5(project / paths.MODEL) == model


def test_a_train_stage_whose_tracking_fails_keeps_the_last_model_and_names_the_server(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The model is written before it is logged: a tracking server that is down must not leave it."""
    model = file_md5(project / paths.MODEL)
    write_params(project, train={"model": "gradient_boosting"}, tracking={"enabled": True})
    with socket.socket() as closed:  # a port nothing listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://team:s3cret@127.0.0.1:{port}")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")

    result = repro(project)

    assert result.returncode != 0 and ran_stages(result.stdout) == ["train"]
    assert f"train: error: MLflow tracking at http://127.0.0.1:{port} failed: " in result.stderr
    assert "s3cret" not in result.stderr + result.stdout and "Traceback" not in result.stderr
    assert "train: the last good output stays in place: models/model.joblib" in result.stderr
    assert file_md5(project / paths.MODEL) == model


def test_missing_data_file_is_named_by_its_key_before_dvc_runs(project: Path) -> None:
    write_params(project, **merge(CANCER_FILE, {"data": {"source": "file", "path": "data/external/nowhere.csv"}}))
    result = run(project, "python", "-m", "gitops_ml", "check")
    assert result.returncode == 1
    assert "data.path: file 'data/external/nowhere.csv' does not exist" in result.stderr


def test_dvc_yaml_declares_the_paths_the_stages_write(new_project: Path) -> None:
    """As DVC resolves dvc.yaml and monitoring/dvc.yaml, against the paths the stages' code uses."""
    from dvc.repo import Repo

    with Repo(str(new_project)) as repo:
        resolved = {stage.name: stage for stage in repo.index.stages}

    def declared(stage: str) -> set[str]:
        return {str(out.def_path) for out in resolved[stage].outs}

    assert {str(paths.RAW_DATA)} == declared("ingest")
    assert {str(paths.VALIDATION_JSON), str(paths.VALIDATION_MARKDOWN)} == declared("validate")
    assert {str(paths.TRAIN_DATA), str(paths.TEST_DATA)} == declared("split")
    assert {str(paths.MODEL)} == declared("train")
    assert {str(paths.METRICS), str(paths.PREDICTIONS), str(paths.PLOTS_DIR), str(paths.FIGURES_DIR)} == declared(
        "evaluate"
    )
    assert {str(paths.BENTO_MODEL_FILE), str(paths.BENTO_METADATA)} == declared("package")
    drift = paths.DriftReport.under(paths.MONITORING_DIR)
    assert {str(drift.html), str(drift.json), str(drift.markdown)} == declared("drift")
    for stage in STAGES:
        assert f"src/gitops_ml/pipeline/{stage}.py" in {str(dep.def_path) for dep in resolved[stage].deps}
        assert resolved[stage].cmd == f"python -m gitops_ml {stage}"


def test_each_path_is_said_once_in_paths_yaml_not_again_in_a_dvc_yaml() -> None:
    def leaves(tree: object) -> list[str]:
        return [leaf for value in tree.values() for leaf in leaves(value)] if isinstance(tree, dict) else [str(tree)]

    declared = leaves(yaml.safe_load((ROOT / "src/gitops_ml/core/paths.yaml").read_text()))
    assert str(paths.MODEL) in declared
    for dvc_yaml in (ROOT / "dvc.yaml", ROOT / "monitoring" / "dvc.yaml"):
        text = dvc_yaml.read_text()
        assert "paths.yaml" in text
        written = [path for path in declared if path in text]
        assert not written, f"{dvc_yaml.name}: write ${{paths...}} instead of {written}"
