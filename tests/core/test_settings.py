from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from gitops_ml.cli import main
from gitops_ml.core.errors import SettingsError
from gitops_ml.core.settings import embedded_suite, load_settings, parse_params
from tests.support import FILE_SUITE, ROOT, SUITES, edit_params, params, write_params


def test_project_params_load_with_the_default_dataset(workdir: Path) -> None:
    settings = load_settings(workdir / "params.yaml")
    assert settings.data.source == "breast_cancer"
    assert (settings.data.negative_class, settings.data.positive_class) == ("benign", "malignant")
    assert settings.train.hyperparameters == settings.train.linear


@pytest.mark.parametrize(
    ("source", "target", "ids", "suite"),
    [("wine", "cultivar", ("sample_id",), "wine"), ("diabetes", "progression", ("patient_id",), "diabetes")],
)
def test_an_embedded_source_is_one_params_change(
    workdir: Path, source: str, target: str, ids: tuple[str], suite: str
) -> None:
    edit_params(workdir / "params.yaml", {"data.source": source})
    settings = load_settings(workdir / "params.yaml")
    assert (settings.data.target, settings.data.id_columns, settings.data.positive_class) == (target, ids, None)
    assert (settings.validate_.suite, embedded_suite(settings.data)) == (None, suite)
    assert (SUITES / f"{suite}.json").is_file()


@pytest.mark.parametrize(
    ("task", "target", "positive"), [(None, "churned", "yes"), ("multiclass", "satisfaction", None),
                                     ("regression", "lifetime_value", None)],
)  # fmt: skip
def test_the_synthetic_tables_target_follows_the_task(
    workdir: Path, task: str | None, target: str, positive: str | None
) -> None:
    edit_params(workdir / "params.yaml", {"data.source": "synthetic", "data.task": task})
    settings = load_settings(workdir / "params.yaml")
    assert (settings.data.target, settings.data.positive_class, settings.data.id_columns) == (
        target, positive, ("customer_id",)
    )  # fmt: skip
    assert embedded_suite(settings.data) == f"synthetic_{task or 'binary'}"
    assert (SUITES / f"{embedded_suite(settings.data)}.json").is_file()


def test_a_key_set_beside_an_embedded_source_wins(workdir: Path) -> None:
    edit_params(workdir / "params.yaml", {"data.id_columns": [], "data.positive_class": "benign"})
    edit_params(workdir / "params.yaml", {"data.negative_class": "malignant"})
    settings = load_settings(workdir / "params.yaml")
    assert (settings.data.id_columns, settings.data.positive_class) == ((), "benign")


def test_a_file_source_needs_its_target_and_suite(workdir: Path) -> None:
    (workdir / "data/external/table.csv").write_text("a,label\n1,2\n")
    message = error_for(workdir, data={"source": "file", "path": "data/external/table.csv"})
    assert "data.target: required key is missing" in message
    message = error_for(workdir, data=FILE | {"path": "data/external/table.csv"})
    assert "validate.suite: required with data.source: file (`python -m gitops_ml suggest-suite` drafts one" in message


def test_classes_are_for_a_binary_task(workdir: Path) -> None:
    message = error_for(workdir, data={"task": "regression"})
    assert "positive_class and negative_class are for a binary task, not regression: set them to null" in message


FILE = {"source": "file", "target": "label"}
SUITE = FILE_SUITE


def error_for(workdir: Path, **overrides: object) -> str:
    write_params(workdir, **overrides)
    with pytest.raises(SettingsError) as caught:
        load_settings(workdir / "params.yaml")
    return str(caught.value)


def test_unknown_key_is_named_with_the_keys_that_block_accepts(workdir: Path) -> None:
    message = error_for(workdir, train={"linear": {"CC": 2.0}})
    assert "train.linear.CC: unknown key; expected one of: C, class_weight, max_iter" in message


def test_unknown_section_is_named(workdir: Path) -> None:
    message = error_for(workdir, trian={"model": "linear"})
    sections = "compare, data, evaluate, model_card, monitor, reproducibility, split, tracking, train, validate"
    assert f"trian: unknown key; expected one of: {sections}" in message


def test_wrong_type_names_the_key_and_the_value(workdir: Path) -> None:
    message = error_for(workdir, train={"linear": {"C": "abc"}})
    assert "train.linear.C: Input should be a valid number" in message
    assert "'abc'" in message


def test_out_of_range_value_is_rejected(workdir: Path) -> None:
    assert "split.test_size: Input should be less than 1" in error_for(workdir, split={"test_size": 1.5})


def test_unknown_model_family_lists_the_choices(workdir: Path) -> None:
    message = error_for(workdir, train={"model": "random_forest"})
    assert "train.model: Input should be 'linear' or 'gradient_boosting'" in message


def test_the_comparison_must_decide_on_known_metrics(workdir: Path) -> None:
    # The overrides merge into the project's thresholds, so replace the whole block to empty it.
    message = error_for(workdir, compare={"thresholds": {"binary": {"roc_auc": 0.005, "auc": 0.01}}})
    assert "compare.thresholds.binary.auc" in message
    message = error_for(workdir, compare={"thresholds": {"regression": {"f1": 0.01}}})
    assert "compare.thresholds.regression.f1" in message  # a metric of another task
    write_params(workdir)
    edit_params(workdir / "params.yaml", {"compare.thresholds.multiclass": {}})
    with pytest.raises(SettingsError, match="multiclass: name at least one metric"):
        load_settings(workdir / "params.yaml")


