"""Helpers the tests share: the project root, settings with overrides, and a copy of the project."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from gitops_ml.core import paths
from gitops_ml.core.files import write_json
from gitops_ml.core.ownership import is_platform_file
from gitops_ml.core.settings import Settings, default_params
from gitops_ml.core.target import Target, decide

# The platform's files (src/, tests/, workflows, deploy/...): never the project's params, data or results.
ROOT = Path(__file__).resolve().parents[1]
SUITES = ROOT / "src" / "gitops_ml" / "pipeline" / "suites"  # the embedded sources' own suites

SYNTHETIC = {"data": {"source": "synthetic"}}  # the source fills in its target, classes, ids and suite
FILE_SUITE = {"suite": str(SUITES / "synthetic_binary.json")}  # a file source names its suite
# The breast-cancer table as a file: what the embedded source fills in, said for a file.
CANCER_FILE = {
    "data": {
        "target": "diagnosis",
        "positive_class": "malignant",
        "negative_class": "benign",
        "id_columns": ["sample_id"],
    },
    "validate": {"suite": str(SUITES / "breast_cancer.json")},
}
# A new project's .dvc/config: analytics off, no remote.
DVC_CONFIG = "[core]\n    analytics = false\n"


def record_target(settings: Settings, frame: pd.DataFrame) -> Target:
    """What the validate stage records for the stages after it, without running its expectations:
    the target decided from ``frame`` (run in a project folder)."""
    target = decide(settings.data, frame[settings.data.target], announce=False)
    write_json(paths.VALIDATION_JSON, {"target": target.as_json()})
    return target


def train_on(settings: Settings, raw: pd.DataFrame) -> Target:
    """``raw`` as the ingested table, through split and train, with the target validate would record."""
    from gitops_ml.pipeline import split, train

    paths.RAW_DATA.parent.mkdir(parents=True, exist_ok=True)
    raw.to_parquet(paths.RAW_DATA)
    target = record_target(settings, raw)
    split.run(settings)
    train.run(settings)
    return target


def params(**overrides: Any) -> dict[str, Any]:
    """A new project's params (the platform's defaults, never this project's params.yaml), with nested
    overrides merged in and tracking off."""
    return merge(merge(default_params(), {"tracking": {"enabled": False}}), overrides)


def make_settings(**overrides: Any) -> Settings:
    return Settings.model_validate(params(**overrides))


def merge(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in overrides.items():
        merged[key] = (
            merge(merged[key], value) if isinstance(value, dict) and isinstance(merged.get(key), dict) else value
        )
    return merged


def write_params(folder: Path, **overrides: Any) -> None:
    (folder / "params.yaml").write_text(yaml.safe_dump(params(**overrides), sort_keys=False))


def edit_params(file: Path, changes: dict[str, Any]) -> None:
    """Set dotted keys (``train.linear.C``) of a params.yaml; each must be there already."""
    values = yaml.safe_load(file.read_text())
    for key, value in changes.items():
        *parents, last = key.split(".")
        section = values
        for parent in parents:
            section = section[parent]
        assert last in section, f"{file}: no key {key}"
        section[last] = value
    file.write_text(yaml.safe_dump(values, sort_keys=False))


def copy_project(destination: Path) -> Path:
    """A git repository holding a new project: the platform's files as they are in the work tree (tracked or
    new), the platform's default params and no data or results of this project's (gitops_ml.core.ownership)."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.splitlines()
    for name in filter(is_platform_file, listed):
        source = ROOT / name
        if source.is_file():
            target = destination / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    (destination / "params.yaml").write_text(yaml.safe_dump(default_params(), sort_keys=False))
    (destination / ".dvc" / "config").write_text(DVC_CONFIG)
    (destination / "README.md").write_text("# A project under test\n")  # pyproject.toml's readme
    (destination / "docs" / "intended-use.md").write_text("# Intended use\n\nA project under test.\n")
    git(destination, "init", "-q", "-b", "main")
    git(destination, "add", "-A")
    git(destination, "commit", "-q", "-m", "project under test")
    return destination


def reproduced_project(destination: Path) -> Path:
    """A new project (``copy_project``) after its first ``dvc repro``, its results committed: what main holds once a
    team has started. Unmeasured: the stages' code is measured by their own tests."""
    project = copy_project(destination)
    result = subprocess.run(
        ["dvc", "repro"], cwd=project, env=unmeasured(tool_env(project)), capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stdout + result.stderr
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "The first make repro's results")
    return project


def shared_environment() -> Path:
    """One environment for every project this test process makes and runs ``make`` in (copies of the template, act's
    job workspaces), in place of a new ``.venv`` each: ``make`` takes uv's ``UV_PROJECT_ENVIRONMENT``, a job's
    ``make setup`` then installs only the project itself, and what Python compiles once is compiled for all.
    The processes run one after another, so they never sync it at the same time."""
    import atexit
    import os
    import tempfile

    folder = Path(tempfile.gettempdir()) / f"gitops-ml-shared-venv-{os.getpid()}"
    if not folder.exists():
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder


def host_uv() -> Path:
    """The uv ``make`` runs with: the one named by ``UV`` (make's variable, taken from the environment), else the
    one ``make setup`` installs under ``.tools``."""
    import os

    named = os.environ.get("UV")
    found = shutil.which(named) if named else None
    return Path(found) if found else ROOT / ".tools" / "bin" / "uv"


def git(folder: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=test", "-c", "user.email=test@example.invalid", *args],
        cwd=folder,
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def wait_until_healthy(url: str, process: subprocess.Popen[bytes], log: Path, seconds: float) -> None:
    """Poll ``url`` until it answers 200; fail the test with the server's log if it exits or times out."""
    import time
    import urllib.request

    import pytest

    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"{url} did not become healthy:\n{log.read_text()[-3000:]}")
        time.sleep(0.1)


def tool_env(project: Path) -> dict[str, str]:
    """Environment for a command run in a project copy: this venv's tools, the copy's own code."""
    import os
    import sys

    return {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "PYTHONPATH": str(project / "src"),
        # The package stage writes BentoML models: keep them out of the user's ~/bentoml and the project.
        "BENTOML_HOME": str(project.parent / f"{project.name}-bentoml"),
    }


def unmeasured(env: dict[str, str]) -> dict[str, str]:
    """``env`` without coverage's variables, for a set-up run whose code other tests measure: coverage in each
    of its Python processes (the suite measures them, pyproject.toml) makes it about a third slower."""
    return {name: value for name, value in env.items() if not name.startswith(("COVERAGE_", "COV_CORE_"))}


def outside_code(markdown: str) -> str:
    """What GitHub interprets of a Markdown document: without fenced blocks and code spans (CommonMark's rules:
    a span closes at the next run of exactly as many backticks as opened it)."""
    text = re.sub(r"(?ms)^(`{3,})[^\n]*\n.*?^\1[ \t]*$", "", markdown)
    kept, position = [], 0
    while (opening := re.compile(r"`+").search(text, position)) is not None:
        kept.append(text[position : opening.start()])
        closing = re.compile(rf"(?<!`)`{{{len(opening.group())}}}(?!`)").search(text, opening.end())
        position = closing.end() if closing else opening.end()
    return "".join(kept) + text[position:]
