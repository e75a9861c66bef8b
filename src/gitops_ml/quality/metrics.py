"""The metrics of each task: each said once, with the two ways it is computed.

- ``score``: scikit-learn's, on one set of predictions; the figures the pipeline reports.
- ``per_row``: vectorised over the rows of a (rounds, records) array of resamples, NaN where a row
  leaves it undefined; the bootstrap intervals and the model card's slices. A test holds it equal to
  ``score`` on the full sample.

Both take (actual, predicted, scores):

- binary: is_positive, predicted_positive (booleans) and the positive class's probability;
- multiclass: class indices 0..k-1, predicted indices, and the probabilities (..., k);
- regression: the actual and predicted numbers, and the predicted numbers again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy.stats import rankdata
from sklearn import metrics as skm

from gitops_ml.core.errors import PipelineError
from gitops_ml.core.settings import AnyMetricName, MetricName, MulticlassMetricName, RegressionMetricName, Task
from gitops_ml.core.target import Target

DECIMALS = 6

PerRow = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Metric:
    score: Callable[[np.ndarray, np.ndarray, np.ndarray], float]
    per_row: PerRow
    lower_is_better: bool = False


@dataclass(frozen=True)
class Scored:
    """A model's predictions of labelled rows, as the metrics take them: (actual, predicted, scores)."""

    task: Task
    actual: np.ndarray
    predicted: np.ndarray
    scores: np.ndarray

    def metrics(self) -> dict[str, float]:
        """Every metric of the task, rounded so that identical predictions serialise to identical bytes."""
        return {
            name: round(float(metric.score(self.actual, self.predicted, self.scores)), DECIMALS)
            for name, metric in TASK_METRICS[self.task].items()
        }


def score(model: Any, features: Any, actual: ArrayLike, target: Target, threshold: float) -> Scored:
    """``model`` (trained on ``target.encode``'s values) on ``features``; binary positive at ``threshold``."""
    y = np.asarray(actual)
    if target.task == "regression":
        predicted = np.asarray(model.predict(features), dtype=float)
        return Scored("regression", y.astype(float), predicted, predicted)
    probabilities = np.asarray(model.predict_proba(features), dtype=float)
    if probabilities.shape[1] != len(target.classes):
        raise PipelineError(f"the model knows {probabilities.shape[1]} classes, the data {len(target.classes)}")
    if target.task == "binary":
        p = probabilities[:, 1]
        return Scored("binary", y.astype(bool), p >= threshold, p)
    return Scored("multiclass", y.astype(int), probabilities.argmax(axis=1), probabilities)


def _accuracy(y: np.ndarray, pred: np.ndarray, _: np.ndarray) -> np.ndarray:
    return np.asarray(np.mean(y == pred, axis=-1), dtype=float)


