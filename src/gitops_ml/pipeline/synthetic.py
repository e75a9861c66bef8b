"""A seeded synthetic churn table: numeric and categorical columns, missing values, a yes/no target.

Vectorised with NumPy so that a million rows take seconds; used for scale runs and to exercise the
mixed-type paths that the all-numeric default dataset does not.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

PLANS = np.array(["basic", "standard", "premium"])
REGIONS = np.array(["north", "south", "east", "west"])
CONTRACTS = np.array(["monthly", "one_year", "two_year"])
MISSING_SHARE = 0.03


def make_churn_table(rows: int, seed: int) -> pd.DataFrame:
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

    logit = (
        -1.0
        + 0.9 * (contract == "monthly")
        - 0.8 * (contract == "two_year")
        - 0.035 * tenure
        + 0.45 * support_calls
        + 0.012 * (charges - 50)
        - 0.01 * (age - 45)
        + 0.3 * (region == "south")
    )
    churned = rng.random(rows) < 1 / (1 + np.exp(-logit))

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
            "churned": np.where(churned, "yes", "no"),
        }
    )
    for column in ("age", "monthly_charges", "plan", "region"):
        frame.loc[rng.random(rows) < MISSING_SHARE, column] = None
    return frame
