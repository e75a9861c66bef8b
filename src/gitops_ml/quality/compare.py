"""Judge a model against a baseline: metric deltas, a paired bootstrap interval, and a verdict.

Used by the pull-request report. When both models were scored on the same test records, each
bootstrap round resamples those records once and scores both models on the sample, so the
interval is that of the difference, not of two independent estimates. A round is the count of
times it drew each record; the metrics are weighted sums over the records, computed for a bounded
chunk of rounds at a time, and agree with scikit-learn's on the full sample and on each resample
(tests hold them to it).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from gitops_ml.core.errors import PipelineError
from gitops_ml.core.settings import AnyMetricName
from gitops_ml.core.target import PROBABILITY_PREFIX, Target
from gitops_ml.quality.metrics import TASK_METRICS, Scored, lower_is_better

Verdict = Literal["better", "worse", "unchanged"]


# Elements of one chunk of rounds' weights (rounds x records): bounds the bootstrap's memory on a
# large test set, where all rounds at once would take gigabytes.
CHUNK_ELEMENTS = 4_000_000


@dataclass(frozen=True)
class Predictions(Scored):
    """One model's test-set predictions, by record id; ``classes`` name the class indices."""

    ids: np.ndarray = field(default_factory=lambda: np.array([], dtype=str))
    classes: tuple[str, ...] = ()

    @classmethod
    def from_csv(cls, csv_text: str, id_columns: Sequence[str], target: Target) -> Predictions:
        """The evaluate stage's predictions.csv (``pipeline.evaluate.predictions_table``) as arrays;
        records keyed by their id columns (joined)."""
        import pandas as pd

        frame = pd.read_csv(io.StringIO(csv_text), dtype=str, keep_default_na=False)
        ids = frame[list(id_columns)].agg("\x1f".join, axis=1) if id_columns else frame.index.astype(str)
        classes = tuple(str(label) for label in target.classes)
        if target.task == "regression":
            values = frame[["actual_value", "predicted_value"]].astype(float).to_numpy()
            return cls("regression", values[:, 0], values[:, 1], values[:, 1], ids.to_numpy(dtype=str))
        index = {label: i for i, label in enumerate(classes)}
        codes = frame[["actual", "predicted"]].apply(lambda column: column.map(index))
        if codes.isna().to_numpy().any():
            raise PipelineError(f"predictions.csv: labels outside the classes {list(classes)}")
        actual, predicted = (codes[column].to_numpy(dtype=int) for column in ("actual", "predicted"))
        if target.task == "binary":
            probability = frame["probability"].astype(float).to_numpy()
            return cls("binary", actual == 1, predicted == 1, probability, ids.to_numpy(dtype=str), classes)
        probabilities = frame[[f"{PROBABILITY_PREFIX}{label}" for label in classes]].astype(float).to_numpy()
        return cls("multiclass", actual, predicted, probabilities, ids.to_numpy(dtype=str), classes)

    def take(self, index: np.ndarray) -> Predictions:
        return Predictions(
            self.task, self.actual[index], self.predicted[index], self.scores[index], self.ids[index], self.classes
        )


@dataclass(frozen=True)
class MetricChange:
    metric: AnyMetricName
    base: float | None
    new: float | None
    low: float | None = None  # bootstrap interval of new - base, when the test sets match
    high: float | None = None
    threshold: float | None = None  # the smallest change that counts, for the metrics that decide

    @property
    def delta(self) -> float | None:
        return None if self.base is None or self.new is None else self.new - self.base

    @property
    def improvement(self) -> float | None:
        """The change in the metric's good direction (positive is better)."""
        return None if self.delta is None else (-self.delta if lower_is_better(self.metric) else self.delta)

    @property
    def verdict(self) -> Verdict:
        if self.improvement is None or self.threshold is None or abs(self.improvement) < self.threshold:
            return "unchanged"
        return "better" if self.improvement > 0 else "worse"

    @property
    def beyond_noise(self) -> bool | None:
        """Whether the interval excludes no change; None without an interval."""
        if self.low is None or self.high is None:
            return None
        return self.low > 0 or self.high < 0


