from __future__ import annotations

import math

import numpy as np
import pytest
from pydantic import TypeAdapter, ValidationError

from gitops_ml.serving.api_schema import (
    MAX_TEXT_LENGTH,
    openapi_document,
    record_ids,
    record_model,
    records_columns,
    records_frame,
)

FEATURES = [
    {"name": "age", "type": "numeric"},
    {"name": "plan", "type": "categorical", "categories": ["basic", "premium"]},
    {"name": "Area (cm^2)", "type": "numeric"},
]


def test_records_use_column_names_allow_null_and_reject_the_rest() -> None:
    record = TypeAdapter(record_model(FEATURES, ["customer id"]))
    ok = {"age": None, "plan": "basic", "Area (cm^2)": 2.5}
    assert record.validate_python(ok) == ok
    assert record.validate_python(ok | {"customer id": "c-7"}) == ok | {"customer id": "c-7"}
    for bad, field in (
        ({"age": 1.0, "plan": "basic"}, "Area (cm^2)"),
        ({"age": 1.0, "plan": "basic", "Area (cm^2)": 1.0, "extra": 1}, "extra"),
        ({"age": math.inf, "plan": "basic", "Area (cm^2)": 1.0}, "age"),
        ({"age": 1.0, "plan": 7, "Area (cm^2)": 1.0}, "plan"),
        ({"age": 1.0, "plan": "x" * (MAX_TEXT_LENGTH + 1), "Area (cm^2)": 1.0}, "plan"),
    ):
        with pytest.raises(ValidationError) as caught:
            record.validate_python(bad)
        assert [error["loc"] for error in caught.value.errors()] == [(field,)]


def test_each_record_gets_its_id_column_or_a_generated_id() -> None:
    records = [{"id": 7}, {}, {"id": "a-1"}]
    assert record_ids(records, ["id"], ["req-0", "req-1", "req-2"]) == [7, "req-1", "a-1"]
    assert record_ids([{"a": 1, "b": "x"}, {"a": 2}], ["a", "b"], ["req-0", "req-1"]) == ["1/x", "req-1"]
    assert record_ids([{"a": 1}], [], ["req-0"]) == ["req-0"]


def test_the_openapi_document_requires_the_body_and_declares_the_error_answers() -> None:
    spec = {"paths": {"/predict": {"post": {"requestBody": {"content": {}}, "responses": {200: {}, 404: {}}}}}}
    document = openapi_document(spec, ["/predict"], "Limits: 10 records.")
    operation = document["paths"]["/predict"]["post"]
    assert operation["requestBody"]["required"] is True
    assert set(operation["responses"]) == {"200", "400", "413", "415", "500", "503"}
    error = document["components"]["schemas"]["ClientError"]
    assert set(error["required"]) == {"error", "detail"}
    assert document["components"]["schemas"]["Problem"]["required"] == ["loc", "msg", "type"]
    assert operation["description"].endswith("Limits: 10 records.")


def test_documentation_lists_the_categories_seen_in_training() -> None:
    schema = TypeAdapter(record_model(FEATURES)).json_schema()
    assert "seen in training: basic, premium" in schema["properties"]["plan"]["description"]


def test_frame_has_training_dtypes_with_nan_for_missing() -> None:
    rows = [{"age": None, "plan": None, "Area (cm^2)": 1.0}]
    frame = records_frame(records_columns(rows, FEATURES))
    assert list(frame.columns) == ["age", "plan", "Area (cm^2)"]
    assert frame["age"].dtype == np.float64 and np.isnan(frame.loc[0, "age"])
    assert frame["plan"].dtype == object and frame.loc[0, "plan"] is np.nan


def test_numbers_are_json_numbers_within_reach_of_the_training_range() -> None:
    record = TypeAdapter(record_model([{"name": "age", "type": "numeric", "min": 18.0, "max": 90.0}]))
    assert record.validate_json('{"age": 120}') == {"age": 120.0}  # outside, still a value
    assert record.validate_json('{"age": -5000.5}') == {"age": -5000.5}
    for raw, problem in (
        ('{"age": 3e306}', "less_than_equal"),  # finite, but it would overflow the scaler
        ('{"age": -1e12}', "greater_than_equal"),
        ('{"age": "12.5"}', "float_type"),
        ('{"age": true}', "float_type"),
    ):
        with pytest.raises(ValidationError) as caught:
            record.validate_json(raw)
        assert [(e["loc"], e["type"]) for e in caught.value.errors()] == [(("age",), problem)], raw


def test_a_true_false_feature_takes_json_booleans_as_the_text_it_was_trained_on() -> None:
    features = [{"name": "has_guarantor", "type": "categorical", "categories": ["False", "True"]}, *FEATURES[:2]]
    record = TypeAdapter(record_model(features))
    sent = b'{"has_guarantor": true, "age": 40, "plan": "basic"}'
    assert record.validate_json(sent)["has_guarantor"] == "True"
    assert record.validate_python({"has_guarantor": False, "age": None, "plan": None})["has_guarantor"] == "False"
    assert record.validate_python({"has_guarantor": "True", "age": None, "plan": None})["has_guarantor"] == "True"
    with pytest.raises(ValidationError):  # other categorical features stay strict text
        record.validate_python({"has_guarantor": None, "age": None, "plan": True})