def _counts(y: np.ndarray, pred: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    tp = np.sum(y & pred, axis=-1)
    return tp, np.sum(~y & pred, axis=-1), np.sum(y & ~pred, axis=-1)


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    # scikit-learn's zero_division=0: a ratio with nothing to count is 0.
    return np.asarray(np.divide(numerator, denominator, out=np.zeros(np.shape(numerator)), where=denominator > 0))


def _precision(y: np.ndarray, pred: np.ndarray, _: np.ndarray) -> np.ndarray:
    tp, fp, _fn = _counts(y, pred)
    return _ratio(tp, tp + fp)


def _recall(y: np.ndarray, pred: np.ndarray, _: np.ndarray) -> np.ndarray:
    tp, _fp, fn = _counts(y, pred)
    return _ratio(tp, tp + fn)


def _f1(y: np.ndarray, pred: np.ndarray, _: np.ndarray) -> np.ndarray:
    tp, fp, fn = _counts(y, pred)
    return _ratio(2 * tp, 2 * tp + fp + fn)


def _roc_auc(y: np.ndarray, _: np.ndarray, p: np.ndarray) -> np.ndarray:
    # Mann-Whitney: the chance that a random positive outranks a random negative, ties counting half.
    ranks = rankdata(p, axis=-1)
    positives = y.sum(axis=-1)
    negatives = y.shape[-1] - positives
    with np.errstate(divide="ignore", invalid="ignore"):
        auc = (np.sum(ranks * y, axis=-1) - positives * (positives + 1) / 2) / (positives * negatives)
    return np.asarray(np.where((positives > 0) & (negatives > 0), auc, np.nan), dtype=float)


def _average_precision(y: np.ndarray, _: np.ndarray, p: np.ndarray) -> np.ndarray:
    # Precision at each distinct threshold, weighted by the recall it adds (scikit-learn's definition).
    y2, p2 = np.atleast_2d(y), np.atleast_2d(p)
    values = np.full(len(y2), np.nan)
    for row, (labels, scores) in enumerate(zip(y2, p2, strict=True)):
        positives = labels.sum()
        if positives == 0:
            continue
        order = np.argsort(-scores, kind="mergesort")
        labels, scores = labels[order], scores[order]
        last_of_tie = np.r_[np.diff(scores) != 0, True]
        tp = np.cumsum(labels)[last_of_tie]
        seen = (np.arange(1, len(labels) + 1))[last_of_tie]
        recall_gain = np.diff(np.r_[0, tp]) / positives
        values[row] = np.sum(recall_gain * tp / seen)
    return values if np.ndim(y) > 1 else values[0]


def _log_loss(y: np.ndarray, _: np.ndarray, p: np.ndarray) -> np.ndarray:
    eps = np.finfo(float).eps
    clipped = np.clip(p, eps, 1 - eps)
    return np.asarray(-np.mean(np.where(y, np.log(clipped), np.log(1 - clipped)), axis=-1), dtype=float)


# In the order metrics.json lists them.
METRICS: dict[MetricName, Metric] = {
    "accuracy": Metric(lambda y, pred, _: skm.accuracy_score(y, pred), _accuracy),
    "precision": Metric(lambda y, pred, _: skm.precision_score(y, pred, zero_division=0), _precision),
    "recall": Metric(lambda y, pred, _: skm.recall_score(y, pred, zero_division=0), _recall),
    "f1": Metric(lambda y, pred, _: skm.f1_score(y, pred, zero_division=0), _f1),
    "roc_auc": Metric(lambda y, _, p: skm.roc_auc_score(y, p), _roc_auc),
    "average_precision": Metric(lambda y, _, p: skm.average_precision_score(y, p), _average_precision),
    "log_loss": Metric(lambda y, _, p: skm.log_loss(y, p, labels=[False, True]), _log_loss, lower_is_better=True),
}


# Multiclass, averaged over the classes present in a sample's actual or predicted values, as
# scikit-learn averages them; ``k`` is the last axis of the probabilities.
def _class_counts(y: np.ndarray, pred: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """True positives, false positives and false negatives of each class: (..., k)."""
    classes = np.arange(k)
    actual, predicted = y[..., None] == classes, pred[..., None] == classes
    tp = np.sum(actual & predicted, axis=-2)
    return tp, np.sum(~actual & predicted, axis=-2), np.sum(actual & ~predicted, axis=-2)


def _macro(per_class: np.ndarray, present: np.ndarray) -> np.ndarray:
    return np.asarray(np.sum(per_class * present, axis=-1) / np.sum(present, axis=-1), dtype=float)


def _multiclass(kind: str, average: str) -> PerRow:
    def per_row(y: np.ndarray, pred: np.ndarray, p: np.ndarray) -> np.ndarray:
        tp, fp, fn = _class_counts(y, pred, p.shape[-1])
        numerator, denominator = {
            "precision": (tp, tp + fp),
            "recall": (tp, tp + fn),
            "f1": (2 * tp, 2 * tp + fp + fn),
        }[kind]
        if average == "weighted":
            return _macro(_ratio(numerator, denominator), tp + fn)  # weighted by each class's actual count
        return _macro(_ratio(numerator, denominator), (tp + fp + fn) > 0)

    return per_row


def _balanced_accuracy(y: np.ndarray, pred: np.ndarray, p: np.ndarray) -> np.ndarray:
    tp, _fp, fn = _class_counts(y, pred, p.shape[-1])
    return _macro(_ratio(tp, tp + fn), (tp + fn) > 0)


def _multiclass_log_loss(y: np.ndarray, _: np.ndarray, p: np.ndarray) -> np.ndarray:
    eps = np.finfo(float).eps
    chosen = np.take_along_axis(np.clip(p, eps, 1 - eps), y[..., None], axis=-1)[..., 0]
    return np.asarray(-np.mean(np.log(chosen), axis=-1), dtype=float)


def _roc_auc_ovr(y: np.ndarray, pred: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Each class against the rest, averaged; undefined (NaN) when a class is absent from the sample."""
    per_class = [_roc_auc(y == c, pred, p[..., c]) for c in range(p.shape[-1])]
    return np.asarray(np.mean(per_class, axis=0), dtype=float)


def _labels(p: np.ndarray) -> range:
    return range(p.shape[-1])


MULTICLASS_METRICS: dict[MulticlassMetricName, Metric] = {
    "accuracy": Metric(lambda y, pred, _: skm.accuracy_score(y, pred), _accuracy),
    "balanced_accuracy": Metric(lambda y, pred, _: skm.balanced_accuracy_score(y, pred), _balanced_accuracy),
    "macro_f1": Metric(
        lambda y, pred, _: skm.f1_score(y, pred, average="macro", zero_division=0), _multiclass("f1", "macro")
    ),
    "weighted_f1": Metric(
        lambda y, pred, _: skm.f1_score(y, pred, average="weighted", zero_division=0), _multiclass("f1", "weighted")
    ),
    "macro_precision": Metric(
        lambda y, pred, _: skm.precision_score(y, pred, average="macro", zero_division=0),
        _multiclass("precision", "macro"),
    ),
    "macro_recall": Metric(
        lambda y, pred, _: skm.recall_score(y, pred, average="macro", zero_division=0), _multiclass("recall", "macro")
    ),
    "log_loss": Metric(
        lambda y, _, p: skm.log_loss(y, p, labels=_labels(p)), _multiclass_log_loss, lower_is_better=True
    ),
    "roc_auc_ovr": Metric(
        lambda y, _, p: skm.roc_auc_score(y, p, multi_class="ovr", average="macro", labels=_labels(p)), _roc_auc_ovr
    ),
}


def _mae(y: np.ndarray, pred: np.ndarray, _: np.ndarray) -> np.ndarray:
    return np.asarray(np.mean(np.abs(y - pred), axis=-1), dtype=float)


def _rmse(y: np.ndarray, pred: np.ndarray, _: np.ndarray) -> np.ndarray:
    return np.asarray(np.sqrt(np.mean((y - pred) ** 2, axis=-1)), dtype=float)


def _r2(y: np.ndarray, pred: np.ndarray, _: np.ndarray) -> np.ndarray:
    """scikit-learn's R², finite: a constant actual value scores 1 when predicted exactly, else 0."""
    residual = np.sum((y - pred) ** 2, axis=-1)
    total = np.sum((y - np.mean(y, axis=-1, keepdims=True)) ** 2, axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        r2 = 1 - residual / total
    return np.asarray(np.where(total > 0, r2, np.where(residual == 0, 1.0, 0.0)), dtype=float)


REGRESSION_METRICS: dict[RegressionMetricName, Metric] = {
    "mae": Metric(lambda y, pred, _: skm.mean_absolute_error(y, pred), _mae, lower_is_better=True),
    "rmse": Metric(lambda y, pred, _: skm.root_mean_squared_error(y, pred), _rmse, lower_is_better=True),
    "r2": Metric(lambda y, pred, _: skm.r2_score(y, pred), _r2),
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
