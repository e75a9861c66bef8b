"""A bring-your-own file with an integer 0/1 target and an integer-coded category, end to end in-process."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from gitops_ml.core import paths
from gitops_ml.core.settings import Settings
from gitops_ml.pipeline import evaluate, ingest, split, suggest_suite, train, validate
from gitops_ml.pipeline.synthetic import make_customer_table


def test_integer_target_and_declared_category_run_through_every_stage(
    workdir: Path, settings: Callable[..., Settings]
) -> None:
    frame = make_customer_table(1_500, seed=8)
    frame["churned"] = (frame["churned"] == "yes").astype(int)
    frame["region"] = frame["region"].map({"north": 1, "south": 2, "east": 3, "west": 4})  # floats with gaps
    frame.to_csv("data/external/churn.csv", index=False)
    data = {
        "source": "file",
        "path": "data/external/churn.csv",
        "target": "churned",
        "positive_class": 1,
        "negative_class": 0,
        "id_columns": ["customer_id"],
        "feature_types": {"region": "categorical"},
    }
    draft = settings(data=data)
    suggest_suite.run(draft, Path("data/external/churn.csv"), Path("data/expectations/churn.json"), 0.1)
    config = settings(data=data, validate={"suite": "data/expectations/churn.json"})

    raw = ingest.run(config)
    assert sorted(raw["region"].dropna().unique()) == ["1", "2", "3", "4"]
    assert validate.run(config).success
    split.run(config)
    train.run(config)
    results = evaluate.run(config)

    assert results["test"]["roc_auc"] > 0.7
    predictions = pd.read_csv(paths.PREDICTIONS)
    assert set(predictions["predicted"]) <= {0, 1} and set(predictions["actual"]) == {0, 1}
    assert json.loads(paths.METRICS.read_text()) == results
