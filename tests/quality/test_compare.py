from __future__ import annotations

import numpy as np
import pytest

from gitops_ml.quality.compare import (
    MetricChange,
    Predictions,
    compare,
    overall,
    paired_bootstrap,
    same_test_set,
)
from gitops_ml.quality.metrics import METRICS


def predictions(ids: list[int], actual: list[bool], probability: list[float]) -> Predictions:
    p = np.asarray(probability)
    return Predictions(np.asarray(ids), np.asarray(actual), p >= 0.5, p)


def test_the_paired_interval_of_a_known_accuracy_gain() -> None:
    # 200 records; the base model is wrong on 30 of them, the new one on none: the gain is 0.15, and the
    # per-record differences are 0/1 with mean 0.15, so the interval is about 0.15 +- 1.96 * sqrt(.15 * .85 / 200).
    n, wrong = 200, 30
    actual = [i % 2 == 0 for i in range(n)]
    right = [0.9 if a else 0.1 for a in actual]
    base = predictions(list(range(n)), actual, [1 - r if i < wrong else r for i, r in enumerate(right)])
    new = predictions(list(range(n)), actual, right)
    low, high = paired_bootstrap(base, new, ["accuracy"], rounds=4000, confidence=0.95, seed=1)["accuracy"]
    half_width = 1.96 * np.sqrt(0.15 * 0.85 / n)
    assert low == pytest.approx(0.15 - half_width, abs=0.01)
    assert high == pytest.approx(0.15 + half_width, abs=0.01)


def test_identical_models_have_a_zero_interval_and_the_order_of_records_does_not_matter() -> None:
    rng = np.random.default_rng(0)
    actual, probability = list(rng.random(100) < 0.4), list(rng.random(100))
    base = predictions(list(range(100)), actual, probability)
    shuffled = rng.permutation(100)
    new = predictions([int(i) for i in shuffled], [actual[i] for i in shuffled], [probability[i] for i in shuffled])
    assert same_test_set(base, new)
    intervals = paired_bootstrap(base, new, sorted(METRICS), rounds=500, confidence=0.95, seed=0)
    assert all(low == pytest.approx(0) and high == pytest.approx(0) for low, high in intervals.values())


def test_different_records_or_labels_are_not_the_same_test_set() -> None:
    base = predictions([1, 2, 3], [True, False, True], [0.9, 0.1, 0.8])
    assert not same_test_set(base, predictions([1, 2, 4], [True, False, True], [0.9, 0.1, 0.8]))
    assert not same_test_set(base, predictions([1, 2, 3], [True, False, False], [0.9, 0.1, 0.8]))
    assert not same_test_set(base, predictions([1, 2], [True, False], [0.9, 0.1]))


def test_a_change_counts_only_from_its_threshold_in_the_metrics_good_direction() -> None:
    assert MetricChange("f1", 0.90, 0.92, threshold=0.01).verdict == "better"
    assert MetricChange("f1", 0.90, 0.905, threshold=0.01).verdict == "unchanged"
    assert MetricChange("f1", 0.90, 0.88, threshold=0.01).verdict == "worse"
    assert MetricChange("log_loss", 0.30, 0.20, threshold=0.05).verdict == "better"  # lower is better
    assert MetricChange("log_loss", 0.20, 0.30, threshold=0.05).verdict == "worse"
    assert MetricChange("f1", 0.9, 0.92, low=-0.01, high=0.05).beyond_noise is False
    assert MetricChange("f1", 0.9, 0.92, low=0.002, high=0.05).beyond_noise is True
    assert MetricChange("f1", 0.9, 0.92).beyond_noise is None


def test_any_deciding_metric_that_gets_worse_makes_the_change_worse() -> None:
    thresholds = {"roc_auc": 0.005, "f1": 0.01}
    shown = ["accuracy", "f1", "roc_auc"]
    better = compare({"roc_auc": 0.90, "f1": 0.80}, {"roc_auc": 0.92, "f1": 0.80}, shown, thresholds)
    mixed = compare({"roc_auc": 0.90, "f1": 0.80}, {"roc_auc": 0.92, "f1": 0.70}, shown, thresholds)
    only_shown = compare({"roc_auc": 0.9, "f1": 0.8, "accuracy": 0.9}, {"roc_auc": 0.9, "f1": 0.8, "accuracy": 0.5},
                         shown, thresholds)  # fmt: skip
    assert (overall(better), overall(mixed), overall(only_shown)) == ("better", "worse", "unchanged")
    assert [c.metric for c in better] == ["roc_auc", "f1", "accuracy"]  # deciding metrics first
