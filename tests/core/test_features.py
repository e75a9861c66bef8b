from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from gitops_ml.core.features import feature_types, infer_type
from gitops_ml.core.settings import Settings
from gitops_ml.pipeline.synthetic import make_customer_table
from tests.support import SYNTHETIC


def test_ids_and_target_are_never_features(settings: Callable[..., Settings]) -> None:
    types = feature_types(make_customer_table(50, seed=0), settings(**SYNTHETIC).data)
    assert "customer_id" not in types and "churned" not in types
    assert types["plan"] == "categorical" and types["age"] == "numeric"


def test_declared_types_override_inference(settings: Callable[..., Settings]) -> None:
    frame = pd.DataFrame({"customer_id": [1], "support_calls": [2], "churned": ["no"]})
    config = settings(**{**SYNTHETIC, "data": {**SYNTHETIC["data"], "feature_types": {"support_calls": "categorical"}}})
    assert feature_types(frame, config.data) == {"support_calls": "categorical"}


def test_booleans_and_text_are_categorical_numbers_are_numeric() -> None:
    assert infer_type(pd.Series([True, False])) == "categorical"
    assert infer_type(pd.Series(["a", None])) == "categorical"
    assert infer_type(pd.Series([1, 2])) == "numeric"
    assert infer_type(pd.Series([1.5, None])) == "numeric"
