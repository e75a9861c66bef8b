from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gitops_ml import cli
from gitops_ml.core import paths
from gitops_ml.core.errors import DataError
from gitops_ml.monitoring import drift
from gitops_ml.pipeline import train
from gitops_ml.pipeline.synthetic import make_customer_table
from gitops_ml.serving.prediction_log import PredictionLog
from tests.support import SYNTHETIC, make_settings, outside_code, record_target, write_params

FEATURES = ["age", "tenure_months", "monthly_charges", "support_calls", "plan", "contract", "region"]


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A trained churn model with its training split, the reference every test compares with."""
    folder = tmp_path_factory.mktemp("monitor")
    write_params(folder, **SYNTHETIC)
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)
        paths.TRAIN_DATA.parent.mkdir(parents=True)
        make_customer_table(4_000, seed=1).to_parquet(paths.TRAIN_DATA)
        record_target(make_settings(**SYNTHETIC), pd.read_parquet(paths.TRAIN_DATA))
        train.run(make_settings(**SYNTHETIC))
    yield folder


@pytest.fixture
def in_project(project: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(project)
    return project


def current_table(shifted: bool) -> Path:
    frame = make_customer_table(1_500, seed=7)
    if shifted:
        frame["monthly_charges"] *= 1.6
        premium = np.random.default_rng(0).random(len(frame)) < 0.5
        frame.loc[premium & frame["plan"].notna(), "plan"] = "premium"
    path = Path(f"current-{'shifted' if shifted else 'same'}.parquet")
    frame.to_parquet(path)
    return path


def summary_of(out: Path) -> dict:
    return json.loads((out / "drift.json").read_text())


def test_a_shifted_set_is_flagged_on_the_shifted_columns_only(in_project: Path) -> None:
    assert cli.main(["monitor", "--current", str(current_table(shifted=True)), "--out", "shifted"]) == 1
    summary = summary_of(Path("shifted"))
    assert summary["drift"] and summary["dataset"]["drifted"]
    assert summary["drifted_features"] == ["monthly_charges", "plan"]
    assert {name for name, column in summary["features"].items() if column["drifted"]} == {"monthly_charges", "plan"}
    assert summary["features"]["plan"]["kind"] == "categorical"
    assert summary["features"]["monthly_charges"]["kind"] == "numeric"
    assert summary["dataset"]["share"] == pytest.approx(2 / 7, abs=1e-4)
    assert summary["prediction"]["source"] == "recomputed with models/model.joblib"
    markdown = Path("shifted/drift.md").read_text()
    assert markdown.startswith("## **Drift detected**: 2 of 7 features drifted")
    assert Path("shifted/drift.html").stat().st_size > 100_000  # Evidently's self-contained page


def test_an_unshifted_set_is_not_flagged(in_project: Path) -> None:
    assert cli.main(["monitor", "--current", str(current_table(shifted=False)), "--out", "same"]) == 0
    summary = summary_of(Path("same"))
    assert not summary["drift"] and summary["drifted_features"] == []
    assert not summary["prediction"]["drifted"]
    assert set(summary["features"]) == set(FEATURES)
    assert Path("same/drift.md").read_text().startswith("## **No drift**: 0 of 7 features drifted")


def test_quality_names_new_categories_and_extra_missing_values(in_project: Path) -> None:
    reference = pd.read_parquet(paths.TRAIN_DATA)
    current = make_customer_table(500, seed=9)
    current.loc[:49, "region"] = "mars"
    current.loc[:199, "age"] = np.nan
    types = dict.fromkeys(FEATURES[:4], "numeric") | dict.fromkeys(FEATURES[4:], "categorical")
    found = drift.quality(reference, current, types)  # type: ignore[arg-type]
    assert found["new_categories"] == {"region": {"values": ["mars"], "share": 0.1}}
    assert found["missing"]["age"] == {
        "reference": round(float(reference["age"].isna().mean()), 4),
        "current": round(float(current["age"].isna().mean()), 4),
    }
    assert found["missing"]["age"]["current"] > 0.4 > 0.05 > found["missing"]["age"]["reference"]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            lambda f: f.drop(columns=["region", "age"]),
            ["'age' (numeric) is missing", "'region' (categorical) is missing"],
        ),
        (
            lambda f: f.assign(monthly_charges=["unknown" if i % 3 == 0 else 20.0 for i in range(len(f))]),
            ["'monthly_charges' should be numeric; 500 values are not, e.g. 'unknown'"],
        ),
    ],
    ids=["missing columns", "text in a numeric column"],
)
def test_a_current_set_that_does_not_match_the_features_is_a_clear_error(
    in_project: Path, change, expected: list[str]
) -> None:
    path = Path("bad.csv")
    change(make_customer_table(1_500, seed=4)).to_csv(path, index=False)
    previous = Path("kept")
    previous.mkdir(exist_ok=True)
    (previous / "drift.json").write_text('{"earlier": true}')
    with pytest.raises(DataError) as error:
        drift.run(make_settings(**SYNTHETIC), paths.TRAIN_DATA, path, previous)
    for text in expected:
        assert text in str(error.value)
    assert str(error.value).startswith("bad.csv: the data does not match the training features")
    assert (previous / "drift.json").read_text() == '{"earlier": true}'  # nothing overwritten


def test_too_few_rows_is_an_error_naming_the_setting(in_project: Path) -> None:
    path = Path("few.parquet")
    make_customer_table(20, seed=4).to_parquet(path)
    with pytest.raises(DataError, match=r"few.parquet: 20 rows; at least 100 are needed .*monitor.min_rows"):
        drift.run(make_settings(**SYNTHETIC), paths.TRAIN_DATA, path, Path("out"))


def test_a_folder_of_rotated_prediction_logs_is_read_whole(tmp_path: Path) -> None:
    log = PredictionLog(tmp_path / "predictions.jsonl", max_bytes=1, backups=5)  # a file per call
    for i in range(6):
        log.add({"age": np.array([float(i)]), "plan": ["basic"], "prediction_probability": [0.5]})
    log.close()
    (tmp_path / "notes.txt").write_text("not a log")
    assert len(list(tmp_path.glob("predictions.jsonl*"))) == 6
    frame = drift.read_current(tmp_path)
    assert sorted(frame["age"]) == [0, 1, 2, 3, 4, 5]
    assert list(frame.columns) == ["age", "plan", "prediction_probability", "logged_at"]


def test_without_a_model_the_error_says_how_to_get_one(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    current = current_table(shifted=False)
    with pytest.raises(DataError, match=r"models/model.joblib: no model .* `make repro` or `dvc pull`"):
        drift.run(make_settings(**SYNTHETIC), project / paths.TRAIN_DATA, current, Path("out"))
    assert not Path("out").exists()


def test_values_from_api_traffic_are_shown_as_code_in_the_drift_report() -> None:
    hostile = "@octocat ![x](http://tracker.example/x.png) [doc](https://evil.example) <img src=x>"
    feature = {"kind": "categorical", "test": "chisquare", "score": 0.01, "threshold": 0.05, "drifted": True}
    prediction = {"test": "chisquare", "score": 0.5, "threshold": 0.05, "drifted": False, "source": "logged",
                  "column": "prediction_label", "kind": "categorical",
                  "reference_class_shares": {hostile: 0.3, "b": 0.7},
                  "current_class_shares": {hostile: 0.4, "b": 0.6}}  # fmt: skip
    summary = {
        "drift": True, "drifted_features": [hostile], "features": {hostile: feature},
        "dataset": {"share": 1.0, "threshold": 0.25}, "prediction": prediction,
        "data": {"current": {"path": hostile, "rows": 300}, "reference": {"path": "train.parquet", "rows": 455}},
        "quality": {"missing": {hostile: {"current": 0.5, "reference": 0.0}},
                    "new_categories": {hostile: {"values": [hostile, "`", "@team"], "share": 0.2}}},
    }  # fmt: skip
    text = outside_code(drift.render_markdown(summary))
    for forbidden in ("@octocat", "@team", "tracker.example", "evil.example", "<img"):
        assert forbidden not in text, forbidden
