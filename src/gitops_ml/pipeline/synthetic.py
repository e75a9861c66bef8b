"""A seeded synthetic customer table: numeric and categorical columns, missing values, and a target per task.

Vectorised with NumPy so that millions of rows take seconds; used for scale runs and to exercise the
mixed-type paths that the all-numeric embedded tables do not. The features do not depend on the task:
with one seed, the binary, multiclass and regression tables have the same rows and differ only in the
target column, so their benchmark figures compare like with like.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

PLANS = np.array(["basic", "standard", "premium"])
REGIONS = np.array(["north", "south", "east", "west"])
CONTRACTS = np.array(["monthly", "one_year", "two_year"])
SATISFACTION = np.array(["low", "medium", "high"])
MISSING_SHARE = 0.03


def make_customer_table(rows: int, seed: int, task: str = "binary", target: str = "churned") -> pd.DataFrame:
    """``rows`` customers; ``target`` holds, by task: churned yes/no (binary), satisfaction low/medium/high
    (multiclass) or the lifetime value in currency units (regression), all driven by the same features."""
    rng = np.random.default_rng(seed)
    age = rng.normal(45, 14, rows).clip(18, 90).round()
    tenure = rng.gamma(2.0, 14.0, rows).clip(0, 120).round()
    plan = rng.choice(PLANS, rows, p=[0.5, 0.35, 0.15])
    contract = rng.choice(CONTRACTS, rows, p=[0.55, 0.25, 0.2])
    region = rng.choice(REGIONS, rows)
    charges = (
        (20 + 25 * (plan == "standard") + 55 * (plan == "premium") + rng.normal(0, 8, rows)).clip(5, None).round(2)
    )
    support_calls = rng.poisson(1.5, rows)

    churn_logit = (
        -1.0
        + 0.9 * (contract == "monthly")
        - 0.8 * (contract == "two_year")
        - 0.035 * tenure
        + 0.45 * support_calls
        + 0.012 * (charges - 50)
        - 0.01 * (age - 45)
        + 0.3 * (region == "south")
    )
    # One uniform draw per row whatever the task, so the missing values below fall on the same cells.
    noise = rng.random(rows)
    if task == "multiclass":
        values = _satisfaction(churn_logit, noise)
    elif task == "regression":
        values = _lifetime_value(churn_logit, charges, noise)
    else:
        values = np.where(noise < 1 / (1 + np.exp(-churn_logit)), "yes", "no")

    frame = pd.DataFrame(
        {
            "customer_id": np.arange(1, rows + 1),
            "age": age,
            "tenure_months": tenure,
            "monthly_charges": charges,
            "support_calls": support_calls,
            "plan": plan,
            "contract": contract,
            "region": region,
            target: values,
        }
    )
    for column in ("age", "monthly_charges", "plan", "region"):
        frame.loc[rng.random(rows) < MISSING_SHARE, column] = None
    return frame


def _satisfaction(churn_logit: np.ndarray, noise: np.ndarray) -> np.ndarray:
    """An ordered latent score (the churn drivers, reversed, plus logistic noise) cut into three levels."""
    latent = -churn_logit + np.log(noise / (1 - noise))
    return np.asarray(SATISFACTION[np.digitize(latent, [0.0, 2.5])])


def _lifetime_value(churn_logit: np.ndarray, charges: np.ndarray, noise: np.ndarray) -> np.ndarray:
    """Monthly charges times the months a customer is expected to stay, with multiplicative noise."""
    expected_months = 48 / (1 + np.exp(churn_logit))
    return np.asarray(charges * expected_months * np.exp(0.25 * np.log(noise / (1 - noise)))).round(2)
