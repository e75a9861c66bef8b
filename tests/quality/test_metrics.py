from __future__ import annotations

from typing import get_args

import numpy as np
import pytest

from gitops_ml.core.settings import MetricName
from gitops_ml.quality.metrics import METRICS, classification_metrics


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


def test_every_metric_params_yaml_may_name_is_computed_and_reported() -> None:
    assert tuple(METRICS) == get_args(MetricName)
    assert tuple(classification_metrics([True, False], [0.8, 0.3], threshold=0.5)) == get_args(MetricName)


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("metric", sorted(METRICS))
def test_the_vectorised_metrics_equal_scikit_learns(metric: MetricName, seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(8, 300))
    y = np.r_[True, False, rng.random(n - 2) < rng.uniform(0.05, 0.95)]
    p = np.round(rng.random(n), int(rng.integers(1, 4)))  # few decimals: many ties
    pred = p >= 0.5
    expected = METRICS[metric].score(y, pred, p)
    assert METRICS[metric].per_row(y, pred, p) == pytest.approx(expected, abs=1e-12)
    # Vectorised over rows: each row scores like the 1-D call.
    rows = METRICS[metric].per_row(np.stack([y, y]), np.stack([pred, pred]), np.stack([p, p]))
    assert rows[1] == pytest.approx(expected, abs=1e-12)
