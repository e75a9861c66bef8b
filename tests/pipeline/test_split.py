from __future__ import annotations

from collections.abc import Callable

from gitops_ml.core.settings import Settings
from gitops_ml.core.target import Target
from gitops_ml.pipeline.split import split
from gitops_ml.pipeline.synthetic import make_customer_table
from tests.support import SYNTHETIC


def test_split_is_stratified_seeded_and_partitions_the_rows(settings: Callable[..., Settings]) -> None:
    frame = make_customer_table(2_000, seed=5)
    config = settings(**SYNTHETIC, split={"test_size": 0.25, "seed": 7})
    binary = Target("binary", ("no", "yes"))
    train, test = split(frame, config, binary)
    assert len(test) == 500
    assert sorted([*train["customer_id"], *test["customer_id"]]) == sorted(frame["customer_id"])
    share = (frame["churned"] == "yes").mean()
    assert abs((test["churned"] == "yes").mean() - share) < 0.005
    again_train, _ = split(frame, config, binary)
    assert again_train.equals(train)
    other_train, _ = split(frame, settings(**SYNTHETIC, split={"test_size": 0.25, "seed": 8}), binary)
    assert not other_train.equals(train)


def test_a_regression_target_is_split_without_strata(settings: Callable[..., Settings]) -> None:
    frame = make_customer_table(1_000, seed=5)
    frame["monthly_charges"] = frame["monthly_charges"].fillna(0.0)
    config = settings(data={"source": "synthetic", "target": "monthly_charges"})
    # Each value is its own class: stratifying would fail on values seen once.
    train, test = split(frame, config, Target("regression"))
    assert (len(train), len(test)) == (800, 200)
