from __future__ import annotations

from gitops_ml.pipeline.synthetic import make_churn_table


def test_same_seed_gives_the_same_table_and_another_seed_does_not() -> None:
    assert make_churn_table(500, seed=3).equals(make_churn_table(500, seed=3))
    assert not make_churn_table(500, seed=3).equals(make_churn_table(500, seed=4))


def test_table_mixes_types_with_missing_values_and_a_binary_target() -> None:
    frame = make_churn_table(5_000, seed=0)
    assert len(frame) == 5_000
    assert frame["customer_id"].is_unique
    assert set(frame["churned"]) == {"yes", "no"}
    assert 0.1 < (frame["churned"] == "yes").mean() < 0.6
    for numeric in ("age", "tenure_months", "monthly_charges", "support_calls"):
        assert frame[numeric].dtype.kind in "if"
    for categorical in ("plan", "contract", "region"):
        assert frame[categorical].dtype.kind not in "if"
    assert frame[["age", "monthly_charges", "plan", "region"]].isna().any().all()
    assert frame[["tenure_months", "contract", "churned"]].notna().all().all()
