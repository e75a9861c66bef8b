from __future__ import annotations

from typing import get_args

import numpy as np
import pytest

from gitops_ml.core.settings import MetricName, MulticlassMetricName, RegressionMetricName, Task
from gitops_ml.core.target import Target
from gitops_ml.quality.metrics import (
    METRICS,
    MULTICLASS_METRICS,
    REGRESSION_METRICS,
    TASK_METRICS,
    Metric,
    Scored,
    score,
    task_of,
)


def classification_metrics(actual: list[bool], probability: list[float], threshold: float) -> dict[str, float]:
    p = np.asarray(probability)
    return Scored("binary", np.asarray(actual), p >= threshold, p).metrics()


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


def resamples(rng: np.random.Generator, records: int, rounds: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """Rows of drawn record indices, and the same resamples as weights (how often each row drew each record)."""
    index = rng.integers(0, records, size=(rounds, records))
    return index, np.stack([np.bincount(row, minlength=records) for row in index]).astype(float)


def assert_weighted_equals_scikit_learns(
    metric: Metric, task: Task, y: np.ndarray, pred: np.ndarray, p: np.ndarray, seed: int
) -> None:
    """On the full sample (weights of one), and on each resample against scikit-learn on the drawn records."""
    scored = Scored(task, y, pred, p)
    assert metric.weighted(scored, np.ones((1, len(y))))[0] == pytest.approx(
        metric.score(y, pred, p), rel=1e-9, abs=1e-12
    )
    index, weights = resamples(np.random.default_rng(seed), len(y))
    for value, picked in zip(metric.weighted(scored, weights), index, strict=True):
        if task != "regression" and np.isnan(value):
            # Undefined where the sample lacks a class: ROC AUC needs both (one class against the rest, every class).
            assert len(set(y[picked].tolist())) < (p.shape[-1] if task == "multiclass" else 2)
            continue
        assert value == pytest.approx(metric.score(y[picked], pred[picked], p[picked]), rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("metric", sorted(METRICS))
def test_the_binary_metrics_equal_scikit_learns_on_the_sample_and_on_each_resample(
    metric: MetricName, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(8, 300))
    y = np.r_[True, False, rng.random(n - 2) < rng.uniform(0.05, 0.95)]
    p = np.round(rng.random(n), int(rng.integers(1, 4)))  # few decimals: many ties
    assert_weighted_equals_scikit_learns(METRICS[metric], "binary", y, p >= 0.5, p, seed)


def multiclass_sample(seed: int, k: int = 4) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(12, 300))
    y = np.r_[np.arange(k), rng.integers(0, k, n - k)]  # every class present in the full sample
    steps = int(rng.integers(3, 30))  # probabilities on a coarse grid: many ties, each row summing to 1
    p = rng.multinomial(steps, np.ones(k) / k, n) / steps
    return y, p.argmax(axis=1), p


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("metric", sorted(MULTICLASS_METRICS))
def test_the_multiclass_metrics_equal_scikit_learns_on_the_sample_and_on_each_resample(metric: str, seed: int) -> None:
    # Small samples, where resamples lose classes from the actual or the predicted values.
    y, pred, p = multiclass_sample(seed)
    assert_weighted_equals_scikit_learns(MULTICLASS_METRICS[metric], "multiclass", y, pred, p, seed)  # type: ignore[index]


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("metric", sorted(REGRESSION_METRICS))
def test_the_regression_metrics_equal_scikit_learns_on_the_sample_and_on_each_resample(metric: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    y = rng.gamma(2.0, 50.0, int(rng.integers(5, 300))) + 1e6 * seed  # R² holds far from zero too
    pred = y + rng.normal(0, 20, len(y))
    chosen = REGRESSION_METRICS[metric]  # type: ignore[index]
    assert_weighted_equals_scikit_learns(chosen, "regression", y, pred, pred, seed)
    constant = np.full(4, 3.0)  # R² of a constant actual value, as scikit-learn makes it finite
    expected = chosen.score(constant, constant, constant)
    assert Scored("regression", constant, constant, constant).unweighted(metric) == pytest.approx(expected)  # type: ignore[arg-type]
    one_drawn = np.array([[0.0, 4.0, 0.0, 0.0]])  # a resample of one record, four times: a constant actual value
    varied = np.array([1.0, 2.0, 3.0, 4.0])
    assert chosen.weighted(Scored("regression", varied, varied + 1, varied + 1), one_drawn)[0] == pytest.approx(
        chosen.score(np.full(4, 2.0), np.full(4, 3.0), np.full(4, 3.0))
    )


def test_each_task_has_its_metrics_and_the_direction_that_is_better() -> None:
    assert set(TASK_METRICS) == set(get_args(Task))
    assert tuple(MULTICLASS_METRICS) == get_args(MulticlassMetricName)
    assert tuple(REGRESSION_METRICS) == get_args(RegressionMetricName)
    lower = {task: {name for name, m in metrics.items() if m.lower_is_better} for task, metrics in TASK_METRICS.items()}
    assert lower == {"binary": {"log_loss"}, "multiclass": {"log_loss"}, "regression": {"mae", "rmse"}}


class Fixed:
    """A model whose answers are given: probabilities for a classifier, values for a regressor."""

    def __init__(self, output: list[list[float]] | list[float]) -> None:
        self.output = np.asarray(output)

    def predict_proba(self, _: object) -> np.ndarray:
        return self.output

    def predict(self, _: object) -> np.ndarray:
        return self.output


def test_score_takes_each_tasks_answer_as_its_metrics_do() -> None:
    import pandas as pd

    two, one = pd.DataFrame({"x": [0, 1]}), pd.DataFrame({"x": [0]})
    binary = score(Fixed([[0.7, 0.3], [0.2, 0.8]]), two, [False, True], Target("binary", ("no", "yes")), 0.25)
    assert binary.predicted.tolist() == [True, True] and binary.scores.tolist() == [0.3, 0.8]
    three = Target("multiclass", ("a", "b", "c"))
    multiclass = score(Fixed([[0.2, 0.5, 0.3], [0.6, 0.1, 0.3]]), two, [1, 2], three, 0.5)
    assert multiclass.predicted.tolist() == [1, 0] and multiclass.metrics()["accuracy"] == 0.5
    regression = score(Fixed([1.0, 3.0]), two, [2.0, 3.0], Target("regression"), 0.5)
    assert regression.metrics() == {"mae": 0.5, "rmse": pytest.approx(0.707107), "r2": -1.0}
    with pytest.raises(Exception, match="the model knows 3 classes, the data 2"):
        score(Fixed([[0.2, 0.5, 0.3]]), one, [1], Target("binary", ("no", "yes")), 0.5)


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_a_metrics_files_names_tell_its_task(task: Task) -> None:
    assert task_of(dict.fromkeys(TASK_METRICS[task], 0.0)) == task
    assert task_of({"accuracy": 1.0}) is None


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_a_large_table_is_scored_in_parts_with_the_same_predictions(
    task: Task, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pandas as pd
    from sklearn.linear_model import LogisticRegression, Ridge

    from gitops_ml.quality import metrics

    rng = np.random.default_rng(0)
    features = pd.DataFrame(rng.normal(size=(1_000, 5)), columns=list("abcde"))
    classes = {"binary": ("no", "yes"), "multiclass": ("a", "b", "c"), "regression": ()}[task]
    y = features["a"].to_numpy() if task == "regression" else rng.integers(0, len(classes), 1_000)
    model = (Ridge() if task == "regression" else LogisticRegression()).fit(features, y)
    whole = score(model, features, y, Target(task, classes), threshold=0.5)
    monkeypatch.setattr(metrics, "PREDICT_ROWS", 7)  # 143 calls, the last one of 6 rows
    parts = score(model, features, y, Target(task, classes), threshold=0.5)
    assert np.array_equal(parts.scores, whole.scores) and np.array_equal(parts.predicted, whole.predicted)
    assert parts.metrics() == whole.metrics()
