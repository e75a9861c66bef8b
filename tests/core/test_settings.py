from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from gitops_ml.cli import main
from gitops_ml.core.errors import SettingsError
from gitops_ml.core.settings import load_settings, parse_params
from tests.support import ROOT, edit_params, write_params


def test_project_params_load_with_the_default_dataset(workdir: Path) -> None:
    settings = load_settings(workdir / "params.yaml")
    assert settings.data.source == "breast_cancer"
    assert settings.data.classes == ("benign", "malignant")
    assert settings.train.hyperparameters == settings.train.logistic_regression


def error_for(workdir: Path, **overrides: object) -> str:
    write_params(workdir, **overrides)
    with pytest.raises(SettingsError) as caught:
        load_settings(workdir / "params.yaml")
    return str(caught.value)


def test_unknown_key_is_named_with_the_keys_that_block_accepts(workdir: Path) -> None:
    message = error_for(workdir, train={"logistic_regression": {"CC": 2.0}})
    assert "train.logistic_regression.CC: unknown key; expected one of: C, class_weight, max_iter" in message


def test_unknown_section_is_named(workdir: Path) -> None:
    message = error_for(workdir, trian={"model": "logistic_regression"})
    sections = "compare, data, evaluate, model_card, monitor, reproducibility, split, tracking, train, validate"
    assert f"trian: unknown key; expected one of: {sections}" in message


def test_wrong_type_names_the_key_and_the_value(workdir: Path) -> None:
    message = error_for(workdir, train={"logistic_regression": {"C": "abc"}})
    assert "train.logistic_regression.C: Input should be a valid number" in message
    assert "'abc'" in message


def test_out_of_range_value_is_rejected(workdir: Path) -> None:
    assert "split.test_size: Input should be less than 1" in error_for(workdir, split={"test_size": 1.5})


def test_unknown_model_family_lists_the_choices(workdir: Path) -> None:
    message = error_for(workdir, train={"model": "random_forest"})
    assert "train.model: Input should be 'logistic_regression' or 'gradient_boosting'" in message


def test_the_comparison_must_decide_on_known_metrics(workdir: Path) -> None:
    # The overrides merge into the project's thresholds, so replace the whole block to empty it.
    message = error_for(workdir, compare={"thresholds": {"roc_auc": 0.005, "auc": 0.01}})
    assert "compare.thresholds.auc" in message
    write_params(workdir)
    edit_params(workdir / "params.yaml", {"compare.thresholds": {}})
    with pytest.raises(SettingsError, match="thresholds must name at least one metric"):
        load_settings(workdir / "params.yaml")


def test_missing_data_file_is_named(workdir: Path) -> None:
    message = error_for(workdir, data={"source": "file", "path": "data/external/missing.csv"})
    assert "data.path: file 'data/external/missing.csv' does not exist" in message


def test_data_file_of_an_unsupported_kind_is_rejected(workdir: Path) -> None:
    (workdir / "data/external/table.xlsx").write_bytes(b"x")
    message = error_for(workdir, data={"source": "file", "path": "data/external/table.xlsx"})
    assert "data.path: 'data/external/table.xlsx' must end in one of .csv, .parquet" in message


def test_missing_suite_file_is_named(workdir: Path) -> None:
    assert "validate.suite: file 'nope.json' does not exist" in error_for(workdir, validate={"suite": "nope.json"})


def test_missing_required_key_is_named(workdir: Path) -> None:
    raw = yaml.safe_load((ROOT / "params.yaml").read_text())
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
