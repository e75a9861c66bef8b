"""MLflow tracking: one run per trained model, found again by the model's hash.

The tracking store is ``MLFLOW_TRACKING_URI`` when set (a team server), else the local SQLite file
named in params.yaml. Nothing here feeds a DVC output, so the run ids never break reproducibility.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.metadata import version
from typing import TYPE_CHECKING, Any

from gitops_ml.core.errors import PipelineError
from gitops_ml.core.settings import TrackingSettings

if TYPE_CHECKING:
    from mlflow import ActiveRun

MODEL_HASH_TAG = "model_md5"
# What loading the logged model needs; pinned to this environment so MLflow need not guess.
SERVING_PACKAGES = ("scikit-learn", "pandas", "numpy", "scipy", "skops")
# skops (MLflow's safe default format) loads only the types it trusts, plus these, which the pipelines
# trained here hold: the files are ours, written in the same process. A new model family adds its own.
SKOPS_TRUSTED_TYPES = [
    "numpy.dtype",  # the encoders
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",  # gradient_boosting
]


@contextmanager
def model_run(tracking: TrackingSettings, model_md5: str, run_name: str, *, resume: bool) -> Iterator[ActiveRun]:
    """A run tagged with the model's hash: a new one, or with ``resume`` the newest so tagged.

    Training opens a new run; evaluation resumes the training run of the same model file, which
    also works when the model came from the DVC cache instead of being trained here (a new run).
    """
    import mlflow
    from mlflow.exceptions import MlflowException

    # We pass pip requirements explicitly; MLflow still looks for pip, which uv's venvs do not have.
    logging.getLogger("mlflow.utils.environment").setLevel(logging.ERROR)
    uri = os.environ.get("MLFLOW_TRACKING_URI") or tracking.default_uri
    try:
        mlflow.set_tracking_uri(uri)
        experiment = mlflow.set_experiment(tracking.experiment_name)
        run_id = _newest_run_id(experiment.experiment_id, model_md5) if resume else None
        with mlflow.start_run(run_id=run_id, run_name=None if run_id else run_name) as run:
            mlflow.set_tag(MODEL_HASH_TAG, model_md5)
            yield run
    except MlflowException as exc:
        # MLflow's messages run to many lines; the first says what failed.
        reason = " ".join(str(exc).strip().splitlines()[:1])[:400]
        message = f"MLflow tracking at {uri} failed: {reason} (tracking.enabled: false turns it off)"
        raise PipelineError(_without_credentials(message)) from exc


def _without_credentials(text: str) -> str:
    """The text as it may be printed: URLs without their ``user:password@``."""
    return re.sub(r"(?<=://)[^/@\s]+@", "", text)


def log_model(pipeline: Any, signature: Any = None) -> str:
    """Log the fitted pipeline into the active run as ``model``; return its model URI."""
    import mlflow

    info = mlflow.sklearn.log_model(
        pipeline,
        name="model",
        pip_requirements=[f"{package}=={version(package)}" for package in SERVING_PACKAGES],
        signature=signature,
        skops_trusted_types=SKOPS_TRUSTED_TYPES,
    )
    return str(info.model_uri)


def run_url(tracking: TrackingSettings, model_md5: str) -> str | None:
    """The tracking server's page of the run that logged this model; None without a server or a run."""
    uri = os.environ.get("MLFLOW_TRACKING_URI", "")
    if not uri.startswith(("http://", "https://")):
        return None  # a local store has no page to link to
    found = _newest_model_run(tracking, model_md5)
    return f"{uri.rstrip('/')}/#/experiments/{found[0]}/runs/{found[1]}" if found else None


def newest_model_run_id(tracking: TrackingSettings, model_md5: str) -> str | None:
    """The newest run tagged with this model's hash, in the configured store."""
    found = _newest_model_run(tracking, model_md5)
    return found[1] if found else None


def _newest_model_run(tracking: TrackingSettings, model_md5: str) -> tuple[str, str] | None:
    import mlflow

    mlflow.set_tracking_uri(os.environ.get("MLFLOW_TRACKING_URI") or tracking.default_uri)
    experiment = mlflow.get_experiment_by_name(tracking.experiment_name)
    if experiment is None:
        return None
    run_id = _newest_run_id(experiment.experiment_id, model_md5)
    return (experiment.experiment_id, run_id) if run_id else None


def _newest_run_id(experiment_id: str, model_md5: str) -> str | None:
    import mlflow

    found = mlflow.search_runs(
        experiment_ids=[experiment_id],
        filter_string=f"tags.{MODEL_HASH_TAG} = '{model_md5}'",
        order_by=["attributes.start_time DESC"],
        max_results=1,
        output_format="list",
    )
    return found[0].info.run_id if found else None
