from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from gitops_ml.core import paths
from gitops_ml.core.errors import DataError
from gitops_ml.core.settings import Settings
from gitops_ml.pipeline import ingest
from tests.support import FILE_SUITE


def test_breast_cancer_becomes_a_labelled_table_with_ids(settings: Callable[..., Settings]) -> None:
    frame = ingest.run(settings())
    assert frame.shape == (569, 32)
    assert frame["sample_id"].is_unique
    assert set(frame["diagnosis"]) == {"malignant", "benign"}
    assert (frame["diagnosis"] == "malignant").sum() == 212
    assert "mean_radius" in frame.columns and "worst_concave_points" in frame.columns
    assert pd.read_parquet(paths.RAW_DATA).equals(frame)


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_file_source_reads_csv_and_parquet(workdir: Path, settings: Callable[..., Settings], suffix: str) -> None:
    source = pd.DataFrame({"id": [1, 2, 3], "x": [0.5, None, 2.0], "label": ["a", "b", "a"]})
    path = workdir / "data" / "external" / f"table{suffix}"
    source.to_csv(path, index=False) if suffix == ".csv" else source.to_parquet(path)
    frame = ingest.run(settings(validate=FILE_SUITE, data={"source": "file", "path": str(path), "target": "label"}))
    assert frame[["id", "label"]].equals(source[["id", "label"]])
    assert frame["x"].isna().tolist() == [False, True, False]


def test_declared_categorical_column_is_stored_as_text_with_missing_kept(settings: Callable[..., Settings]) -> None:
    frame = pd.DataFrame({"code": [3.0, None, 12.0], "name": ["a", "b", None]})
    typed = ingest.apply_feature_types(frame, settings(data={"feature_types": {"code": "categorical"}}).data)
    assert typed["code"].tolist() == ["3", None, "12"]


def test_declared_type_for_an_absent_column_is_an_error(settings: Callable[..., Settings]) -> None:
    with pytest.raises(DataError, match=r"feature_types names columns the data does not have: \['colour'\]"):
        ingest.apply_feature_types(
            pd.DataFrame({"x": [1]}), settings(data={"feature_types": {"colour": "numeric"}}).data
        )


def test_empty_file_is_reported_and_no_output_is_written(workdir: Path, settings: Callable[..., Settings]) -> None:
    path = workdir / "data/external/empty.csv"
    path.write_text("")
    with pytest.raises(DataError, match=r"empty\.csv: file is empty"):
        ingest.run(settings(validate=FILE_SUITE, data={"source": "file", "path": str(path), "target": "label"}))
    assert not paths.RAW_DATA.exists()


def test_unreadable_parquet_is_reported(workdir: Path, settings: Callable[..., Settings]) -> None:
    path = workdir / "data/external/broken.parquet"
    path.write_text("this is not parquet\n")
    with pytest.raises(DataError, match=r"broken\.parquet: cannot be read as PARQUET"):
        ingest.run(settings(validate=FILE_SUITE, data={"source": "file", "path": str(path), "target": "label"}))


def test_snake_case_makes_api_friendly_names() -> None:
    assert ingest.snake_case("mean concave points") == "mean_concave_points"
    assert ingest.snake_case("Area (cm^2)") == "area_cm_2"


def test_true_false_columns_become_text_so_every_part_sees_one_category(
    workdir: Path, settings: Callable[..., Settings], capsys: pytest.CaptureFixture[str]
) -> None:
    path = workdir / "data" / "external" / "loans.csv"
    path.write_text(
        "loan_id,has_guarantor,income,region,defaulted\n"
        "1,True,52000,north,False\n"
        "2,,n/a,south,True\n"  # a gap in the booleans, a missing-value text in a numeric column
        "3,False,,,False\n"
        "4,True,61000,-,True\n"  # '-' is not a missing-value text unless params.yaml says so
    )
    config = settings(
        validate=FILE_SUITE,
        data={"source": "file", "path": str(path), "target": "defaulted", "positive_class": True,
              "negative_class": False, "id_columns": ["loan_id"]}
    )  # fmt: skip
    frame = ingest.run(config)
    assert frame["has_guarantor"].tolist() == ["True", None, "False", "True"]
    assert frame["defaulted"].tolist() == ["False", "True", "False", "True"]
    assert (config.data.positive_class, config.data.negative_class) == ("True", "False")
    assert frame["income"].isna().tolist() == [False, True, True, False] and frame["income"].dtype == float
    assert pd.isna(frame["region"][2]) and frame["region"][3] == "-"
    printed = capsys.readouterr().out
    assert "ingest: income: read as missing: '' x1, 'n/a' x1 (data.missing_values)" in printed
    assert "ingest: region: read as missing: '' x1 (data.missing_values)" in printed
    assert "has_guarantor: read as missing: '' x1" in printed


def test_only_the_listed_texts_mark_a_missing_value(workdir: Path, settings: Callable[..., Settings]) -> None:
    path = workdir / "data" / "external" / "table.csv"
    path.write_text("id,x,label\n1,NA,a\n2,?,b\n3,1.5,a\n")
    config = settings(
        validate=FILE_SUITE, data={"source": "file", "path": str(path), "target": "label", "missing_values": ["?"]}
    )
    frame = ingest.run(config)
    assert frame["x"][0] == "NA" and pd.isna(frame["x"][1])  # NA is a value here: validation will name it
