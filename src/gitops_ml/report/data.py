"""What the pull-request report says, as data: ``report.json`` in the report artifact.

The pull request's job writes it; the comment job, which runs ``main``'s code with a write token,
reads it back and renders the comment itself (``report.render``), so nothing the pull request's
code wrote is posted as Markdown. Reading is strict: unknown keys, wrong types, non-finite numbers,
unknown metric names and oversized strings or lists are refused, naming the field.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from gitops_ml.core.errors import PipelineError
from gitops_ml.core.settings import AnyMetricName, Task
from gitops_ml.quality.compare import MetricChange

SCHEMA_VERSION: Literal[1] = 1
REPORT_DATA = "report.json"  # in the report artifact: what the comment job renders
PR_NUMBER_FILE = "pr-number.txt"  # beside it: the pull request the comment goes to
Text = Annotated[str, Field(max_length=500)]
Name = Annotated[str, Field(max_length=200)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


def _finite(value: float | None) -> float | None:
    if value is not None and not math.isfinite(value):
        raise ValueError("must be a finite number")
    return value


class Change(_Strict):
    metric: AnyMetricName
    base: float | None
    new: float | None
    low: float | None = None
    high: float | None = None
    threshold: Annotated[float, Field(ge=0)] | None = None

    _finite_numbers = field_validator("base", "new", "low", "high", "threshold")(_finite)

    def as_metric_change(self) -> MetricChange:
        return MetricChange(self.metric, self.base, self.new, self.low, self.high, self.threshold)


class ParamChange(_Strict):
    key: Name
    before: Text | None  # JSON of the value; None: absent on that side
    after: Text | None


class Difference(_Strict):
    kind: Name
    name: Text
    where: Text
    before: Text
    after: Text


class Reproduction(_Strict):
    reproduced: bool
    tolerance: Annotated[float, Field(ge=0)]
    differences: Annotated[list[Difference], Field(max_length=50)]
    rebuilt: Annotated[list[Text], Field(max_length=50)]


class ValidationFailure(_Strict):
    column: Name | None
    problem: Text
    expected: Text
    unexpected: Annotated[int, Field(ge=0)] | None
    examples: Text


class Validation(_Strict):
    success: bool
    evaluated: Annotated[int, Field(ge=0)]
    rows: Annotated[int, Field(ge=0)]
    columns: Annotated[int, Field(ge=0)]
    data: Text
    suite: Text
    failures: Annotated[list[ValidationFailure], Field(max_length=100)]


class Link(_Strict):
    label: Name
    url: Annotated[str, Field(max_length=500, pattern=r"^https?://")]


class Summary(_Strict):
    schema_version: Literal[1] = SCHEMA_VERSION
    base_name: Name
    base_has_metrics: bool
    new_has_metrics: bool
    both_have_predictions: bool
    same_test_set: bool
    confidence: Annotated[float, Field(gt=0.5, lt=1)]
    task: Task = "binary"  # of this branch's model (a report from before tasks: binary)
    base_task: Task | None = None  # of the base branch's, when it names one
    changes: Annotated[list[Change], Field(max_length=50)]
    changed_params: Annotated[list[ParamChange], Field(max_length=500)]
    failed_stage: Name | None
    # DVC-tracked data files absent from the checkout after the pull (a fork's pull request gets no remote).
    missing_data: Annotated[list[Name], Field(max_length=100)] = []
    log_tail: Annotated[str, Field(max_length=20_000)]
    reproduction: Reproduction | None
    validation: Validation | None
    links: Annotated[list[Link], Field(max_length=10)]

    @property
    def metric_changes(self) -> list[MetricChange]:
        return [change.as_metric_change() for change in self.changes]


def load(path: Path) -> Summary:
    """Read a ``report.json``; a PipelineError names what is wrong with it."""
    try:
        return Summary.model_validate_json(path.read_bytes())
    except OSError as exc:
        raise PipelineError(f"{path}: cannot be read ({exc.strerror})") from exc
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or '(top level)'}: {error['msg']}"
            for error in exc.errors()[:5]
        )
        raise PipelineError(
            f"{path}: not a report this version reads ({exc.error_count()} problems): {problems}"
        ) from exc
