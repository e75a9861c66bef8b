"""Shared fixtures. Telemetry is off for every tool the tests start (also set by the Makefile)."""

from __future__ import annotations

import os
import shutil
import tarfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from gitops_ml.core.errors import PipelineError
from gitops_ml.core.settings import Settings
from gitops_ml.team.stack import Stack, postgres_binary, team_stack
from tests import container_engine
from tests.github_standin import GitHubState, github_api
from tests.support import ROOT, make_settings, reproduced_project, write_params

CML_ARCHIVE = ROOT.parent / "shared" / "tools" / "cml-0.20.6.tgz"

for _name, _value in {
    "DVC_NO_ANALYTICS": "1",
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "BENTOML_DO_NOT_TRACK": "true",
    "ITERATIVE_DO_NOT_TRACK": "1",
    "DO_NOT_TRACK": "1",  # Evidently
}.items():
    os.environ.setdefault(_name, _value)


def pytest_configure(config: pytest.Config) -> None:
    """In the main process only (not in each xdist worker), when the integration tests will run: start building
    the container base image the release image's test needs, so that it is ready by the time that test runs."""
    service_tests = ROOT / "tests" / "serving" / "test_service.py"
    wanted = [Path(str(arg).split("::")[0]).resolve() for arg in config.args] or [ROOT / "tests"]
    runs_it = any(path == service_tests or path in service_tests.parents for path in wanted)
    if not hasattr(config, "workerinput") and runs_it and "not integration" not in (config.option.markexpr or ""):
        container_engine.start_base_image()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The integration files first, keeping their order: each takes minutes, and xdist hands files out in this
    order, so the short files fill both workers' ends instead of one long file running alone at the end."""
    items.sort(key=lambda item: item.get_closest_marker("integration") is None)


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty project folder holding a new project's params.yaml, made the working directory."""
    write_params(tmp_path)
    for folder in ("expectations", "external"):
        (tmp_path / "data" / folder).mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def settings(workdir: Path) -> Callable[..., Settings]:
    """Build Settings from the project's params.yaml with nested overrides (tracking off by default)."""

    def build(**overrides: Any) -> Settings:
        return make_settings(**overrides)

    return build


@pytest.fixture(scope="session")
def new_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new project after its first ``dvc repro``, results committed (``reproduced_project``), built once per test
    process: clone or copy it before changing it."""
    return reproduced_project(tmp_path_factory.mktemp("new-project") / "project")


@pytest.fixture(scope="session")
def cml(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The real CML 0.20.6 as a command (unpacked from ../shared/tools: the npm registry here does not serve it)."""
    if not CML_ARCHIVE.is_file():
        pytest.skip(f"the real CML is not here ({CML_ARCHIVE} is absent)")
    if shutil.which("node") is None:
        pytest.skip("node is not installed (the real CML runs on it)")
    folder = tmp_path_factory.mktemp("cml")
    with tarfile.open(CML_ARCHIVE) as archive:
        archive.extractall(folder, filter="tar")
    return f"node {folder / 'cml-npx' / 'bin' / 'cml.js'}"


@pytest.fixture(scope="session")
def team(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The team's servers, real, for the whole session: PostgreSQL, S3 (moto, every request signed by a key
    with the right) and ``mlflow server`` on both, with bearer tokens (what ``make team-stack`` runs)."""
    try:
        postgres_binary("initdb")
    except PipelineError as missing:
        pytest.skip(str(missing))
    with team_stack(tmp_path_factory.mktemp("team")) as stack:
        yield stack


@pytest.fixture
def mlflow_server(team: Stack, monkeypatch: pytest.MonkeyPatch) -> str:
    """The team's tracking server's address; this test's MLflow client holds its token."""
    for name, value in team.tracking.env().items():
        monkeypatch.setenv(name, value)
    return team.tracking.url


@pytest.fixture
def github(tmp_path: Path) -> Iterator[tuple[str, GitHubState]]:
    """The HTTPS stand-in for GitHub's API (address and state), for the comment workflow run by act."""
    with github_api(tls_folder=tmp_path) as served:
        yield served
