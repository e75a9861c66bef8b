"""The metrics of each task: each said once, with the two ways it is computed.

- ``score``: scikit-learn's, on one set of predictions; the figures the pipeline reports.
- ``weighted``: every row of a (rounds, records) array of weights at once, each row a resample
  given as how many times it drew each record (NaN where a row leaves the metric undefined); the
  bootstrap intervals and the model card's slices. Weighted sums, and for the ranking metrics one
  sort of the full predictions, so a round costs a pass over the records rather than a sort of
  them. A test holds it equal to ``score`` on the full sample and on explicit resamples.

Both read a ``Scored`` (actual, predicted, scores):

- binary: is_positive, predicted_positive (booleans) and the positive class's probability;
- multiclass: class indices 0..k-1, predicted indices, and the probabilities (..., k);
- regression: the actual and predicted numbers, and the predicted numbers again.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from gitops_ml.core.errors import PipelineError
from gitops_ml.core.settings import AnyMetricName, MetricName, MulticlassMetricName, RegressionMetricName, Task
from gitops_ml.core.target import Target

DECIMALS = 6


def _skm() -> ModuleType:
    """scikit-learn's metrics, imported on the first score: the commands that only compare recorded figures
    (the release steps, the pull request's comment) start without scikit-learn's second of imports."""
    return importlib.import_module("sklearn.metrics")


@dataclass(frozen=True)
class Scored:
    """A model's predictions of labelled rows, as the metrics take them: (actual, predicted, scores)."""

    task: Task
    actual: np.ndarray
    predicted: np.ndarray
    scores: np.ndarray
    # Made once for all the metrics that read them: per prediction set (sort orders, per-record values, by
    # ``_once``) and per array of weights (counts, ranked sums, by ``_shared``).
    _made: dict[object, Any] = field(default_factory=dict, init=False, repr=False, compare=False)
    _shared_by_weights: dict[object, tuple[np.ndarray, Any]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def metrics(self) -> dict[str, float]:
        """Every metric of the task, rounded so that identical predictions serialise to identical bytes."""
        return {
            name: round(float(metric.score(self.actual, self.predicted, self.scores)), DECIMALS)
            for name, metric in TASK_METRICS[self.task].items()
        }

    def unweighted(self, metric: AnyMetricName) -> float:
        """One metric on these rows, each counted once (``weighted`` with weights of one)."""
        return float(TASK_METRICS[self.task][metric].weighted(self, np.ones((1, len(self.actual))))[0])


Weighted = Callable[[Scored, np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Metric:
    score: Callable[[np.ndarray, np.ndarray, np.ndarray], float]
    weighted: Weighted
    lower_is_better: bool = False


def _sum(weights: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Each row's weighted sum of the records' values: (rounds,). einsum, not BLAS: the same bits on every CPU."""
    return np.asarray(np.einsum("rn,n->r", weights, values), dtype=float)


def _once(scored: Scored, key: object, compute: Callable[[], Any]) -> Any:
    """``compute()`` for this prediction set, made once and read by every chunk of rounds."""
    if key not in scored._made:
        scored._made[key] = compute()
    return scored._made[key]


def _shared(scored: Scored, key: object, weights: np.ndarray, compute: Callable[[], Any]) -> Any:
    """``compute()`` for these weights, made once for all the metrics that read it (the last weights only)."""
    held = scored._shared_by_weights.get(key)
    if held is None or held[0] is not weights:
        held = scored._shared_by_weights[key] = (weights, compute())
    return held[1]


def _mean(scored: Scored, weights: np.ndarray, key: str, compute: Callable[[], np.ndarray]) -> np.ndarray:
    """Each row's weighted mean of a value per record (an error, a hit)."""
    values = _once(scored, key, lambda: np.asarray(compute(), dtype=float))
    total = _shared(scored, "total weight", weights, lambda: weights.sum(axis=1))
    return np.asarray(_sum(weights, values) / total, dtype=float)


def _one_against_the_rest(scored: Scored, column: int) -> tuple[np.ndarray, np.ndarray]:
    """Actual and predicted positives: the binary task's (column -1), or one class's against the others."""
    if column < 0:
        return scored.actual, scored.predicted
    return scored.actual == column, scored.predicted == column


def _confusion(scored: Scored, column: int, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each row's weighted true positives, false positives and false negatives: (rounds,) each."""

    def hits() -> tuple[np.ndarray, ...]:
        actual, predicted = _one_against_the_rest(scored, column)
        return tuple(np.asarray(h, dtype=float) for h in (actual & predicted, ~actual & predicted, actual & ~predicted))

    per_record = _once(scored, ("hits", column), hits)
    return _shared(scored, ("confusion", column), weights, lambda: tuple(_sum(weights, h) for h in per_record))  # type: ignore[no-any-return]


@dataclass(frozen=True)
class _Ranking:
    """The records in ascending order of one score column, and for each positive record (in that order): its
    position, the first and last positions of its run of tied scores, and how many positives stand before
    that run and through it."""

    order: np.ndarray
    at: np.ndarray
    first: np.ndarray
    last: np.ndarray
    positives_before: np.ndarray
    positives_through: np.ndarray


def _ranking(scored: Scored, column: int) -> _Ranking:
    """The binary scores (column -1), or one class's probabilities against the rest."""

    def compute() -> _Ranking:
        values = scored.scores if column < 0 else scored.scores[:, column]
        positive, _ = _one_against_the_rest(scored, column)
        order = np.argsort(values, kind="mergesort")
        ordered = values[order]
        changes = ordered[1:] != ordered[:-1]
        positions = np.arange(len(order))
        first = np.maximum.accumulate(np.where(np.r_[True, changes], positions, 0))
        last = np.minimum.accumulate(np.where(np.r_[changes, True], positions, len(order))[::-1])[::-1]
        at = np.flatnonzero(positive[order])
        first, last = first[at], last[at]
        return _Ranking(order, at, first, last, np.searchsorted(at, first, "left"), np.searchsorted(at, last, "right"))

    return _once(scored, ("ranking", column), compute)  # type: ignore[no-any-return]


@dataclass(frozen=True)
class _RankedSums:
    """For each positive record of a resample (rounds, positives): its weight, and the weight of all records and of
    the positives before its run of tied scores and through it (cumulative in ascending order)."""

    weight: np.ndarray
    before: np.ndarray
    positives_before: np.ndarray
    through: np.ndarray
    positives_through: np.ndarray
    total: np.ndarray  # (rounds,)
    positives_total: np.ndarray  # (rounds,)


def _ranked_sums(scored: Scored, column: int, weights: np.ndarray) -> _RankedSums:
    def compute() -> _RankedSums:
        ranking = _ranking(scored, column)
        # np.take, not fancy indexing: the same gather, twice as fast on the rows of a chunk.
        ordered = np.take(weights, ranking.order, axis=1)
        rounds, records = ordered.shape
        everything = np.zeros((rounds, records + 1))
        np.cumsum(ordered, axis=1, out=everything[:, 1:])
        weight = np.take(ordered, ranking.at, axis=1)
        positives = np.zeros((rounds, len(ranking.at) + 1))
        np.cumsum(weight, axis=1, out=positives[:, 1:])
        return _RankedSums(
            weight,
            np.take(everything, ranking.first, axis=1),
            np.take(positives, ranking.positives_before, axis=1),
            np.take(everything, ranking.last + 1, axis=1),
            np.take(positives, ranking.positives_through, axis=1),
            everything[:, -1],
            positives[:, -1],
        )

    return _shared(scored, ("ranked", column), weights, compute)  # type: ignore[no-any-return]


def _auc(sums: _RankedSums) -> np.ndarray:
    # Mann-Whitney: the chance that a random positive outranks a random negative, ties counting half.
    negatives_before = sums.before - sums.positives_before
    negatives_through = sums.through - sums.positives_through
    p = sums.positives_total
    n = sums.total - p
    outranked = np.einsum("rp,rp->r", sums.weight, (negatives_before + negatives_through) / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray(np.where((p > 0) & (n > 0), outranked / (p * n), np.nan), dtype=float)


def score(model: Any, features: Any, actual: ArrayLike, target: Target, threshold: float) -> Scored:
    """``model`` (trained on ``target.encode``'s values) on ``features``; binary positive at ``threshold``."""
    y = np.asarray(actual)
    if target.task == "regression":
        predicted = _in_parts(model.predict, features)
        return Scored("regression", y.astype(float), predicted, predicted)
    probabilities = _in_parts(model.predict_proba, features)
    if probabilities.shape[1] != len(target.classes):
        raise PipelineError(f"the model knows {probabilities.shape[1]} classes, the data {len(target.classes)}")
    if target.task == "binary":
        p = probabilities[:, 1]
        return Scored("binary", y.astype(bool), p >= threshold, p)
    return Scored("multiclass", y.astype(int), probabilities.argmax(axis=1), probabilities)


# Rows per model call: the preprocessing's arrays are a few times the rows' size, and a large table at
# once would need them all together. Each row's prediction does not depend on the others in its call.
PREDICT_ROWS = 500_000


def _in_parts(predict: Callable[[Any], Any], features: Any) -> np.ndarray:
    parts = [
        np.asarray(predict(features.iloc[start : start + PREDICT_ROWS]), dtype=float)
        for start in range(0, max(len(features), 1), PREDICT_ROWS)
    ]
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def _accuracy(s: Scored, w: np.ndarray) -> np.ndarray:
    return _mean(s, w, "hit", lambda: s.actual == s.predicted)


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    # scikit-learn's zero_division=0: a ratio with nothing to count is 0.
    return np.asarray(np.divide(numerator, denominator, out=np.zeros(np.shape(numerator)), where=denominator > 0))


def _precision(s: Scored, w: np.ndarray) -> np.ndarray:
    tp, fp, _fn = _confusion(s, -1, w)
    return _ratio(tp, tp + fp)


def _recall(s: Scored, w: np.ndarray) -> np.ndarray:
    tp, _fp, fn = _confusion(s, -1, w)
    return _ratio(tp, tp + fn)


def _f1(s: Scored, w: np.ndarray) -> np.ndarray:
    tp, fp, fn = _confusion(s, -1, w)
    return _ratio(2 * tp, 2 * tp + fp + fn)


def _roc_auc(s: Scored, w: np.ndarray) -> np.ndarray:
    return _auc(_ranked_sums(s, -1, w))


def _average_precision(s: Scored, w: np.ndarray) -> np.ndarray:
    # Precision at each distinct threshold, from the highest down, weighted by the recall it adds
    # (scikit-learn's definition): for each positive record, the precision of the threshold at its score,
    # which takes its run of ties and every record above. Undefined without positives.
    sums = _ranked_sums(s, -1, w)
    seen = sums.total[:, None] - sums.before
    p = sums.positives_total
    found = p[:, None] - sums.positives_before
    precision = np.divide(found, seen, out=np.zeros_like(seen), where=seen > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray(np.where(p > 0, np.einsum("rp,rp->r", sums.weight, precision) / p, np.nan), dtype=float)


def _log_loss(s: Scored, w: np.ndarray) -> np.ndarray:
    def loss() -> np.ndarray:
        eps = np.finfo(float).eps
        clipped = np.clip(s.scores, eps, 1 - eps)
        return np.asarray(-np.where(s.actual, np.log(clipped), np.log(1 - clipped)))

    return _mean(s, w, "loss", loss)


# In the order metrics.json lists them.
METRICS: dict[MetricName, Metric] = {
    "accuracy": Metric(lambda y, pred, _: _skm().accuracy_score(y, pred), _accuracy),
    "precision": Metric(lambda y, pred, _: _skm().precision_score(y, pred, zero_division=0), _precision),
    "recall": Metric(lambda y, pred, _: _skm().recall_score(y, pred, zero_division=0), _recall),
    "f1": Metric(lambda y, pred, _: _skm().f1_score(y, pred, zero_division=0), _f1),
    "roc_auc": Metric(lambda y, _, p: _skm().roc_auc_score(y, p), _roc_auc),
    "average_precision": Metric(lambda y, _, p: _skm().average_precision_score(y, p), _average_precision),
    "log_loss": Metric(lambda y, _, p: _skm().log_loss(y, p, labels=[False, True]), _log_loss, lower_is_better=True),
}


# Multiclass, averaged over the classes present in a sample's actual or predicted values, as
# scikit-learn averages them; ``k`` is the last axis of the probabilities.
def _class_counts(s: Scored, w: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """True positives, false positives and false negatives of each class: (rounds, k)."""
    per_class = [_confusion(s, c, w) for c in range(s.scores.shape[-1])]
    tp, fp, fn = (np.stack(counts, axis=1) for counts in zip(*per_class, strict=True))
    return tp, fp, fn


def _macro(per_class: np.ndarray, present: np.ndarray) -> np.ndarray:
    return np.asarray(np.sum(per_class * present, axis=-1) / np.sum(present, axis=-1), dtype=float)


def _multiclass(kind: str, average: str) -> Weighted:
    def weighted(s: Scored, w: np.ndarray) -> np.ndarray:
        tp, fp, fn = _class_counts(s, w)
        numerator, denominator = {
            "precision": (tp, tp + fp),
            "recall": (tp, tp + fn),
            "f1": (2 * tp, 2 * tp + fp + fn),
        }[kind]
        if average == "weighted":
            return _macro(_ratio(numerator, denominator), tp + fn)  # weighted by each class's actual count
        return _macro(_ratio(numerator, denominator), (tp + fp + fn) > 0)

    return weighted


def _balanced_accuracy(s: Scored, w: np.ndarray) -> np.ndarray:
    tp, _fp, fn = _class_counts(s, w)
    return _macro(_ratio(tp, tp + fn), (tp + fn) > 0)


def _multiclass_log_loss(s: Scored, w: np.ndarray) -> np.ndarray:
    def loss() -> np.ndarray:
        eps = np.finfo(float).eps
        return np.asarray(
            -np.log(np.take_along_axis(np.clip(s.scores, eps, 1 - eps), s.actual[:, None], axis=-1)[:, 0])
        )

    return _mean(s, w, "loss", loss)


def _roc_auc_ovr(s: Scored, w: np.ndarray) -> np.ndarray:
    """Each class against the rest, averaged; undefined (NaN) when a class is absent from the sample."""
    per_class = [_auc(_ranked_sums(s, c, w)) for c in range(s.scores.shape[-1])]
    return np.asarray(np.mean(per_class, axis=0), dtype=float)


def _labels(p: np.ndarray) -> range:
    return range(p.shape[-1])


MULTICLASS_METRICS: dict[MulticlassMetricName, Metric] = {
    "accuracy": Metric(lambda y, pred, _: _skm().accuracy_score(y, pred), _accuracy),
    "balanced_accuracy": Metric(lambda y, pred, _: _skm().balanced_accuracy_score(y, pred), _balanced_accuracy),
    "macro_f1": Metric(
        lambda y, pred, _: _skm().f1_score(y, pred, average="macro", zero_division=0), _multiclass("f1", "macro")
    ),
    "weighted_f1": Metric(
        lambda y, pred, _: _skm().f1_score(y, pred, average="weighted", zero_division=0), _multiclass("f1", "weighted")
    ),
    "macro_precision": Metric(
        lambda y, pred, _: _skm().precision_score(y, pred, average="macro", zero_division=0),
        _multiclass("precision", "macro"),
    ),
    "macro_recall": Metric(
        lambda y, pred, _: _skm().recall_score(y, pred, average="macro", zero_division=0),
        _multiclass("recall", "macro"),
    ),
    "log_loss": Metric(
        lambda y, _, p: _skm().log_loss(y, p, labels=_labels(p)), _multiclass_log_loss, lower_is_better=True
    ),
    "roc_auc_ovr": Metric(
        lambda y, _, p: _skm().roc_auc_score(y, p, multi_class="ovr", average="macro", labels=_labels(p)), _roc_auc_ovr
    ),
}


def _mae(s: Scored, w: np.ndarray) -> np.ndarray:
    return _mean(s, w, "absolute error", lambda: np.abs(s.actual - s.predicted))


def _rmse(s: Scored, w: np.ndarray) -> np.ndarray:
    return np.asarray(np.sqrt(_mean(s, w, "squared error", lambda: (s.actual - s.predicted) ** 2)), dtype=float)


def _r2(s: Scored, w: np.ndarray) -> np.ndarray:
    """scikit-learn's R², finite: a constant actual value scores 1 when predicted exactly, else 0."""
    residual = _sum(w, _once(s, "squared error", lambda: (s.actual - s.predicted) ** 2))
    # Sums of squares about the full sample's mean: the same total for any shift of the values.
    centred = _once(s, "centred actual", lambda: s.actual - s.actual.mean())
    squares = _sum(w, _once(s, "centred actual squared", lambda: centred**2))
    total = squares - _sum(w, centred) ** 2 / _shared(s, "total weight", w, lambda: w.sum(axis=1))
    constant = total <= squares * 1e-12  # only rounding error left: one value drawn throughout
    with np.errstate(divide="ignore", invalid="ignore"):
        r2 = 1 - residual / total
    return np.asarray(np.where(constant, np.where(residual == 0, 1.0, 0.0), r2), dtype=float)


REGRESSION_METRICS: dict[RegressionMetricName, Metric] = {
    "mae": Metric(lambda y, pred, _: _skm().mean_absolute_error(y, pred), _mae, lower_is_better=True),
    "rmse": Metric(lambda y, pred, _: _skm().root_mean_squared_error(y, pred), _rmse, lower_is_better=True),
    "r2": Metric(lambda y, pred, _: _skm().r2_score(y, pred), _r2),
}

TASK_METRICS: dict[Task, dict[Any, Metric]] = {
    "binary": dict(METRICS),
    "multiclass": dict(MULTICLASS_METRICS),
    "regression": dict(REGRESSION_METRICS),
}


def lower_is_better(metric: AnyMetricName) -> bool:
    """The metric's direction (a name means the same in every task that has it)."""
    return any(metric in table and table[metric].lower_is_better for table in TASK_METRICS.values())


def task_of(metrics: dict[str, float]) -> Task | None:
    """The task whose metrics these are (a metrics.json's names), or None."""
    return next((task for task, table in TASK_METRICS.items() if set(metrics) == set(table)), None)
