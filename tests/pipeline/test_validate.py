from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from gitops_ml.core import paths
from gitops_ml.core.errors import DataError, DataValidationError
from gitops_ml.core.settings import Settings
from gitops_ml.pipeline import validate
from gitops_ml.pipeline.ingest import load_embedded
from gitops_ml.pipeline.synthetic import make_customer_table
from tests.support import SYNTHETIC


@pytest.fixture(scope="module")
def cancer() -> pd.DataFrame:
    return load_embedded("breast_cancer")


def failures(frame: pd.DataFrame, settings: Settings) -> list[validate.Failure]:
    return validate.validate(frame, settings, data_path=paths.RAW_DATA).failures


def test_default_data_passes_its_checked_in_suite(cancer: pd.DataFrame, settings: Callable[..., Settings]) -> None:
    report = validate.validate(cancer, settings(), data_path=paths.RAW_DATA)
    assert report.success
    assert report.evaluated > 90


def test_synthetic_data_passes_its_suite_at_scale(settings: Callable[..., Settings]) -> None:
    assert failures(make_customer_table(50_000, seed=9), settings(**SYNTHETIC)) == []


def test_missing_column_is_reported_once(cancer: pd.DataFrame, settings: Callable[..., Settings]) -> None:
    found = failures(cancer.drop(columns="mean_radius"), settings())
    by_column = [f for f in found if f.column == "mean_radius"]
    assert [(f.expectation, f.description) for f in by_column] == [("expect_column_to_exist", "column is missing")]
    table = next(f for f in found if f.expectation == "expect_table_columns_to_match_set")
    assert table.observed == {"missing": ["mean_radius"]}


def test_text_in_a_numeric_column_shows_the_offending_values(
    cancer: pd.DataFrame, settings: Callable[..., Settings]
) -> None:
    frame = cancer.astype({"mean_area": object})
    frame.loc[[3, 7], "mean_area"] = ["n/a", "big"]
    found = failures(frame, settings())
    assert len(found) == 1
    assert found[0].column == "mean_area"
    assert found[0].description == "values of the wrong type"
    assert set(found[0].sample_values) == {"n/a", "big"}
    assert found[0].unexpected_count == 2


def test_compound_ids_must_be_unique(settings: Callable[..., Settings]) -> None:
    frame = make_customer_table(300, seed=1)
    frame.loc[5, ["customer_id", "contract"]] = frame.loc[4, ["customer_id", "contract"]]
    config = settings(**{**SYNTHETIC, "data": {**SYNTHETIC["data"], "id_columns": ["customer_id", "contract"]}})
    found = failures(frame, config)
    assert [(f.expectation, f.unexpected_count) for f in found] == [("expect_compound_columns_to_be_unique", 2)]


def test_failed_run_writes_both_reports_and_raises_a_readable_summary(
    cancer: pd.DataFrame, settings: Callable[..., Settings]
) -> None:
    bad = cancer.copy()
    bad.loc[0, "diagnosis"] = "unsure"
    bad.loc[[1, 2], "mean_texture"] = None
    paths.RAW_DATA.parent.mkdir(parents=True)
    bad.to_parquet(paths.RAW_DATA)
    with pytest.raises(DataValidationError) as caught:
        validate.run(settings())
    summary = str(caught.value)
    assert "validation failed: 2 of" in summary
    assert "column 'diagnosis': values outside the allowed set" in summary
    assert "e.g. ['unsure']" in summary
    assert "column 'mean_texture': values must not be missing" in summary
    report = json.loads(paths.VALIDATION_JSON.read_text())
    assert report["success"] is False
    assert {f["column"] for f in report["failures"]} == {"diagnosis", "mean_texture"}
    markdown = paths.VALIDATION_MARKDOWN.read_text()
    assert markdown.startswith("### Data validation FAILED")
    assert "| diagnosis | values outside the allowed set |" in markdown


def test_passing_run_report_is_identical_across_runs(cancer: pd.DataFrame, settings: Callable[..., Settings]) -> None:
    paths.RAW_DATA.parent.mkdir(parents=True)
    cancer.to_parquet(paths.RAW_DATA)
    validate.run(settings())
    first = paths.VALIDATION_JSON.read_bytes()
    validate.run(settings())
    assert paths.VALIDATION_JSON.read_bytes() == first
    assert paths.VALIDATION_MARKDOWN.read_text().startswith("### Data validation passed")


def test_unreadable_suite_is_reported_with_its_key(settings: Callable[..., Settings], workdir: Path) -> None:
    (workdir / "data/expectations/broken.json").write_text("{not json")
    with pytest.raises(DataError, match=r"validate\.suite: data/expectations/broken\.json is not a readable"):
        validate.expectations(settings(validate={"suite": "data/expectations/broken.json"}))
