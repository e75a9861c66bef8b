"""Classification metrics of a binary model: each said once, with the two ways it is computed.

- ``score``: scikit-learn's, on one set of predictions; the figures the pipeline reports.
- ``per_row``: vectorised over the rows of a (rounds, records) array of resamples, NaN where a row
  leaves it undefined; the bootstrap intervals and the model card's slices. A test holds it equal to
  ``score`` on the full sample.

Both take (is_positive, predicted_positive, probability).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy.stats import rankdata
from sklearn import metrics as skm

from gitops_ml.core.settings import MetricName

DECIMALS = 6

PerRow = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Metric:
    score: Callable[[np.ndarray, np.ndarray, np.ndarray], float]
    per_row: PerRow
    lower_is_better: bool = False


def classification_metrics(is_positive: ArrayLike, probability: ArrayLike, threshold: float) -> dict[str, float]:
    """Threshold metrics at ``threshold`` and ranking metrics on the positive-class probability.

    Rounded so that identical predictions always serialise to identical bytes.
    """
    y = np.asarray(is_positive, dtype=bool)
    p = np.asarray(probability, dtype=float)
    predicted = p >= threshold
    return {name: round(float(metric.score(y, predicted, p)), DECIMALS) for name, metric in METRICS.items()}


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
