"""Training and evaluation log to a real ``mlflow server`` on a free loopback port."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import joblib
import pandas as pd
import pytest

from gitops_ml import evaluate, paths, release, split, tracking, train
from gitops_ml.errors import PipelineError
from gitops_ml.lineage import file_md5
from gitops_ml.settings import Settings
from gitops_ml.synthetic import make_churn_table
from tests.support import SYNTHETIC, free_port, git, wait_until_healthy

STARTUP_SECONDS = 90


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("mlflow-server")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = (folder / "server.log").open("w")
    command = [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    stores = [
        "--backend-store-uri",
        f"sqlite:///{folder / 'mlflow.db'}",
        "--artifacts-destination",
        str(folder / "art"),
    ]
    server = subprocess.Popen([*command, *stores], stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_until_healthy(f"{url}/health", server, folder / "server.log", STARTUP_SECONDS)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


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
    paths.RAW_DATA.parent.mkdir(parents=True)
    make_churn_table(1_500, seed=21).to_parquet(paths.RAW_DATA)
    split.run(config)
    train.run(config)
    results = evaluate.run(config)

    client = MlflowClient(mlflow_server)
    experiment = client.get_experiment_by_name("tracking-test")
    runs = client.search_runs([experiment.experiment_id])
    assert len(runs) == 1
    run = runs[0]
    assert run.data.params["train.model"] == "logistic_regression"
    assert run.data.params["train.logistic_regression.C"] == "1.0"
    assert run.data.tags["git_commit"] == commit
    assert run.data.tags["train_data_md5"] == file_md5(paths.TRAIN_DATA)
    assert run.data.tags["model_md5"] == file_md5(paths.MODEL)
    assert run.data.metrics["test_roc_auc"] == results["test"]["roc_auc"]
    assert run.data.metrics["train_f1"] == results["train"]["f1"]
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id, "evaluation/plots")}
    assert "evaluation/plots/roc.png" in artifacts

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


def test_a_release_registers_the_model_as_champion_and_a_rollback_moves_the_alias_back(
    mlflow_server: str, workdir: Path, settings: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlflow import MlflowClient

    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server)
    tracked = {"enabled": True, "experiment": "release-test"}
    paths.RAW_DATA.parent.mkdir(parents=True)
    make_churn_table(1_000, seed=8).to_parquet(paths.RAW_DATA)
    split.run(settings(**SYNTHETIC, tracking=tracked))
    releases = []
    for tag, c in (("v2026.11.20-1111111", 1.0), ("v2026.11.24-2222222", 0.3)):
        model = settings(**SYNTHETIC, tracking=tracked, train={"logistic_regression": {"C": c}})
        train.run(model)
        dist = workdir / tag
        dist.mkdir()
        (dist / "version.txt").write_text(tag + "\n")
        releases.append(release.register(model, dist))

    client = MlflowClient(mlflow_server)
    champion = client.get_model_version_by_alias(release.MODEL_NAME, "champion")
    assert (champion.version, champion.tags["release"]) == (releases[1], "v2026.11.24-2222222")
    release.point_champion_at("v2026.11.20-1111111")
    champion = client.get_model_version_by_alias(release.MODEL_NAME, "champion")
    assert (champion.version, champion.tags["release"]) == (releases[0], "v2026.11.20-1111111")
    with pytest.raises(PipelineError, match=r"no gitops-ml-classifier version tagged release=v2000\.01\.01-0000000"):
        release.point_champion_at("v2000.01.01-0000000")
