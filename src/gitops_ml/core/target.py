"""What is predicted: the task (binary, multiclass or regression) and its classes, decided once.

The validate stage decides it from the whole ingested table (``data.task``, or inferred from the
target's values and printed) and records it in its report; every later stage reads it back from
there (``recorded``), so training, evaluation, the report and the service never infer it again
from a part of the data and cannot disagree.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args

import numpy as np
import pandas as pd

from gitops_ml.core import paths
from gitops_ml.core.errors import DataError, PipelineError
from gitops_ml.core.features import as_text
from gitops_ml.core.settings import DataSettings, Label, Task

# An integer target with more distinct values than this is taken for a quantity, not for classes.
MAX_INFERRED_CLASSES = 20
# More classes than this is rather an id or a quantity: refused even when data.task says multiclass.
MAX_CLASSES = 200
# predictions.csv's column of a class's probability, in a multiclass task.
PROBABILITY_PREFIX = "probability:"
# Two-valued targets whose positive class goes without saying.
USUAL_POSITIVES: dict[frozenset[Label], Label] = {
    frozenset({0, 1}): 1,
    frozenset({"False", "True"}): "True",
    frozenset({"no", "yes"}): "yes",
}


@dataclass(frozen=True)
class Target:
    """The task and its classes: binary (negative, positive), multiclass sorted as scikit-learn sorts
    them, regression none."""

    task: Task
    classes: tuple[Label, ...] = ()

    @property
    def is_classification(self) -> bool:
        return self.task != "regression"

    @property
    def positive(self) -> Label:
        if self.task != "binary":
            raise PipelineError(f"a {self.task} model has no positive class")
        return self.classes[1]

    def encode(self, values: pd.Series) -> np.ndarray:
        """The target as models learn it and metrics take it: is-positive booleans, class indices (into
        ``classes``), or floats."""
        if self.task == "binary":
            return (as_text(values) == str(self.positive)).to_numpy()
        if self.task == "multiclass":
            index = {str(label): i for i, label in enumerate(self.classes)}
            codes = as_text(values).map(index)
            if codes.isna().any():
                unknown = sorted(values[codes.isna()].astype(str).unique())[:5]
                raise DataError(f"target values {unknown} are not among the classes {list(self.classes)}")
            return codes.to_numpy(dtype=int)
        return values.to_numpy(dtype=float)

    def as_json(self) -> dict[str, Any]:
        return {"task": self.task, "classes": list(self.classes)}


def decide(data: DataSettings, values: pd.Series, *, announce: bool = True) -> Target:
    """The target of this table: ``data.task`` and the classes given, or inferred; a DataError naming
    the key to set when it cannot be. ``announce`` prints what was inferred.

    Values outside given classes, or text in a regression target, are left for the validate stage's
    expectations to report with examples.
    """
    column = data.target
    present = values.dropna()
    if present.empty:
        raise DataError(f"data.target: column {column!r} has no values")
    if data.task:
        task, why = data.task, "data.task"
    elif data.positive_class is not None or data.negative_class is not None:
        task, why = "binary", "its classes are given: data.positive_class, data.negative_class"
    else:
        task, why = infer_task(present)
    if task == "regression":
        target = Target("regression")
    elif task == "binary":
        target = Target("binary", _binary_classes(data, _sorted_labels(present)))
    else:
        distinct = _sorted_labels(present)
        if not 2 <= len(distinct) <= MAX_CLASSES:
            raise DataError(
                f"data.task: multiclass needs 2 to {MAX_CLASSES} classes; {column!r} has {len(distinct)} distinct "
                "values (is it a quantity, data.task: regression, or an id?)"
            )
        target = Target("multiclass", tuple(distinct))
    if announce and not data.task:
        print(f"task: {target.task} ({why}; set data.task to choose)")
    return target


def infer_task(values: pd.Series) -> tuple[Task, str]:
    """The task a target's values suggest, and why."""
    distinct = values.nunique()
    if distinct == 2:
        return "binary", f"inferred: {values.name!r} has 2 distinct values"
    if not _is_number(values):
        return "multiclass", f"inferred: {values.name!r} has {distinct} distinct text values"
    integral = _whole_numbers(values)
    if integral and distinct <= MAX_INFERRED_CLASSES:
        return "multiclass", f"inferred: {values.name!r} has {distinct} distinct whole numbers"
    kind = "whole numbers" if integral else "numbers"
    return "regression", f"inferred: {values.name!r} has {distinct} distinct {kind}"


def _binary_classes(data: DataSettings, distinct: list[Label]) -> tuple[Label, Label]:
    """(negative, positive): as given; else the usual positive of 0/1, True/False or yes/no values."""
    column = data.target
    if data.positive_class is not None and data.negative_class is not None:
        return data.negative_class, data.positive_class
    if len(distinct) != 2:
        raise DataError(
            f"data.task: binary needs 2 distinct values in {column!r}, found {len(distinct)}: {distinct[:5]} "
            "(set data.positive_class and data.negative_class, or data.task)"
        )
    given: Label | None = data.positive_class if data.positive_class is not None else data.negative_class
    if given is not None and str(given) not in {str(label) for label in distinct}:
        raise DataError(f"data.positive_class, data.negative_class: {given!r} is not a value of {column!r}: {distinct}")
    if given is None:
        usual = USUAL_POSITIVES.get(frozenset(distinct))
        if usual is None:
            raise DataError(
                f"data.positive_class: which of {column!r}'s values {distinct} is the positive class? "
                "Set data.positive_class and data.negative_class"
            )
        given, positive_given = usual, True
    else:
        positive_given = data.positive_class is not None
    chosen = next(label for label in distinct if str(label) == str(given))
    other = next(label for label in distinct if str(label) != str(given))
    return (other, chosen) if positive_given else (chosen, other)


def _is_number(values: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)


def _whole_numbers(values: pd.Series) -> bool:
    """Whether a numeric column holds whole numbers only (1.0 counts: a CSV with gaps reads integers as floats)."""
    return bool(np.all(np.mod(values.to_numpy(dtype=float), 1) == 0))


def _sorted_labels(values: pd.Series) -> list[Label]:
    """The distinct labels, as scikit-learn orders classes: integers as integers, anything else as text."""
    if _is_number(values) and _whole_numbers(values):
        return sorted(int(v) for v in values.unique())
    return sorted(str(v) for v in values.unique())


def recorded(path: Path = paths.VALIDATION_JSON) -> Target:
    """The target the validate stage decided (its report holds it)."""
    try:
        target = from_report(json.loads(path.read_text()))
        if target is None:
            raise ValueError("it names none")
        return target
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise PipelineError(f"{path}: no target decided by the validate stage ({exc}); run `make repro`") from exc


def from_report(report: dict[str, Any]) -> Target | None:
    """The target in a validation report's data (None when a report from before tasks has none)."""
    found = report.get("target")
    if found is None:
        return None
    if found["task"] not in get_args(Task):
        raise ValueError(f"unknown task {found['task']!r}")
    return Target(found["task"], tuple(found["classes"]))
