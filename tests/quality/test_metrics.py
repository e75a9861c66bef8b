from __future__ import annotations

import numpy as np
import pytest

from gitops_ml.quality.metrics import classification_metrics


def test_metrics_of_a_known_case() -> None:
    values = classification_metrics([True, True, False, False], [0.9, 0.4, 0.6, 0.1], threshold=0.5)
    assert values["accuracy"] == 0.5
    assert values["precision"] == 0.5
    assert values["recall"] == 0.5
    assert values["roc_auc"] == 0.75
    assert values["log_loss"] == pytest.approx(-np.mean(np.log([0.9, 0.4, 0.4, 0.9])), abs=1e-6)


def test_metrics_are_rounded_for_stable_bytes() -> None:
    values = classification_metrics([True, False, True], [2 / 3, 1 / 3, 0.9], threshold=0.5)
    assert all(len(repr(value).split(".")[-1]) <= 6 for value in values.values())
