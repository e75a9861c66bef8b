"""The service's request and response models, generated from the feature schema of the model it serves.

Kept free of training-only imports: this module ships in the Bento.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, Any, NotRequired

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, create_model
from pydantic_core import PydanticCustomError
from typing_extensions import TypedDict

if TYPE_CHECKING:
    import pandas as pd

# A number: finite, a JSON number (not "12.5" or true), and within REACH of the training range. A
# value a million spans beyond anything seen in training is garbage, and a finite but huge one
# (3e306) overflows the scaler: refused per request, before batching joins it to others'.
REACH = 1e6


MAX_TEXT_LENGTH = 1_000  # characters in a text feature or an id: more is not a value but a payload
# Integer ids fit in 64 bits (JSON encoders refuse more; JavaScript rounds beyond 2**53 anyway).
Id = (
    Annotated[int, Field(strict=True, ge=-(2**63), le=2**63 - 1)]
    | Annotated[str, Field(strict=True, max_length=MAX_TEXT_LENGTH)]
)


ID_DESCRIPTION = "the record's id column as sent (several: joined by '/'), else an id the service generated"


def prediction_model(task: str, classes: Sequence[str]) -> Any:
    """The answer to one record, as ``serving.answers`` makes it for the task."""
    fields: dict[str, Any] = {"id": (int | str, Field(description=ID_DESCRIPTION))}
    if task == "regression":
        fields["value"] = (float, Field(description="the predicted value"))
    elif task == "binary":
        fields["label"] = (str | int, Field(description="predicted class at the model's threshold"))
        fields["probability"] = (float, Field(description=f"probability of the positive class, {classes[-1]!r}"))
    else:
        fields["label"] = (str | int, Field(description="the most probable class"))
        fields["probabilities"] = (
            dict[str, float],
            Field(description="the probability of each class: " + ", ".join(map(repr, classes))),
        )
    return create_model("Prediction", **fields)


class Problem(BaseModel):
    loc: list[int | str] = Field(description="where: e.g. records, 3, age")
    msg: str
    type: str


class ClientError(BaseModel):
    """Every 4xx answer of the prediction routes: the first few problems and how many more there are."""

    error: str
    detail: list[Problem]
    more: int = Field(0, description="problems found beyond those listed")


def record_model(features: list[dict[str, Any]], id_columns: Sequence[str] = ()) -> Any:
    """One record, a JSON object keyed by column name (any name works): every feature required, null
    allowed (imputed as in training), the id columns optional, nothing else accepted.

    A TypedDict rather than a model: validated straight into dicts, which is faster per record.
    """
    fields: dict[str, Any] = {}
    for feature in features:
        categories = set(feature.get("categories") or ())
        true_false = bool(categories) and categories <= TRUE_FALSE
        kind = number(feature) if feature["type"] == "numeric" else TrueFalseText if true_false else Text
        description = f"{feature['type']} feature" + ("; JSON true and false are taken too" if true_false else "")
        if feature.get("categories"):
            description += "; seen in training: " + ", ".join(feature["categories"])
        if "min" in feature:
            description += f"; {feature['min']:g} to {feature['max']:g} in training"
        fields[feature["name"]] = Annotated[kind | None, Field(description=description)]
    for name in id_columns:
        fields[name] = NotRequired[Annotated[Id, Field(description="id column: echoed back as the prediction's id")]]
    record = TypedDict("Record", fields)  # type: ignore[misc]
    record.__pydantic_config__ = ConfigDict(extra="forbid")  # type: ignore[attr-defined]
    return record


Text = Annotated[str, Field(strict=True, max_length=MAX_TEXT_LENGTH)]
# A True/False column is trained on the text "True"/"False" (ingest stores it so); JSON booleans are that text.
TRUE_FALSE = {"True", "False"}
TrueFalseText = Annotated[Text, BeforeValidator(lambda value: str(value) if isinstance(value, bool) else value)]


def number(feature: dict[str, Any]) -> Any:
    """A numeric feature's type: bounded by its training range when the Bento records it."""
    if "min" not in feature:
        return Annotated[float, Field(strict=True, allow_inf_nan=False)]
    low, high = float(feature["min"]), float(feature["max"])
    reach = REACH * max(1.0, abs(low), abs(high), high - low)
    return Annotated[float, Field(strict=True, allow_inf_nan=False, ge=low - reach, le=high + reach)]


