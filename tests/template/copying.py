"""The template as a team meets it: this work tree as a tagged git repository, ``copier copy`` and ``copier update``
from it, and ``make`` in the copies, with the real Copier, DVC and the pipeline.

The copies share one environment per test process (``tests.support.shared_environment``) and the host's uv with
its warm cache, so a copy's ``make setup`` installs nothing but the copy itself.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gitops_ml.pipeline.synthetic import make_customer_table
from tests.support import ROOT, git, host_uv, shared_environment, unmeasured

TARGETS = {"binary": "will_leave", "multiclass": "tier", "regression": "value"}


def template_repository(destination: Path, tag: str = "v1.0.0") -> Path:
    """This work tree (tracked and new files) committed as a template repository and tagged ``tag``."""
    listed = git(ROOT, "ls-files", "--cached", "--others", "--exclude-standard").splitlines()
    for name in listed:
        source = ROOT / name
        if source.is_file():
            target = destination / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(source.read_bytes())
            target.chmod(source.stat().st_mode)
    git(destination, "init", "-q", "-b", "main")
    git(destination, "add", "-A")
    git(destination, "commit", "-q", "-m", "the template")
    git(destination, "tag", tag)
    return destination


def copy_env() -> dict[str, str]:
    """What ``copier`` and ``make`` run with in a copy: the shared environment, the host's uv, no coverage (the
    copies' pipeline is measured by its own tests), and Python free to cache its bytecode."""
    environment = shared_environment()
    env = unmeasured(dict(os.environ))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.pop("VIRTUAL_ENV", None)
    return env | {
        "UV": str(host_uv()),
        "UV_PROJECT_ENVIRONMENT": str(environment),
        "GIT_AUTHOR_NAME": "team", "GIT_AUTHOR_EMAIL": "team@example.invalid",
        "GIT_COMMITTER_NAME": "team", "GIT_COMMITTER_EMAIL": "team@example.invalid",
    }  # fmt: skip


def copier(env: dict[str, str], *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    command = [str(Path(sys.executable).parent / "copier"), *args]
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)


def answers(**values: str) -> list[str]:
    return [arg for key, value in values.items() for arg in ("--data", f"{key}={value}")]


def make(project: Path, env: dict[str, str], *targets: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", "--no-print-directory", *targets], cwd=project, env=env, capture_output=True, text=True, timeout=900
    )


def teams_table(task: str, rows: int = 1_500, seed: int = 11) -> pd.DataFrame:
    """A table of a team's own: text ids, a True/False column, gaps, and names the example never uses."""
    frame = make_customer_table(rows, seed, task=task, target=TARGETS[task])
    frame = frame.rename(columns={"customer_id": "account_ref", "plan": "product"})
    frame["account_ref"] = [f"A-{number:06d}" for number in frame["account_ref"]]
    rng = np.random.default_rng(seed)
    frame["paperless"] = rng.random(rows) < 0.6
    frame.loc[rng.random(rows) < 0.05, "tenure_months"] = np.nan
    return frame


def team_answers(task: str, table: Path, **more: Any) -> list[str]:
    """The answers of a team bringing ``table`` for ``task``."""
    given = {"data_source": "file", "data_file": str(table), "target": TARGETS[task], "task": task,
             "id_columns": "account_ref"} | ({"positive_class": "yes", "negative_class": "no"} if task == "binary"
                                             else {})  # fmt: skip
    return answers(**(given | {key: str(value) for key, value in more.items()}))
