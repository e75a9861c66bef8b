"""The service's request and response models, generated from the feature schema of the model it serves.

Kept free of training-only imports: this module ships in the Bento.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, create_model
from pydantic_core import PydanticCustomError

if TYPE_CHECKING:
    import pandas as pd

# A number: finite, a JSON number (not "12.5" or true), and within REACH of the training range. A
# value a million spans beyond anything seen in training is garbage, and a finite but huge one
# (3e306) overflows the scaler: refused per request, before adaptive batching joins it to others'.
REACH = 1e6


class Prediction(BaseModel):
    label: str | int = Field(description="predicted class at the model's threshold")
    probability: float = Field(description="probability of the positive class")


def record_model(features: list[dict[str, Any]]) -> type[BaseModel]:
    """One record: every feature required, null allowed (imputed as in training), nothing else accepted.

    Field names are the column names (as aliases, so any column name works); numbers must be finite.
    """
    fields: dict[str, Any] = {}
    for index, feature in enumerate(features):
        kind = number(feature) if feature["type"] == "numeric" else Annotated[str, Field(strict=True)]
        description = f"{feature['type']} feature"
        if feature.get("categories"):
            description += "; seen in training: " + ", ".join(feature["categories"])
        if "min" in feature:
            description += f"; {feature['min']:g} to {feature['max']:g} in training"
        fields[_field(index)] = (kind | None, Field(alias=feature["name"], description=description))
    config = ConfigDict(extra="forbid", populate_by_name=False)
    return create_model("Record", __config__=config, **fields)


def number(feature: dict[str, Any]) -> Any:
    """A numeric feature's type: bounded by its training range when the Bento records it."""
    if "min" not in feature:
        return Annotated[float, Field(strict=True, allow_inf_nan=False)]
    low, high = float(feature["min"]), float(feature["max"])
    reach = REACH * max(1.0, abs(low), abs(high), high - low)
    return Annotated[float, Field(strict=True, allow_inf_nan=False, ge=low - reach, le=high + reach)]


def records_type(record: type[BaseModel], max_records: int) -> Any:
    """The request body's ``records``: one record, or a list of 1 to ``max_records`` (a list once validated).

    A list either way, so BentoML's adaptive batching can join concurrent requests. The length is
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
        list[record],  # type: ignore[valid-type]
        BeforeValidator(one_or_many, json_schema_input_type=record | list[record]),  # type: ignore[valid-type]
        Field(
            min_length=1,
            max_length=max_records,
            description="one record, or a list of records; one prediction per record, in order",
        ),
    ]


def _field(index: int) -> str:
    # Python-safe field names; the column names, which may be anything, are the aliases.
    return f"feature_{index}"


def records_frame(records: list[BaseModel], features: list[dict[str, Any]]) -> pd.DataFrame:
    """The records as the frame the pipeline was trained on: floats with NaN, text with NaN for missing."""
    # Imported here, not at module level: BentoML's launcher imports this module only to read the
    # service definition, and pandas would add most of a second to every start.
    import numpy as np
    import pandas as pd

    columns = {}
    for index, feature in enumerate(features):
        field = _field(index)
        values = [getattr(record, field) for record in records]
        dtype = float if feature["type"] == "numeric" else object
        columns[feature["name"]] = np.array([np.nan if v is None else v for v in values], dtype=dtype)
    return pd.DataFrame(columns, copy=False)
