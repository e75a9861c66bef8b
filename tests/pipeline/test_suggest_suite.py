from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from gitops_ml.core import paths
from gitops_ml.core.settings import Settings
from gitops_ml.pipeline import suggest_suite, validate
from gitops_ml.pipeline.synthetic import make_churn_table
from tests.support import SYNTHETIC


def test_suggested_suite_accepts_its_data_and_rejects_drifted_data(
    workdir: Path, settings: Callable[..., Settings]
) -> None:
    frame = make_churn_table(1_000, seed=11)
    frame.to_csv("data/external/churn.csv", index=False)
    config = settings(**SYNTHETIC)
    suite = suggest_suite.run(config, Path("data/external/churn.csv"), Path("data/expectations/mine.json"), 0.1)
    columns = {e["kwargs"].get("column") for e in suite["expectations"]}
    assert "churned" not in columns and "customer_id" not in columns
    assert {"expect_column_values_to_be_in_set", "expect_column_values_to_be_between"} <= {
        e["type"] for e in suite["expectations"]
    }

    mine = settings(**{**SYNTHETIC, "validate": {"suite": "data/expectations/mine.json"}})
    assert validate.validate(frame, mine, data_path=paths.RAW_DATA).success
    drifted = frame.assign(tenure_months=frame["tenure_months"] * 10)
    drifted.loc[0, "plan"] = "enterprise"
    found = validate.validate(drifted, mine, data_path=paths.RAW_DATA).failures
    assert {(f.column, f.description) for f in found} == {
        ("tenure_months", "values out of range"),
        ("plan", "values outside the allowed set"),
    }
