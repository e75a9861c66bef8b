"""Whether the work tree reproduces a commit's pipeline results: the contract that holds across machines.

Byte-identical outputs hold on one machine only. NumPy's BLAS picks its kernel per CPU, so a model
trained on another CPU (or OS, or architecture) differs in its last bits, and so does every file
that embeds its hash. "Reproduced" therefore means, stage by stage against the committed
``dvc.lock``:

- the same stages, with the same commands;
- the same hash of every input that no stage produces (code, source data, expectation suites),
  and the same params;
- the same metrics (every file ``dvc.yaml`` declares under ``metrics``), each value within
  ``reproducibility.metric_tolerance``.

Outputs that were rebuilt with other bytes are listed, not failed: with the same inputs and the
same metrics they are the same result computed on another machine.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from gitops_ml.core.errors import PipelineError
from gitops_ml.core.git import show
from gitops_ml.core.settings import dotted
from gitops_ml.pipeline.restore import LOCK_FILE, locked_stages

PIPELINE_FILE = Path("dvc.yaml")
ABSENT = "(absent)"


@dataclass(frozen=True)
class Difference:
    """One way the run departs from the committed results: what (a stage, input, param or metric) and how."""

    kind: str  # stage | command | input | param | metric
    name: str
    where: str  # the stage, or the metrics file
    before: str
    after: str

    def __str__(self) -> str:
        return f"{self.kind} {self.name} ({self.where}): {self.before} -> {self.after}"


@dataclass(frozen=True)
class Verdict:
    differences: tuple[Difference, ...]
    rebuilt: tuple[str, ...]  # outputs whose bytes differ from the committed ones
    tolerance: float

    @property
    def reproduced(self) -> bool:
        return not self.differences

    def describe(self, revision: str) -> str:
        if not self.reproduced:
            lines = [f"does not reproduce {revision}'s results ({len(self.differences)} differences):"]
            lines += [f"  - {difference}" for difference in self.differences]
            lines.append("Run `make repro` and commit dvc.lock and the results it changed.")
            return "\n".join(lines)
        if not self.rebuilt:
            return f"reproduces {revision}'s results byte for byte."
        rebuilt = ", ".join(self.rebuilt)
        return (
            f"reproduces {revision}'s results: the same commands, inputs and params, and metrics within "
            f"{self.tolerance:g}.\n  Rebuilt with other bytes (expected on another CPU or OS): {rebuilt}"
        )


def check(revision: str, tolerance: float) -> Verdict:
    """Compare the work tree's ``dvc.lock`` and metrics with those committed at ``revision``."""
    if not LOCK_FILE.is_file():
        raise PipelineError(f"{LOCK_FILE}: missing; run make repro first")
    committed_lock = show(revision, LOCK_FILE)
    if committed_lock is None:
        return Verdict((Difference("stage", str(LOCK_FILE), revision, ABSENT, "present"),), (), tolerance)
    before, after = locked_stages(committed_lock.decode()), locked_stages()
    differences, rebuilt = compare_locks(before, after)
    for path in metrics_files():
        committed = show(revision, path) or _cached(before, path)
        current = path.read_bytes() if path.is_file() else None
        differences += compare_metrics(path, _numbers(path, committed), _numbers(path, current), tolerance)
    return Verdict(_merged(differences), tuple(rebuilt), tolerance)


def _merged(differences: list[Difference]) -> tuple[Difference, ...]:
    """One line per change: a param that several stages read is named once, with those stages."""
    places: dict[tuple[str, str, str, str], list[str]] = {}
    for d in differences:
        places.setdefault((d.kind, d.name, d.before, d.after), []).append(d.where)
    return tuple(
        Difference(kind, name, ", ".join(where), before, after) for (kind, name, before, after), where in places.items()
    )


