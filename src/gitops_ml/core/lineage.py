"""Where a result came from: the git commit and the content hashes of its inputs."""

from __future__ import annotations

import hashlib
from pathlib import Path

from gitops_ml.core.errors import PipelineError
from gitops_ml.core.git import git


def file_md5(path: Path) -> str:
    """MD5 of a file's bytes: the hash DVC records for a file in ``dvc.lock``."""
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def git_commit() -> dict[str, str]:
    """The checked-out commit and whether the work tree differs from it ("unknown" outside git)."""
    try:
        commit = git("rev-parse", "HEAD")
        dirty = "true" if git("status", "--porcelain", "--untracked-files=no") else "false"
    except PipelineError:
        return {"git_commit": "unknown", "git_dirty": "unknown"}
    return {"git_commit": commit, "git_dirty": dirty}
