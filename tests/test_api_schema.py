from __future__ import annotations

import math

import numpy as np
import pytest
from pydantic import ValidationError

from gitops_ml.api_schema import record_model, records_frame

FEATURES = [
    {"name": "age", "type": "numeric"},
    {"name": "plan", "type": "categorical", "categories": ["basic", "premium"]},
    {"name": "Area (cm^2)", "type": "numeric"},
]


def test_records_use_column_names_allow_null_and_reject_the_rest() -> None:
    record = record_model(FEATURES)
    ok = record.model_validate({"age": None, "plan": "basic", "Area (cm^2)": 2.5})
    assert ok.model_dump(by_alias=True) == {"age": None, "plan": "basic", "Area (cm^2)": 2.5}
    for bad, field in (
        ({"age": 1.0, "plan": "basic"}, "Area (cm^2)"),
        ({"age": 1.0, "plan": "basic", "Area (cm^2)": 1.0, "extra": 1}, "extra"),
        ({"age": math.inf, "plan": "basic", "Area (cm^2)": 1.0}, "age"),
        ({"age": 1.0, "plan": 7, "Area (cm^2)": 1.0}, "plan"),
    ):
        with pytest.raises(ValidationError) as caught:
            record.model_validate(bad)
        assert [error["loc"] for error in caught.value.errors()] == [(field,)]


def test_documentation_lists_the_categories_seen_in_training() -> None:
    schema = record_model(FEATURES).model_json_schema()
    assert "seen in training: basic, premium" in schema["properties"]["plan"]["description"]


def test_frame_has_training_dtypes_with_nan_for_missing() -> None:
    record = record_model(FEATURES)
    rows = [record.model_validate({"age": None, "plan": None, "Area (cm^2)": 1.0})]
    frame = records_frame(rows, FEATURES)
    assert list(frame.columns) == ["age", "plan", "Area (cm^2)"]
    assert frame["age"].dtype == np.float64 and np.isnan(frame.loc[0, "age"])
    assert frame["plan"].dtype == object and frame.loc[0, "plan"] is np.nan


def test_numbers_are_json_numbers_within_reach_of_the_training_range() -> None:
    record = record_model([{"name": "age", "type": "numeric", "min": 18.0, "max": 90.0}])
    assert record.model_validate_json('{"age": 120}').model_dump(by_alias=True) == {
        "age": 120.0
    }  # outside, still a value
    assert record.model_validate_json('{"age": -5000.5}').model_dump(by_alias=True) == {"age": -5000.5}
    for raw, problem in (
        ('{"age": 3e306}', "less_than_equal"),  # finite, but it would overflow the scaler
        ('{"age": -1e12}', "greater_than_equal"),
        ('{"age": "12.5"}', "float_type"),
        ('{"age": true}', "float_type"),
    ):
        with pytest.raises(ValidationError) as caught:
            record.model_validate_json(raw)
        assert [(e["loc"], e["type"]) for e in caught.value.errors()] == [(("age",), problem)], raw
