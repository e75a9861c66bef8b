"""``python -m gitops_ml bento``: build the Bento from the pipeline's model bundle, offline.

The bundle (``models/bento/``, a DVC output) becomes a BentoML model if the store lacks it, so the
build uses exactly the model ``dvc repro`` or ``dvc pull`` left here, on any machine. The git commit
goes into the Bento (``build_info.json``, served at ``GET /model``) and its version, not into the
bundle: a committed output cannot name the commit that contains it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from gitops_ml import NAME
from gitops_ml.core import paths
from gitops_ml.core.errors import PipelineError
from gitops_ml.core.files import write_json, write_text
from gitops_ml.core.lineage import git_commit
from gitops_ml.core.settings import Settings
from gitops_ml.pipeline.package import save_to_store
from gitops_ml.release import model_card

BENTO_NAME = NAME
BENTOFILE = Path("bentofile.yaml")
BUILD_CONTEXT = Path("src")
SERVING = BUILD_CONTEXT / "gitops_ml" / "serving"  # bentofile.yaml ships this folder
BUILD_INFO = SERVING / "build_info.json"
MODEL_CARD = SERVING / "model_card.md"  # served at GET /model/card
REQUIREMENTS = BUILD_CONTEXT / "requirements-serving.txt"  # bentofile.yaml's requirements_txt
LOCK = Path("uv.lock")


def run(settings: Settings, version: str | None = None) -> str:
    """Build the Bento, or reuse the one already built for this commit; return its tag."""
    import bentoml

    if not paths.BENTO_METADATA.is_file():
        raise PipelineError(f"{paths.BENTO_BUNDLE}: no model bundle; run `make repro` (or `dvc pull`) first")
    model_tag = save_to_store()
    commit = git_commit()
    version = version or default_version(commit)
    tag = f"{BENTO_NAME}:{version}"
    try:
        existing = bentoml.get(tag)
    except bentoml.exceptions.NotFound:
        existing = None
    if existing is not None:
        # A committed tree always builds the same Bento; an uncommitted one may have changed since.
        if not version.endswith("-dirty") and _model_of(existing) == model_tag:
            print(f"bento: {tag} is up to date")
            return tag
        bentoml.delete(tag)
    write_text(REQUIREMENTS, serving_requirements())
    write_json(BUILD_INFO, {**commit, "model_tag": model_tag, "bento_version": version})
    model_card.run(settings, MODEL_CARD, version)
    command = [
        "bentoml",
        "build",
        "--bentofile",
        str(BENTOFILE),
        "--version",
        version,
        "--output",
        "tag",
        str(BUILD_CONTEXT),
    ]
    result = subprocess.run(
        command, env={**os.environ, "GITOPS_ML_MODEL_TAG": model_tag}, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise PipelineError(f"bentoml build failed:\n{result.stdout}{result.stderr}")
    tag = result.stdout.strip().splitlines()[-1].removeprefix("__tag__:")
    print(f"bento: {tag} with model {model_tag}")
    return tag


def serving_requirements() -> str:
    """The Bento's packages: the ``serving`` group of uv.lock, pinned, exported at every build.

    Written at build time rather than committed, so a lock update (Dependabot's weekly pull request)
    builds the Bento with the new versions without a manual step.
    """
    command = [sys.executable, "-m", "uv", "export", "--frozen", "--only-group", "serving", "--no-hashes",
               "--no-emit-project", "--no-header", "--no-annotate"]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, check=False, env={**os.environ, "UV_OFFLINE": "1"})
    if result.returncode != 0:
        raise PipelineError(f"uv export of the serving group of {LOCK} failed: {result.stderr.strip()}")
    return result.stdout


def serve(settings: Settings, port: int, version: str | None = None) -> None:
    """Build when needed, then hand this process over to ``bentoml serve`` on the loopback address."""
    tag = run(settings, version)
    os.execvpe("bentoml", ["bentoml", "serve", tag, "--host", "127.0.0.1", "--port", str(port)], serve_environment())


def serve_environment() -> dict[str, str]:
    """The server's environment: the prediction log in the project, unless GITOPS_ML_PREDICTION_LOG says otherwise.

    The service itself resolves a relative path under BentoML's home (it runs in the Bento's folder,
    which a rebuild deletes); ``make serve`` wants the log beside the project instead.
    """
    from gitops_ml.serving.prediction_log import DEFAULT_PATH, PATH_VARIABLE

    chosen = os.environ.get(PATH_VARIABLE, DEFAULT_PATH)
    absolute = chosen if chosen == "off" else str(Path(chosen).resolve())
    return {**os.environ, PATH_VARIABLE: absolute}


def _model_of(bento: object) -> str:
    services = getattr(getattr(bento, "info", None), "services", None) or []
    models = [str(model.tag) for service in services for model in getattr(service, "models", [])]
    return models[0] if models else ""


def default_version(commit: dict[str, str]) -> str:
    """``g<commit>`` (``-dirty`` when the work tree differs): every Bento traces back to a commit."""
    if commit["git_commit"] == "unknown":
        return "local"
    return f"g{commit['git_commit'][:12]}" + ("-dirty" if commit["git_dirty"] == "true" else "")
