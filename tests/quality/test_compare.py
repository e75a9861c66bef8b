from __future__ import annotations

import numpy as np
import pytest

from gitops_ml.quality import compare as compare_module
from gitops_ml.quality.compare import (
    MetricChange,
    Predictions,
    compare,
    overall,
    paired_bootstrap,
    same_test_set,
)
from gitops_ml.quality.metrics import METRICS, MULTICLASS_METRICS, REGRESSION_METRICS


def predictions(ids: list[int], actual: list[bool], probability: list[float]) -> Predictions:
    p = np.asarray(probability)
    return Predictions("binary", np.asarray(actual), p >= 0.5, p, np.asarray(ids), ("no", "yes"))


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


def multiclass(ids: np.ndarray, actual: np.ndarray, probabilities: np.ndarray) -> Predictions:
    return Predictions("multiclass", actual, probabilities.argmax(axis=1), probabilities, ids, ("a", "b", "c"))


def regression(ids: np.ndarray, actual: np.ndarray, predicted: np.ndarray) -> Predictions:
    return Predictions("regression", actual, predicted, predicted, ids)


def test_the_multiclass_and_regression_intervals_cover_a_known_gain() -> None:
    rng = np.random.default_rng(3)
    n = 600
    ids, actual = np.arange(n), rng.integers(0, 3, n)
    noise = rng.dirichlet(np.ones(3), n)
    sharp, blurred = 0.6 * np.eye(3)[actual] + 0.4 * noise, 0.2 * np.eye(3)[actual] + 0.8 * noise
    base, new = multiclass(ids, actual, blurred), multiclass(ids, actual, sharp)
    intervals = paired_bootstrap(base, new, list(MULTICLASS_METRICS), rounds=1000, confidence=0.95, seed=0)
    for metric, (low, high) in intervals.items():
        gain = MULTICLASS_METRICS[metric].score(new.actual, new.predicted, new.scores) - MULTICLASS_METRICS[
            metric
        ].score(base.actual, base.predicted, base.scores)
        assert low <= gain <= high, metric
        assert (high < 0) if MULTICLASS_METRICS[metric].lower_is_better else (low > 0), metric

    values = rng.normal(50, 10, n)
    close, far = values + rng.normal(0, 2, n), values + rng.normal(0, 6, n)
    intervals = paired_bootstrap(
        regression(ids, values, far), regression(ids, values, close), list(REGRESSION_METRICS), rounds=1000,
        confidence=0.95, seed=0,
    )  # fmt: skip
    assert intervals["mae"][1] < 0 and intervals["rmse"][1] < 0 and intervals["r2"][0] > 0


def test_the_bootstrap_draws_the_same_resamples_whatever_the_chunk(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(5)
    actual, probability = list(rng.random(300) < 0.4), list(rng.random(300))
    base, new = (
        predictions(list(range(300)), actual, probability),
        predictions(list(range(300)), actual, probability[::-1]),
    )
    whole = paired_bootstrap(base, new, ["roc_auc", "f1"], rounds=500, confidence=0.9, seed=2)
    monkeypatch.setattr(compare_module, "CHUNK_ELEMENTS", 300 * 7)  # 7 rounds a chunk, the last one short
    assert paired_bootstrap(base, new, ["roc_auc", "f1"], rounds=500, confidence=0.9, seed=2) == whole


def test_models_of_different_tasks_or_classes_are_never_the_same_test_set() -> None:
    ids, actual = np.arange(4), np.array([0, 1, 2, 0])
    three = multiclass(ids, actual, np.eye(3)[actual])
    assert same_test_set(three, three)
    other_classes = Predictions("multiclass", actual, actual, np.eye(3)[actual], ids, ("a", "b", "z"))
    assert not same_test_set(three, other_classes)
    assert not same_test_set(three, regression(ids, actual.astype(float), actual.astype(float)))
