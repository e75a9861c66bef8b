from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from gitops_ml.core import paths
from gitops_ml.core.files import read_table, write_with
from gitops_ml.core.lineage import file_md5
from gitops_ml.core.settings import Settings
from gitops_ml.pipeline import evaluate, package
from gitops_ml.pipeline.synthetic import make_customer_table
from gitops_ml.release import bento
from tests.support import SYNTHETIC, train_on


def test_bundle_metadata_describes_the_model_for_the_service(settings: Callable[..., Settings]) -> None:
    config = settings(**SYNTHETIC)
    train_on(config, make_customer_table(800, seed=6))
    evaluate.run(config)
    train_frame = read_table(paths.TRAIN_DATA)

    metadata = package.bundle_metadata(config, train_frame)
    write_with(paths.BENTO_METADATA, lambda tmp: tmp.write_text(json.dumps(metadata)))

    assert metadata["model_md5"] == file_md5(paths.MODEL)
    assert (metadata["positive_class"], metadata["negative_class"], metadata["threshold"]) == ("yes", "no", 0.5)
    assert metadata["metrics"] == json.loads(paths.METRICS.read_text())["test"]
    assert metadata["params"]["train.model"] == "linear"
    assert metadata["data"]["train_md5"] == file_md5(paths.TRAIN_DATA)
    features = {f["name"]: f for f in metadata["features"]}
    assert list(features) == ["age", "tenure_months", "monthly_charges", "support_calls", "plan", "contract", "region"]
    assert features["plan"] == {"name": "plan", "type": "categorical", "categories": ["basic", "premium", "standard"]}
    ages = train_frame["age"].dropna()
    assert features["age"] == {"name": "age", "type": "numeric", "min": float(ages.min()), "max": float(ages.max())}


def test_none_becomes_a_string_bentoml_accepts() -> None:
    assert package._without_none({"a": None, "b": [1, None], "c": {"d": None}}) == {
        "a": "null",
        "b": [1, "null"],
        "c": {"d": "null"},
    }


def test_make_serve_logs_predictions_in_the_project_not_in_the_bento(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The worker runs in the Bento's folder, which a rebuild deletes: the log path must be absolute.
    monkeypatch.delenv("GITOPS_ML_PREDICTION_LOG", raising=False)
    assert bento.serve_environment()["GITOPS_ML_PREDICTION_LOG"] == str(
        workdir / "prediction-log" / "predictions.jsonl"
    )
    monkeypatch.setenv("GITOPS_ML_PREDICTION_LOG", "logs/p.jsonl")
    assert bento.serve_environment()["GITOPS_ML_PREDICTION_LOG"] == str(workdir / "logs" / "p.jsonl")
    monkeypatch.setenv("GITOPS_ML_PREDICTION_LOG", "off")
    assert bento.serve_environment()["GITOPS_ML_PREDICTION_LOG"] == "off"
