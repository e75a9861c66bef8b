"""Whether the results a project holds follow from its inputs, as far as git holds them: no data needed.

A clone holds the code, ``params.yaml``, the suites, the ``.dvc`` files that pin the source data's
version, and the results DVC keeps in git (metrics, plot tables, predictions, the validation
report); the data itself and the model are in DVC's cache or remote. So on any clone, even one
that pulled nothing (a fork's, or CI's test job), it can be told whether ``dvc.lock`` and the
committed results were made from the committed inputs, or whether someone changed a param, the
code, a suite or the data's version, or edited a result, without running ``make repro`` after:

- DVC's own status of every stage of ``dvc.yaml``, less what a checkout lacks (an input or output
  that is not in git and not in the work tree: not pulled, not reproduced);
- the version of each source data file that its ``.dvc`` file pins, against the one ``dvc.lock``
  says the results were made from.

The pull request's reproduce job and the release's ``check-repro`` then run the pipeline for real.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from gitops_ml.core.errors import PipelineError
from gitops_ml.core.git import git
from gitops_ml.core.settings import PARAMS_FILE, parse_params
from gitops_ml.pipeline.reproducibility import param_differences
from gitops_ml.pipeline.restore import LOCK_FILE, locked_stages

PIPELINE = Path("dvc.yaml")
NOT_HERE = ("deleted", "not in cache")  # how DVC says a path is absent from the work tree or the cache


def stale_results() -> list[str]:
    """One line for each way the work tree's results do not follow from its inputs; empty when they all do."""
    if not LOCK_FILE.is_file():
        return [f"{LOCK_FILE}: missing: run `make repro` and commit what it wrote"]
    tracked = set(git("ls-files").splitlines())
    locked = locked_stages()
    params = parse_params(PARAMS_FILE.read_text()) if PARAMS_FILE.is_file() else {}
    found: dict[str, list[str]] = {}  # what changed: the stages it concerns
    for stage, changes in _dvc_status().items():
        for what in _describe(changes, tracked, locked.get(stage, {}).get("params", {}), params):
            found.setdefault(what, []).append(stage)
    for stage, entry in locked.items():
        for dep in entry.get("deps", []):
            pointer = Path(dep["path"] + ".dvc")
            pinned = _pinned_md5(pointer) if pointer.as_posix() in tracked else None
            if pinned is not None and pinned != dep.get("md5"):
                found.setdefault(f"data {dep['path']}: {pointer} pins another version", []).append(stage)
    return [f"{what} ({', '.join(stages)})" for what, stages in found.items()]


def _dvc_status() -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "dvc", "status", "--json", str(PIPELINE)], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise PipelineError(f"dvc status: {(done.stderr or done.stdout).strip()}")
    lines = done.stdout.strip().splitlines()
    status: dict[str, Any] = json.loads(lines[-1]) if lines else {}
    return status


def _describe(changes: list[Any], tracked: set[str], locked: dict[str, Any], params: Any) -> list[str]:
    """A stage's status lines, less the paths this checkout lacks; params by dotted key, with both values."""
    found = []
    for change in changes:
        if isinstance(change, str):  # "changed command", "changed checksum", "always changed"
            found.append(change)
            continue
        for kind, entries in change.items():
            for path, state in entries.items():
                if isinstance(state, dict):  # a params file: {key: state}
                    before = locked.get(path, {})
                    after = {key: _value(params, key) for key in before}
                    differences = param_differences("", {path: before}, {path: after})
                    found += [f"param {d.name}: {d.before} -> {d.after}" for d in differences]
                    found += [f"param {key}: {how}" for key, how in state.items() if key not in before]
                elif state in NOT_HERE and not _in_git(path, tracked):
                    continue  # not pulled or not reproduced here: nothing to tell from git
                else:
                    found.append(f"{kind.removeprefix('changed ')[:-1]} {path}: {state}")
    return found


def _value(tree: Any, dotted_key: str) -> Any:
    for part in dotted_key.split("."):
        if not isinstance(tree, dict) or part not in tree:
            return None
        tree = tree[part]
    return tree


def _in_git(path: str, tracked: set[str]) -> bool:
    return path in tracked or any(name.startswith(path.rstrip("/") + "/") for name in tracked)


def _pinned_md5(pointer: Path) -> str | None:
    outs = (yaml.safe_load(pointer.read_text()) or {}).get("outs") or []
    return str(outs[0].get("md5")) if outs and isinstance(outs[0], dict) else None
