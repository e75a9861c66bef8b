"""Judge a model against a baseline: metric deltas, a paired bootstrap interval, and a verdict.

Used by the pull-request report. When both models were scored on the same test records, each
bootstrap round resamples those records once and scores both models on the sample, so the
interval is that of the difference, not of two independent estimates. Metrics are computed
vectorised over all rounds at once (a few milliseconds for thousands of rounds), and agree with
scikit-learn's on the full sample (a test holds them to it).
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from gitops_ml.core.settings import MetricName
from gitops_ml.quality.metrics import METRICS

Verdict = Literal["better", "worse", "unchanged"]


@dataclass(frozen=True)
class Predictions:
    """One model's test-set predictions: record ids, actual class, predicted class and probability."""

    ids: np.ndarray
    is_positive: np.ndarray
    predicted_positive: np.ndarray
    probability: np.ndarray


@dataclass(frozen=True)
class MetricChange:
    metric: MetricName
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
        return None if self.delta is None else (-self.delta if METRICS[self.metric].lower_is_better else self.delta)

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
    """Both models scored the same records with the same labels (in any order)."""
    if len(base.ids) != len(new.ids):
        return False
    b, n = np.argsort(base.ids, kind="stable"), np.argsort(new.ids, kind="stable")
    return bool(np.array_equal(base.ids[b], new.ids[n]) and np.array_equal(base.is_positive[b], new.is_positive[n]))


def aligned(base: Predictions, new: Predictions) -> tuple[Predictions, Predictions]:
    """Both prediction sets in record-id order, so row i is the same record in each."""
    return _sorted(base), _sorted(new)


def _sorted(p: Predictions) -> Predictions:
    order = np.argsort(p.ids, kind="stable")
    return Predictions(p.ids[order], p.is_positive[order], p.predicted_positive[order], p.probability[order])


def paired_bootstrap(
    base: Predictions, new: Predictions, metrics: Sequence[MetricName], *, rounds: int, confidence: float, seed: int
) -> dict[str, tuple[float, float]]:
    """Percentile interval of ``metric(new) - metric(base)`` over resamples of the shared test records.

    Rounds where a metric is undefined (a resample with one class only, for ROC AUC) are left out.
    """
    base, new = aligned(base, new)
    index = _resamples(len(base.ids), rounds, seed)
    return {
        metric: _interval(
            METRICS[metric].per_row(*_sample(new, index)) - METRICS[metric].per_row(*_sample(base, index)), confidence
        )
        for metric in metrics
    }


def bootstrap(
    predictions: Predictions, metrics: Sequence[MetricName], *, rounds: int, confidence: float, seed: int
) -> dict[str, tuple[float, float]]:
    """Percentile interval of each metric of one model over resamples of its test records."""
    index = _resamples(len(predictions.ids), rounds, seed)
    return {metric: _interval(METRICS[metric].per_row(*_sample(predictions, index)), confidence) for metric in metrics}


def _resamples(records: int, rounds: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, records, size=(rounds, records))


def _interval(values: np.ndarray, confidence: float) -> tuple[float, float]:
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(values[~np.isnan(values)], [tail, 100 - tail])
    return float(low), float(high)


def _sample(p: Predictions, index: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return p.is_positive[index], p.predicted_positive[index], p.probability[index]


def compare(
    base_metrics: Mapping[str, float],
    new_metrics: Mapping[str, float],
    shown: Sequence[MetricName],
    thresholds: Mapping[MetricName, float],
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


def predictions_from_csv(csv_text: str, id_columns: Sequence[str], positive_class: object) -> Predictions:
    """The evaluate stage's predictions.csv as arrays; records keyed by their id columns (joined)."""
    import pandas as pd

    frame = pd.read_csv(io.StringIO(csv_text), dtype=str, keep_default_na=False)
    ids = frame[list(id_columns)].agg("\x1f".join, axis=1) if id_columns else frame.index.astype(str)
    positive = str(positive_class)
    return Predictions(
        ids=ids.to_numpy(dtype=str),
        is_positive=(frame["actual"] == positive).to_numpy(),
        predicted_positive=(frame["predicted"] == positive).to_numpy(),
        probability=frame["probability"].astype(float).to_numpy(),
    )
