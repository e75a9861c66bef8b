"""Training and evaluation log to a real ``mlflow server`` on a free loopback port."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import joblib
import pandas as pd
import pytest

from gitops_ml import NAME
from gitops_ml.core import paths, tracking
from gitops_ml.core.errors import PipelineError
from gitops_ml.core.lineage import file_md5
from gitops_ml.core.settings import Settings, training_params
from gitops_ml.pipeline import evaluate, split, train
from gitops_ml.pipeline.package import MODEL_NAME
from gitops_ml.pipeline.synthetic import make_customer_table
from gitops_ml.release import registry, steps
from tests.support import SYNTHETIC, git, record_target, train_on

# Real servers, act or dvc repro: left out by make test-fast.
pytestmark = pytest.mark.integration


def test_training_and_evaluation_land_in_one_run_on_the_server(
    mlflow_server: str, workdir: Path, settings: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    import mlflow
    from mlflow import MlflowClient

    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server)
    git(workdir, "init", "-q")
    git(workdir, "add", "-A")
    git(workdir, "commit", "-q", "-m", "tracked")
    commit = git(workdir, "rev-parse", "HEAD").strip()
    config = settings(**SYNTHETIC, tracking={"enabled": True, "experiment": "tracking-test"})
    train_on(config, make_customer_table(1_500, seed=21))
    results = evaluate.run(config)

    client = MlflowClient(mlflow_server)
    experiment = client.get_experiment_by_name("tracking-test")
    runs = client.search_runs([experiment.experiment_id])
    assert len(runs) == 1
    run = runs[0]
    assert run.data.params["train.model"] == "linear"
    assert run.data.params["train.linear.C"] == "1.0"
    assert run.data.tags["git_commit"] == commit
    assert run.data.tags["train_data_md5"] == file_md5(paths.TRAIN_DATA)
    assert run.data.tags["model_md5"] == file_md5(paths.MODEL)
    assert run.data.metrics["test_roc_auc"] == results["test"]["roc_auc"]
    assert run.data.metrics["train_f1"] == results["train"]["f1"]
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id, "evaluation/figures")}
    assert "evaluation/figures/roc.png" in artifacts

    logged = mlflow.search_logged_models(experiment_ids=[experiment.experiment_id], output_format="list")
    assert [m.source_run_id for m in logged] == [run.info.run_id]
    served = mlflow.sklearn.load_model(f"models:/{logged[0].model_id}")
    test = pd.read_parquet(paths.TEST_DATA)
    local = joblib.load(paths.MODEL)
    features = test[list(local.feature_names_in_)]
    assert (served.predict_proba(features) == local.predict_proba(features)).all()

    # The pull-request report links to this run's page on the server.
    page = tracking.run_url(config.tracking, file_md5(paths.MODEL))
    assert page == f"{mlflow_server}/#/experiments/{experiment.experiment_id}/runs/{run.info.run_id}"
    assert tracking.run_url(config.tracking, "0" * 32) is None  # no run logged that model
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:///mlflow.db")
    assert tracking.run_url(config.tracking, file_md5(paths.MODEL)) is None  # a local store has no page


def test_a_release_registers_its_model_once_and_the_champion_moves_between_releases(
    mlflow_server: str, workdir: Path, settings: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlflow import MlflowClient

    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server)
    tracked = {"enabled": False, "experiment": "release-test"}  # trained untracked, as on another machine
    paths.RAW_DATA.parent.mkdir(parents=True)
    make_customer_table(1_000, seed=8).to_parquet(paths.RAW_DATA)
    record_target(settings(**SYNTHETIC), pd.read_parquet(paths.RAW_DATA))
    split.run(settings(**SYNTHETIC, tracking=tracked))
    versions = []
    for tag, c in (("v2026.11.20-g1111111", 1.0), ("v2026.11.24-g2222222", 0.3)):
        model = settings(**SYNTHETIC, tracking=tracked, train={"linear": {"C": c}})
        train.run(model)
        dist = workdir / tag  # only what the release folder holds: no models/, no training run
        dist.mkdir()
        shutil.copy(paths.MODEL, dist / steps.MODEL_FILE)
        (dist / "metrics.json").write_text(json.dumps({"test": {"roc_auc": 0.9, "f1": 0.8}}))
        (dist / "params.json").write_text(json.dumps(training_params(model)))
        (dist / "version.txt").write_text(tag + "\n")
        versions.append(steps.register(model, dist))
        assert steps.register(model, dist) == versions[-1]  # a re-run finds it: no second version
        registry.make_champion(tag)

    client = MlflowClient(mlflow_server)
    champion = client.get_model_version_by_alias(MODEL_NAME, "champion")
    assert (champion.version, champion.tags["release"]) == (versions[1], "v2026.11.24-g2222222")
    run = client.get_run(champion.run_id)
    assert run.data.params["train.linear.C"] == "0.3" and run.data.metrics["test_roc_auc"] == 0.9
    assert run.data.tags["model_md5"] == file_md5(workdir / "v2026.11.24-g2222222" / steps.MODEL_FILE)
    registry.make_champion("v2026.11.20-g1111111")  # a rollback
    champion = client.get_model_version_by_alias(MODEL_NAME, "champion")
    assert (champion.version, champion.tags["release"]) == (versions[0], "v2026.11.20-g1111111")
    with pytest.raises(PipelineError, match=rf"no {NAME} version tagged release=v2000\.01\.01-g0000000"):
        registry.make_champion("v2000.01.01-g0000000")