def test_missing_data_file_is_named(workdir: Path) -> None:
    message = error_for(workdir, data=FILE | {"path": "data/external/missing.csv"}, validate=SUITE)
    assert "data.path: file 'data/external/missing.csv' does not exist" in message


@pytest.mark.parametrize("kind", ["csv", "parquet"])
@pytest.mark.parametrize(
    ("data", "expected"),
    [({"target": "Label"}, "data.target: no column 'Label'"),
     ({"id_columns": ["row", "ref"]}, "data.id_columns: no column 'ref'"),
     ({"feature_types": {"colour": "categorical"}}, "data.feature_types: no column 'colour'")],
)  # fmt: skip
def test_a_column_the_data_settings_name_must_be_in_the_files_header(
    workdir: Path, kind: str, data: dict[str, object], expected: str
) -> None:
    import pandas as pd

    path = workdir / f"data/external/table.{kind}"
    table = pd.DataFrame({"row": [1, 2], "size": [0.5, 0.7], "label": ["a", "b"]})
    table.to_csv(path, index=False) if kind == "csv" else table.to_parquet(path, index=False)
    message = error_for(workdir, data=FILE | {"path": str(path.relative_to(workdir))} | data, validate=SUITE)
    assert f"{expected} in data/external/table.{kind} (its columns: row, size, label)" in message


def test_data_file_of_an_unsupported_kind_is_rejected(workdir: Path) -> None:
    (workdir / "data/external/table.xlsx").write_bytes(b"x")
    message = error_for(workdir, data=FILE | {"path": "data/external/table.xlsx"}, validate=SUITE)
    assert "data.path: 'data/external/table.xlsx' must end in one of .csv, .parquet" in message


def test_missing_suite_file_is_named(workdir: Path) -> None:
    assert "validate.suite: file 'nope.json' does not exist" in error_for(workdir, validate={"suite": "nope.json"})


def test_missing_required_key_is_named(workdir: Path) -> None:
    raw = params()
    raw["data"]["source"] = "file"
    del raw["data"]["target"]
    (workdir / "params.yaml").write_text(yaml.safe_dump(raw))
    with pytest.raises(SettingsError, match=r"data\.target: required key is missing"):
        load_settings(workdir / "params.yaml")


def test_identical_classes_are_rejected(workdir: Path) -> None:
    assert "positive_class and negative_class must differ" in error_for(workdir, data={"negative_class": "malignant"})


def test_invalid_yaml_is_reported_as_such(workdir: Path) -> None:
    (workdir / "params.yaml").write_text("data: [unclosed\n")
    with pytest.raises(SettingsError, match="not valid YAML"):
        load_settings(workdir / "params.yaml")


def test_check_command_prints_the_key_without_a_traceback(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_params(workdir, evaluate={"threshold": "high"})
    assert main(["check"]) == 1
    err = capsys.readouterr().err
    assert "check: error: params.yaml: 1 invalid setting(s):" in err
    assert "evaluate.threshold" in err
    assert "Traceback" not in err


def test_check_command_accepts_the_project_params(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check"]) == 0
    assert capsys.readouterr().out == "params.yaml: ok\n"


def test_check_names_each_key_a_stage_reads_before_dvc_refuses_to_run(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The settings model has a default for every key; DVC has none, and stops every stage when a key it tracks is
    gone (as removing a regression's "binary only" classes did)."""
    for pipeline in ("dvc.yaml", "monitoring/dvc.yaml"):
        (workdir / pipeline).parent.mkdir(exist_ok=True)
        shutil.copy(ROOT / pipeline, workdir / pipeline)
    raw = params(data={"source": "diabetes"})
    for key in ("positive_class", "negative_class"):
        del raw["data"][key]
    del raw["monitor"]
    (workdir / "params.yaml").write_text(yaml.safe_dump(raw))
    assert main(["check"]) == 1
    assert capsys.readouterr().err.splitlines() == [
        "check: error: params.yaml: 3 key(s) the pipeline reads are missing:",
        "  data.negative_class: required key is missing (the stage validate reads it; null when unused)",
        "  data.positive_class: required key is missing (the stage validate reads it; null when unused)",
        "  monitor: required key is missing (the stage drift reads it; null when unused)",
    ]
    write_params(workdir, data={"source": "diabetes"})
    assert main(["check"]) == 0


def test_params_are_read_as_dvc_reads_them_so_yes_and_no_stay_text(workdir: Path) -> None:
    """DVC reads params.yaml as YAML 1.2; PyYAML's 1.1 would turn `yes` into true and `1e-3` into text."""
    from dvc.utils.serialize import parse_yaml

    text = "a: [yes, no, on, off, y, true, True, 1e-3, 1.5e3, 010, 1:20, ~, null, 'no']\n"
    assert parse_params(text) == parse_yaml(text, "params.yaml")
    assert parse_params(text)["a"][:5] == ["yes", "no", "on", "off", "y"]

    write_params(workdir, data={"target": "churned", "positive_class": "x", "negative_class": "y"})
    raw = (workdir / "params.yaml").read_text()
    (workdir / "params.yaml").write_text(raw.replace("positive_class: x", "positive_class: yes").replace(
        "negative_class: y", "negative_class: no"))  # fmt: skip
    data = load_settings(workdir / "params.yaml", check_files=False).data
    assert (data.positive_class, data.negative_class) == ("yes", "no")


def test_true_and_false_classes_are_the_text_ingest_stores_them_as(workdir: Path) -> None:
    write_params(workdir, data={"target": "defaulted", "positive_class": True, "negative_class": False})
    data = load_settings(workdir / "params.yaml", check_files=False).data
    assert (data.positive_class, data.negative_class) == ("True", "False")
