"""Shared fixtures. Telemetry is off for every tool the tests start (also set by the Makefile)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from gitops_ml.core.settings import Settings
from tests.github_standin import GitHubState, github_api
from tests.support import ROOT, free_port, make_settings, wait_until_healthy

CML_ARCHIVE = ROOT.parent / "shared" / "tools" / "cml-0.20.6.tgz"

for _name, _value in {
    "DVC_NO_ANALYTICS": "1",
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "BENTOML_DO_NOT_TRACK": "true",
    "ITERATIVE_DO_NOT_TRACK": "1",
    "DO_NOT_TRACK": "1",  # Evidently
}.items():
    os.environ.setdefault(_name, _value)


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty project folder holding params.yaml and the checked-in suites, made the working directory."""
    shutil.copy(ROOT / "params.yaml", tmp_path / "params.yaml")
    shutil.copytree(ROOT / "data" / "expectations", tmp_path / "data" / "expectations")
    (tmp_path / "data" / "external").mkdir()
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def settings(workdir: Path) -> Callable[..., Settings]:
    """Build Settings from the project's params.yaml with nested overrides (tracking off by default)."""

    def build(**overrides: Any) -> Settings:
        return make_settings(**overrides)

    return build


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
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real ``mlflow server`` on a free loopback port (SQLite store, local artifacts), for the whole session."""
    folder = tmp_path_factory.mktemp("mlflow-server")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    stores = [
        "--backend-store-uri",
        f"sqlite:///{folder / 'mlflow.db'}",
        "--artifacts-destination",
        str(folder / "art"),
    ]
    with (folder / "server.log").open("w") as log:
        server = subprocess.Popen([*command, *stores], stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_until_healthy(f"{url}/health", server, folder / "server.log", 120)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.fixture
def github(tmp_path: Path) -> Iterator[tuple[str, GitHubState]]:
    """The HTTPS stand-in for GitHub's API (address and state), for the comment workflow run by act."""
    with github_api(tls_folder=tmp_path) as served:
        yield served
