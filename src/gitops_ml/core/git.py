"""The few git questions the pipeline asks: one way to run git, with a timeout and a clear error."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from gitops_ml.core.errors import PipelineError

TIMEOUT_SECONDS = 30


def git(*args: str, check: bool = True) -> str:
    """git's stripped output; a failure raises PipelineError naming the command, unless ``check`` is off.

    Dates are read in UTC, so a version string does not depend on the machine's time zone.
    """
    try:
        result = subprocess.run(
            ["git", *args],
            capture_output=True,
            text=True,
            timeout=TIMEOUT_SECONDS,
            env={**os.environ, "TZ": "UTC"},
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise PipelineError(f"git {' '.join(args)}: {exc}") from exc
    if check and result.returncode != 0:
        raise PipelineError(f"git {' '.join(args)}: {result.stderr.strip()}")
    return result.stdout.strip() if result.returncode == 0 else ""


def show(revision: str, path: Path) -> bytes | None:
    """The bytes of ``path`` as committed at ``revision``; None when it has no such file."""
    result = subprocess.run(
        ["git", "show", f"{revision}:{path.as_posix()}"], capture_output=True, timeout=TIMEOUT_SECONDS, check=False
    )
    return result.stdout if result.returncode == 0 else None


def changed_since(base: str) -> list[str]:
    """The files changed between ``base``'s common ancestor with HEAD and the work tree (commits and edits alike)."""
    ancestor = git("merge-base", base, "HEAD")
    changed = git("diff", "--name-only", "--no-renames", ancestor).splitlines()
    untracked = git("ls-files", "--others", "--exclude-standard").splitlines()
    return sorted(set(changed) | set(untracked))
