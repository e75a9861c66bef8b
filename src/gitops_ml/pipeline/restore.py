"""Put stage outputs back from DVC's cache, so that no stage runs twice and no failure loses a result.

Two cases DVC leaves open:

- **A stage failed.** ``dvc repro`` deletes a stage's outputs before running it. When the stage
  then fails, :func:`last_good_outputs` puts back every output that is not what ``dvc.lock`` still
  records: missing, or written before the failure (a model whose tracking then failed). A failed
  validation's report stays, as it says what failed. The outputs come from DVC's cache (or, for
  ``cache: false`` outputs, from the committed file when its hash matches). It runs inside the
  failing stage, while ``dvc repro`` holds its locks, so it reads the cache directly instead of
  calling DVC.
- **The committed outputs are not in the cache.** A model trained on another CPU differs in its
  last bits (see docs/pipeline.md, "Reproducibility"), so the cache a CI runner restores may hold a model
  for the same inputs under another hash than the committed ``dvc.lock`` names. DVC then re-runs
  the stage although its run-cache holds the result for these very inputs: it consults the
  run-cache only when the lock has no output hash. :func:`by_inputs` does that lookup for the
  stages whose code, data and params are unchanged, checks the outputs out and records them in
  ``dvc.lock``; ``dvc repro`` then restores the downstream stages from the run-cache by itself.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

from gitops_ml.core.files import atomic_path
from gitops_ml.core.git import show
from gitops_ml.core.lineage import file_md5
from gitops_ml.core.settings import parse_params

LOCK_FILE = Path("dvc.lock")


def last_good_outputs(stage: str, *, only_missing: bool = False) -> list[Path]:
    """Put back the outputs of ``stage`` that differ from what ``dvc.lock`` records; return those restored.

    ``only_missing``: the failure wrote its outputs on purpose (a validation report that says what
    failed), so only those it did not write come back.
    """
    entry = locked_stages().get(stage)
    if entry is None:
        return []
    restored = []
    cache = None
    for out in entry.get("outs", []):
        path = Path(out["path"])
        md5 = out.get("md5", "")
        if not md5 or (path.exists() if only_missing else _holds(path, md5)):
            continue
        if cache is None:
            cache = _cache_files()
        if _copy_from_cache(cache, md5, path) or _copy_from_git(md5, path):
            restored.append(path)
    return restored


def _holds(path: Path, md5: str) -> bool:
    """Whether ``path`` is the output the lock records (a folder: whether it is there at all)."""
    if md5.endswith(".dir"):
        return path.exists()
    return path.is_file() and file_md5(path) == md5


def by_inputs() -> list[str]:
    """Restore, from DVC's run-cache, the outputs of unchanged stages that the cache lacks; return those stages."""
    import networkx as nx
    from dvc.repo import Repo
    from dvc.stage.cache import RunCacheNotFoundError
    from dvc_data.hashfile.hash_info import HashInfo
    from dvc_data.hashfile.meta import Meta

    restored = []
    repo = Repo()
    with repo.lock:
        # Edges point from a stage to the stages it depends on: upstream stages come last.
        for stage in reversed(list(nx.topological_sort(repo.index.graph))):
            if not _restorable(stage):
                continue
            for out in stage.outs:
                out.hash_info, out.meta = HashInfo(), Meta()  # forget the hashes the cache lacks
            try:
                repo.stage_cache.restore(stage)
            except RunCacheNotFoundError:
                continue
            stage.save()
            stage.dump(update_pipeline=False)
            restored.append(stage.addressing)
    return restored


def _restorable(stage: Any) -> bool:
    """A command stage whose inputs are present and unchanged but some of whose outputs are nowhere to be had."""
    if not stage.cmd or not stage.outs or stage.frozen or stage.always_changed:
        return False
    if not all(dep.exists for dep in stage.deps) or stage.changed_stage() or stage.changed_deps():
        return False
    return any(not out.exists and not (out.hash_info and out.cache.exists(out.hash_info.value)) for out in stage.outs)


def cached_object(md5: str) -> Path | None:
    """The file DVC's cache holds under this hash, if it holds it."""
    found = _cache_object(_cache_files(), md5)
    return found if found.is_file() else None


def locked_stages(text: str | None = None) -> dict[str, Any]:
    """The stages a dvc.lock records, by name: of ``text``, else of the work tree's file (none without one)."""
    if text is None:
        text = LOCK_FILE.read_text() if LOCK_FILE.is_file() else ""
    # As DVC writes it, YAML 1.2: a class `no` stays the text "no" (YAML 1.1 would read false).
    stages: dict[str, Any] = (parse_params(text, LOCK_FILE) or {}).get("stages", {})
    return stages


def _cache_files() -> Path:
    """DVC's object folder for this repository (``.dvc/cache/files/md5`` unless configured elsewhere)."""
    from dvc.repo import Repo

    return Path(Repo().cache.local.path)


def _cache_object(cache: Path, md5: str) -> Path:
    return cache / md5[:2] / md5[2:]


def _copy_from_cache(cache: Path, md5: str, path: Path) -> bool:
    source = _cache_object(cache, md5)
    if not source.is_file():
        return False
    if not md5.endswith(".dir"):
        with atomic_path(path) as tmp:
            shutil.copyfile(source, tmp)
        return True
    entries = json.loads(source.read_text())
    if not all(_cache_object(cache, entry["md5"]).is_file() for entry in entries):
        return False
    for entry in entries:
        with atomic_path(path / entry["relpath"]) as tmp:
            shutil.copyfile(_cache_object(cache, entry["md5"]), tmp)
    return True


def _copy_from_git(md5: str, path: Path) -> bool:
    """The committed file, for an output kept in git (``cache: false``), when it is the one the lock names."""
    committed = show("HEAD", path)
    if committed is None or hashlib.md5(committed, usedforsecurity=False).hexdigest() != md5:
        return False
    with atomic_path(path) as tmp:
        tmp.write_bytes(committed)
    return True
