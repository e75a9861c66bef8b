"""MLflow's model registry: each release a registered version, and the alias ``champion`` on the one in production.

Registration needs only the release folder (``dist/``: the model file, its metrics and params) and
the tracking server, not the training run: the model may have been trained on a laptop, restored
from DVC's cache, or trained by a runner whose run went elsewhere. A "release" run in the
experiment holds exactly the released model; it names the training run when the server has one
for the same model file. Every step finds its earlier result first, so a re-run finishes the job.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from gitops_ml.core.errors import PipelineError
from gitops_ml.core.lineage import file_md5, git_commit
from gitops_ml.core.settings import Settings
from gitops_ml.pipeline.package import MODEL_NAME

CHAMPION = "champion"
RELEASE_TAG = "release"


def tracking_uri(step: str) -> str | None:
    """The team's tracking server, or None (with a line saying the registry is skipped)."""
    uri = os.environ.get("MLFLOW_TRACKING_URI", "")
    if not uri:
        print(f"{step}: no MLFLOW_TRACKING_URI; model registry skipped")
    return uri or None


def register(settings: Settings, release: str, model_file: Path, metrics: Path, params: Path) -> str | None:
    """Register the released model as a version of ``MODEL_NAME`` tagged ``release``; return its version."""
    uri = tracking_uri("register")
    if uri is None:
        return None
    import joblib
    import mlflow

    from gitops_ml.core.tracking import MODEL_HASH_TAG, log_model, newest_model_run_id

    found = _version_of(uri, release)
    if found is not None:
        print(f"register: {MODEL_NAME} version {found} holds {release} already")
        return found
    model_md5 = file_md5(model_file)
    training_run = newest_model_run_id(settings.tracking, model_md5)
    mlflow.set_tracking_uri(uri)
    mlflow.set_experiment(settings.tracking.experiment_name)
    with mlflow.start_run(run_name=f"release-{release}"):
        mlflow.log_params(json.loads(params.read_text()))
        mlflow.log_metrics({f"test_{name}": value for name, value in json.loads(metrics.read_text())["test"].items()})
        tags = {RELEASE_TAG: release, MODEL_HASH_TAG: model_md5, **git_commit()}
        mlflow.set_tags(tags | ({"training_run_id": training_run} if training_run else {}))
        model_uri = log_model(joblib.load(model_file))
    registered = mlflow.register_model(model_uri, MODEL_NAME, tags={RELEASE_TAG: release})
    print(f"register: {MODEL_NAME} version {registered.version} holds {release}")
    return str(registered.version)


def make_champion(release: str) -> None:
    """Point ``champion`` at the version registered for ``release``."""
    uri = tracking_uri("champion")
    if uri is None:
        return
    from mlflow import MlflowClient

    version = _version_of(uri, release)
    if version is None:
        raise PipelineError(f"MLflow has no {MODEL_NAME} version tagged {RELEASE_TAG}={release}; run the register step")
    MlflowClient(uri).set_registered_model_alias(MODEL_NAME, CHAMPION, version)
    print(f"champion: {MODEL_NAME} version {version} ({release})")


def _version_of(uri: str, release: str) -> str | None:
    from mlflow import MlflowClient

    found = MlflowClient(uri).search_model_versions(f"name = '{MODEL_NAME}' and tags.{RELEASE_TAG} = '{release}'")
    return str(min(int(version.version) for version in found)) if found else None
