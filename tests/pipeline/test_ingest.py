from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from gitops_ml.core import paths
from gitops_ml.core.errors import DataError
from gitops_ml.core.settings import Settings
from gitops_ml.pipeline import ingest


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
    frame = ingest.run(settings(data={"source": "file", "path": str(path), "target": "label"}))
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
        ingest.run(settings(data={"source": "file", "path": str(path)}))
    assert not paths.RAW_DATA.exists()


def test_unreadable_parquet_is_reported(workdir: Path, settings: Callable[..., Settings]) -> None:
    path = workdir / "data/external/broken.parquet"
    path.write_text("this is not parquet\n")
    with pytest.raises(DataError, match=r"broken\.parquet: cannot be read as PARQUET"):
        ingest.run(settings(data={"source": "file", "path": str(path)}))


def test_snake_case_makes_api_friendly_names() -> None:
    assert ingest.snake_case("mean concave points") == "mean_concave_points"
    assert ingest.snake_case("Area (cm^2)") == "area_cm_2"
