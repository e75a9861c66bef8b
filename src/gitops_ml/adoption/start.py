"""A project's first steps after ``copier copy`` (its task runs ``make init``): the team's data file in place,
tracked by DVC, and its expectation suite drafted, so that ``make repro`` runs at once.

Every step is skipped when already done, so running it again changes nothing (the suite, once drafted, is the
team's to edit and is never written over).
"""

from __future__ import annotations

import filecmp
import shutil
import subprocess
import sys
from pathlib import Path

from gitops_ml.core.errors import PipelineError
from gitops_ml.core.settings import PARAMS_FILE, Settings, check_columns

SUITE_MARGIN = 0.1  # as `suggest-suite` drafts by default: numeric ranges widened by 10 %


def start(settings: Settings, data_file: Path | None) -> list[str]:
    """Put ``data_file`` where ``data.path`` says, track it with DVC, draft ``validate.suite``; what was done."""
    data = settings.data
    if data.source != "file":
        return []
    done = []
    if data_file is not None:
        done += _place(data_file.expanduser(), data.path)
    if not data.path.is_file():
        raise PipelineError(f"data.path: {data.path} does not exist (give the file: make init DATA_FILE=...)")
    check_columns(PARAMS_FILE, settings)
    if not Path(f"{data.path}.dvc").is_file():
        _run(sys.executable, "-m", "dvc", "add", "--quiet", str(data.path))
        done.append(f"{data.path}: tracked by DVC ({data.path}.dvc)")
    suite = settings.validate_.suite
    if suite is not None and not suite.exists():
        from gitops_ml.pipeline import suggest_suite

        suggest_suite.run(settings, data.path, suite, SUITE_MARGIN)
        done.append(f"{suite}: drafted from the data; read it, tighten or loosen it")
    return done


def _place(source: Path, destination: Path) -> list[str]:
    if not source.is_file():
        raise PipelineError(f"data file {source}: no such file")
    if destination.is_file() and filecmp.cmp(source, destination, shallow=False):
        return []
    if destination.exists():
        raise PipelineError(f"data.path: {destination} exists and differs from {source}: move one of them away")
    destination.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, destination)
    return [f"{destination}: copied from {source}"]


def _run(*command: str) -> None:
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise PipelineError(f"{' '.join(command)}: {(done.stderr or done.stdout).strip()}")
