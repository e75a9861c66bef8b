"""Classification metrics of a binary model, computed the same way for every split and report."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from sklearn import metrics as skm

DECIMALS = 6


def classification_metrics(is_positive: ArrayLike, probability: ArrayLike, threshold: float) -> dict[str, float]:
    """Threshold metrics at ``threshold`` and ranking metrics on the positive-class probability.

    Rounded so that identical predictions always serialise to identical bytes.
    """
    y = np.asarray(is_positive, dtype=bool)
    p = np.asarray(probability, dtype=float)
    predicted = p >= threshold
    values = {
        "accuracy": skm.accuracy_score(y, predicted),
        "precision": skm.precision_score(y, predicted, zero_division=0),
        "recall": skm.recall_score(y, predicted, zero_division=0),
        "f1": skm.f1_score(y, predicted, zero_division=0),
        "roc_auc": skm.roc_auc_score(y, p),
        "average_precision": skm.average_precision_score(y, p),
        "log_loss": skm.log_loss(y, p, labels=[False, True]),
    }
    return {name: round(float(value), DECIMALS) for name, value in values.items()}
