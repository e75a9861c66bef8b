from __future__ import annotations

from collections.abc import Callable

from gitops_ml.core.settings import Settings
from gitops_ml.pipeline.split import split
from gitops_ml.pipeline.synthetic import make_churn_table
from tests.support import SYNTHETIC


def test_split_is_stratified_seeded_and_partitions_the_rows(settings: Callable[..., Settings]) -> None:
    frame = make_churn_table(2_000, seed=5)
    config = settings(**SYNTHETIC, split={"test_size": 0.25, "seed": 7})
    train, test = split(frame, config)
    assert len(test) == 500
    assert sorted([*train["customer_id"], *test["customer_id"]]) == sorted(frame["customer_id"])
    share = (frame["churned"] == "yes").mean()
    assert abs((test["churned"] == "yes").mean() - share) < 0.005
    again_train, _ = split(frame, config)
    assert again_train.equals(train)
    other_train, _ = split(frame, settings(**SYNTHETIC, split={"test_size": 0.25, "seed": 8}))
    assert not other_train.equals(train)