def compare_locks(before: dict[str, Any], after: dict[str, Any]) -> tuple[list[Difference], list[str]]:
    """The contract's differences between two locks' stages, and the outputs rebuilt with other bytes."""
    produced = {out["path"] for stages in (before, after) for stage in stages.values() for out in stage.get("outs", [])}
    differences: list[Difference] = []
    rebuilt: list[str] = []
    for name in sorted(before.keys() | after.keys()):
        old, new = before.get(name), after.get(name)
        if old is None or new is None:
            differences.append(Difference("stage", name, "dvc.lock", _present(old), _present(new)))
            continue
        if old.get("cmd") != new.get("cmd"):
            differences.append(Difference("command", "cmd", name, str(old.get("cmd")), str(new.get("cmd"))))
        differences += param_differences(name, old.get("params", {}), new.get("params", {}))
        old_deps, new_deps = _hashes(old.get("deps", [])), _hashes(new.get("deps", []))
        for path in sorted(old_deps.keys() | new_deps.keys()):
            if not _derived(path, produced) and old_deps.get(path) != new_deps.get(path):
                differences.append(
                    Difference("input", path, name, old_deps.get(path, ABSENT), new_deps.get(path, ABSENT))
                )
        old_outs, new_outs = _hashes(old.get("outs", [])), _hashes(new.get("outs", []))
        if old_outs.keys() != new_outs.keys():
            differences.append(
                Difference("stage", "outputs", name, ", ".join(sorted(old_outs)), ", ".join(sorted(new_outs)))
            )
        rebuilt += [path for path in sorted(old_outs.keys() & new_outs.keys()) if old_outs[path] != new_outs[path]]
    return differences, rebuilt


def compare_metrics(
    path: Path, before: dict[str, Any] | None, after: dict[str, Any] | None, tolerance: float
) -> list[Difference]:
    if before is None or after is None:
        if before is after:
            return []
        return [Difference("metric", "(file)", str(path), _present(before), _present(after))]
    differences = []
    for key in sorted(before.keys() | after.keys()):
        old, new = before.get(key), after.get(key)
        if not _agree(old, new, tolerance):
            shown = [ABSENT if value is None else str(value) for value in (old, new)]
            differences.append(Difference("metric", key, str(path), *shown))
    return differences


def metrics_files() -> list[Path]:
    """The metrics files the pipeline declares, as DVC resolves its ``${...}`` paths."""
    from dvc.exceptions import DvcException
    from dvc.repo import Repo

    try:
        with Repo(".", uninitialized=True) as repo:
            found = {
                Path(os.path.relpath(out.fs_path)) for stage in repo.index.stages for out in stage.outs if out.metric
            }
    except DvcException as exc:
        raise PipelineError(f"{PIPELINE_FILE}: DVC cannot read it: {exc}") from exc
    return sorted(found)


def _agree(old: Any, new: Any, tolerance: float) -> bool:
    numbers = (int, float)
    if isinstance(old, numbers) and isinstance(new, numbers) and not isinstance(old, bool):
        if math.isnan(old) or math.isnan(new):
            return math.isnan(old) and math.isnan(new)
        return abs(old - new) <= tolerance * max(1.0, abs(old), abs(new))
    return bool(old == new)


def param_differences(stage: str, before: dict[str, Any], after: dict[str, Any]) -> list[Difference]:
    """The params whose values differ, by dotted key, between two of a stage's ``params`` records."""
    old, new = dotted(before), dotted(after)
    return [
        Difference("param", _param_name(key), stage, _shown(old, key), _shown(new, key))
        for key in sorted(old.keys() | new.keys())
        if old.get(key, ABSENT) != new.get(key, ABSENT)
    ]


def _param_name(key: str) -> str:
    """``params.yaml.train.C`` -> ``train.C``: the params file is named only when it is not the default."""
    return key.removeprefix("params.yaml.")


def _shown(values: dict[str, Any], key: str) -> str:
    return json.dumps(values[key]) if key in values else ABSENT


def _hashes(entries: list[dict[str, Any]]) -> dict[str, str]:
    return {entry["path"]: str(entry.get("md5") or entry.get("etag") or "") for entry in entries}


def _derived(path: str, produced: set[str]) -> bool:
    """Whether a dependency is (inside, or holds) some stage's output: its bytes follow from the inputs."""
    return any(path == out or path.startswith(out + "/") or out.startswith(path + "/") for out in produced)


def _present(value: object) -> str:
    return ABSENT if value is None else "present"


def _cached(stages: dict[str, Any], path: Path) -> bytes | None:
    """A metrics file kept in DVC's cache rather than in git, as the given lock records it."""
    from gitops_ml.pipeline.restore import cached_object

    for stage in stages.values():
        for out in stage.get("outs", []):
            if out["path"] == path.as_posix() and out.get("md5"):
                found = cached_object(out["md5"])
                return found.read_bytes() if found is not None else None
    return None


def _numbers(path: Path, content: bytes | None) -> dict[str, Any] | None:
    """A metrics file's values by dotted key; None when there is no file."""
    if content is None:
        return None
    try:
        tree = json.loads(content) if path.suffix == ".json" else yaml.safe_load(content)
    except (ValueError, yaml.YAMLError) as exc:
        raise PipelineError(f"{path}: cannot be read as metrics: {exc}") from exc
    return dotted(tree) if isinstance(tree, dict) else {"(value)": tree}
