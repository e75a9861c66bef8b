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
    # Categories drawn as codes: each row of a text column then refers to one of a few shared strings.
    plan = rng.choice(len(PLANS), rows, p=[0.5, 0.35, 0.15])
    contract = rng.choice(len(CONTRACTS), rows, p=[0.55, 0.25, 0.2])
    region = rng.choice(len(REGIONS), rows)
    charges = (20 + 25 * (plan == 1) + 55 * (plan == 2) + rng.normal(0, 8, rows)).clip(5, None).round(2)
    support_calls = rng.poisson(1.5, rows)

    churn_logit = (
        -1.0
        + 0.9 * (contract == 0)
        - 0.8 * (contract == 2)
        - 0.035 * tenure
        + 0.45 * support_calls
        + 0.012 * (charges - 50)
        - 0.01 * (age - 45)
        + 0.3 * (region == 1)
    )
    # One uniform draw per row whatever the task, so the missing values below fall on the same cells.
    noise = rng.random(rows)
    if task == "multiclass":
        values = _satisfaction(churn_logit, noise)
    elif task == "regression":
        values = _lifetime_value(churn_logit, charges, noise)
    else:
        values = np.array(["no", "yes"], dtype=object)[(noise < 1 / (1 + np.exp(-churn_logit))).astype(int)]

    frame = pd.DataFrame(
        {
            "customer_id": np.arange(1, rows + 1),
            "age": age,
            "tenure_months": tenure,
            "monthly_charges": charges,
            "support_calls": support_calls,
            "plan": PLANS.astype(object)[plan],
            "contract": CONTRACTS.astype(object)[contract],
            "region": REGIONS.astype(object)[region],
            target: values,
        }
    )
    for column in ("age", "monthly_charges", "plan", "region"):
        frame.loc[rng.random(rows) < MISSING_SHARE, column] = None
    return frame


def _satisfaction(churn_logit: np.ndarray, noise: np.ndarray) -> np.ndarray:
    """An ordered latent score (the churn drivers, reversed, plus logistic noise) cut into three levels."""
    latent = -churn_logit + np.log(noise / (1 - noise))
    return np.asarray(SATISFACTION.astype(object)[np.digitize(latent, [0.0, 2.5])])


def _lifetime_value(churn_logit: np.ndarray, charges: np.ndarray, noise: np.ndarray) -> np.ndarray:
    """Monthly charges times the months a customer is expected to stay, with multiplicative noise."""
    expected_months = 48 / (1 + np.exp(churn_logit))
    return np.asarray(charges * expected_months * np.exp(0.25 * np.log(noise / (1 - noise)))).round(2)
