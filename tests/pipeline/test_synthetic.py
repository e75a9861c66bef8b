from __future__ import annotations

from gitops_ml.pipeline.synthetic import make_customer_table


def test_same_seed_gives_the_same_table_and_another_seed_does_not() -> None:
    assert make_customer_table(500, seed=3).equals(make_customer_table(500, seed=3))
    assert not make_customer_table(500, seed=3).equals(make_customer_table(500, seed=4))


def test_table_mixes_types_with_missing_values_and_a_binary_target() -> None:
    frame = make_customer_table(5_000, seed=0)
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


def test_each_task_gets_its_target_on_the_same_rows() -> None:
    """The per-task benchmark compares like with like: only the target column differs between tasks."""
    binary = make_customer_table(3_000, seed=1, task="binary", target="churned")
    multiclass = make_customer_table(3_000, seed=1, task="multiclass", target="satisfaction")
    regression = make_customer_table(3_000, seed=1, task="regression", target="lifetime_value")
    features = binary.drop(columns="churned")
    assert features.equals(multiclass.drop(columns="satisfaction"))
    assert features.equals(regression.drop(columns="lifetime_value"))
    assert set(multiclass["satisfaction"]) == {"low", "medium", "high"}
    assert multiclass["satisfaction"].value_counts(normalize=True).min() > 0.1
    assert regression["lifetime_value"].dtype.kind == "f" and (regression["lifetime_value"] > 0).all()
    # The targets follow the features: customers who churn are worth less and less satisfied.
    churned = binary["churned"] == "yes"
    assert regression["lifetime_value"][churned].median() < regression["lifetime_value"][~churned].median()
    assert (multiclass["satisfaction"][churned] == "low").mean() > 0.5