def same_test_set(base: Predictions, new: Predictions) -> bool:
    """Both models scored the same records with the same actual values (in any order), for the same task."""
    if (base.task, base.classes, len(base.ids)) != (new.task, new.classes, len(new.ids)):
        return False
    base, new = aligned(base, new)
    return bool(np.array_equal(base.ids, new.ids) and np.array_equal(base.actual, new.actual))


def aligned(base: Predictions, new: Predictions) -> tuple[Predictions, Predictions]:
    """Both prediction sets in record-id order, so row i is the same record in each."""
    return base.take(np.argsort(base.ids, kind="stable")), new.take(np.argsort(new.ids, kind="stable"))


def paired_bootstrap(
    base: Predictions, new: Predictions, metrics: Sequence[AnyMetricName], *, rounds: int, confidence: float, seed: int
) -> dict[str, tuple[float, float]]:
    """Percentile interval of ``metric(new) - metric(base)`` over resamples of the shared test records.

    Rounds where a metric is undefined (a resample with one class only, for ROC AUC) are left out.
    """
    base, new = aligned(base, new)
    table = TASK_METRICS[new.task]
    differences = _per_round(
        lambda weights: {m: table[m].weighted(new, weights) - table[m].weighted(base, weights) for m in metrics},
        len(new.ids),
        rounds,
        seed,
    )
    return {metric: _interval(values, confidence) for metric, values in differences.items()}


def bootstrap(
    predictions: Predictions, metrics: Sequence[AnyMetricName], *, rounds: int, confidence: float, seed: int
) -> dict[str, tuple[float, float]]:
    """Percentile interval of each metric of one model over resamples of its test records."""
    table = TASK_METRICS[predictions.task]
    values = _per_round(
        lambda weights: {m: table[m].weighted(predictions, weights) for m in metrics},
        len(predictions.ids),
        rounds,
        seed,
    )
    return {metric: _interval(found, confidence) for metric, found in values.items()}


def _per_round(
    compute: Callable[[np.ndarray], dict[AnyMetricName, np.ndarray]], records: int, rounds: int, seed: int
) -> dict[AnyMetricName, np.ndarray]:
    """``compute`` over ``rounds`` resamples of the records (each drawn with replacement, given to it as the
    count of each record), a chunk of rounds at a time; the same resamples whatever the chunk size (one
    generator, drawn in order)."""
    chunk = max(1, CHUNK_ELEMENTS // max(1, records))
    generator = np.random.default_rng(seed)
    parts: list[dict[AnyMetricName, np.ndarray]] = []
    for start in range(0, rounds, chunk):
        size = min(chunk, rounds - start)
        drawn = generator.integers(0, records, size=(size, records))
        drawn += records * np.arange(size)[:, None]  # each round's records apart, for one bincount
        counts = np.bincount(drawn.ravel(), minlength=size * records).reshape(size, records)
        parts.append(compute(counts.astype(float)))
    return {metric: np.concatenate([part[metric] for part in parts]) for metric in parts[0]}


def _interval(values: np.ndarray, confidence: float) -> tuple[float, float]:
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(values[~np.isnan(values)], [tail, 100 - tail])
    return float(low), float(high)


def compare(
    base_metrics: Mapping[str, float],
    new_metrics: Mapping[str, float],
    shown: Sequence[AnyMetricName],
    thresholds: Mapping[AnyMetricName, float],
    intervals: Mapping[str, tuple[float, float]] | None = None,
) -> list[MetricChange]:
    """One row per metric shown (deciding metrics first), with its interval when there is one."""
    order = list(thresholds) + [m for m in shown if m not in thresholds]
    intervals = intervals or {}
    changes = []
    for metric in order:
        low, high = intervals.get(metric, (None, None))
        changes.append(
            MetricChange(metric, base_metrics.get(metric), new_metrics.get(metric), low, high, thresholds.get(metric))
        )
    return changes


def overall(changes: list[MetricChange]) -> Verdict:
    """Worse if any deciding metric got worse by its threshold; better if one improved and none got worse."""
    verdicts = {change.verdict for change in changes if change.threshold is not None}
    if "worse" in verdicts:
        return "worse"
    return "better" if "better" in verdicts else "unchanged"