def records_type(record: Any, max_records: int) -> Any:
    """The request body's ``records``: one record, or a list of 1 to ``max_records`` (a list once validated).

    A list either way, so that concurrent requests' records can share a model call. The length is
    checked before the records, so an over-long list costs one error, not one per record.
    """

    def one_or_many(value: Any) -> Any:
        if isinstance(value, dict):
            return [value]
        if isinstance(value, list) and len(value) > max_records:
            # Here, before the records: behind a before-validator pydantic checks the length only after them.
            raise PydanticCustomError(
                "too_long",
                "List should have at most {max_length} items, not {actual_length}",
                {"max_length": max_records, "actual_length": len(value)},
            )
        return value

    return Annotated[
        list[record],
        BeforeValidator(one_or_many, json_schema_input_type=record | list[record]),
        Field(
            min_length=1,
            max_length=max_records,
            description="one record, or a list of records; one prediction per record, in order",
        ),
    ]


def records_columns(records: list[dict[str, Any]], features: list[dict[str, Any]]) -> dict[str, Any]:
    """The records by feature: numbers as a float array (NaN for missing), text as a list (None for missing)."""
    import numpy as np

    return {
        feature["name"]: np.array([record[feature["name"]] for record in records], dtype=float)  # None is NaN
        if feature["type"] == "numeric"
        else [record[feature["name"]] for record in records]
        for feature in features
    }


def records_frame(columns: dict[str, Any]) -> pd.DataFrame:
    """The frame the pipeline was trained on, from ``records_columns``: text missing as NaN, as in training."""
    # Imported here, not at module level: BentoML's launcher imports this module only to read the
    # service definition, and pandas would add most of a second to every start.
    import numpy as np
    import pandas as pd

    return pd.DataFrame(
        {
            name: values
            if isinstance(values, np.ndarray)
            else np.array([np.nan if v is None else v for v in values], dtype=object)
            for name, values in columns.items()
        },
        copy=False,
    )


def record_ids(records: list[dict[str, Any]], id_columns: Sequence[str], generated: Sequence[str]) -> list[int | str]:
    """Each record's id: its id column (several: joined by '/'), else its entry in ``generated``."""
    ids: list[int | str] = []
    for index, record in enumerate(records):
        sent = [record[name] for name in id_columns if name in record]
        if len(sent) == len(id_columns) == 1:
            ids.append(sent[0])
        elif sent and len(sent) == len(id_columns):
            ids.append("/".join(map(str, sent)))
        else:
            ids.append(generated[index])
    return ids


def openapi_document(spec: dict[str, Any], routes: Sequence[str], limits: str) -> dict[str, Any]:
    """BentoML's OpenAPI document, corrected to what the prediction routes really do.

    The request body is required; the 4xx answers have the service's own body (``ClientError``) and
    include 413 and 415; 503 is an overload, not a fault. ``limits`` describes the size limits.
    """
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    client_error = ClientError.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(client_error.pop("$defs", {}))
    schemas["ClientError"] = client_error
    schemas["ServerError"] = {"type": "object", "properties": {"error": {"type": "string"}}, "required": ["error"]}

    def answer(description: str, schema: str) -> dict[str, Any]:
        ref = {"$ref": f"#/components/schemas/{schema}"}
        return {"description": description, "content": {"application/json": {"schema": ref}}}

    for route in routes:
        operation = spec["paths"][route]["post"]
        operation["requestBody"]["required"] = True
        operation["description"] = f"{operation.get('description', '')}\n\n{limits}".strip()
        responses = {str(code): value for code, value in operation["responses"].items() if str(code) == "200"}
        responses |= {
            "400": answer("invalid request: the first problems, where they are, how many more", "ClientError"),
            "413": answer("request body over the size limit", "ClientError"),
            "415": answer("request body is not application/json", "ClientError"),
            "500": answer("a fault of the service (never a client's mistake)", "ServerError"),
            "503": answer("overloaded: retry later", "ServerError"),
        }
        operation["responses"] = responses
    return spec
