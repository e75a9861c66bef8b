"""The service's request and response models, generated from the feature schema of the model it serves.

Kept free of training-only imports: this module ships in the Bento.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, create_model

if TYPE_CHECKING:
    import pandas as pd

Number = Annotated[float, Field(allow_inf_nan=False)]


class Prediction(BaseModel):
    label: str | int = Field(description="predicted class at the model's threshold")
    probability: float = Field(description="probability of the positive class")


def record_model(features: list[dict[str, Any]]) -> type[BaseModel]:
    """One record: every feature required, null allowed (imputed as in training), nothing else accepted.

    Field names are the column names (as aliases, so any column name works); numbers must be finite.
    """
    fields: dict[str, Any] = {}
    for index, feature in enumerate(features):
        kind = Number if feature["type"] == "numeric" else str
        description = f"{feature['type']} feature"
        if feature.get("categories"):
            description += "; seen in training: " + ", ".join(feature["categories"])
        fields[f"feature_{index}"] = (kind | None, Field(alias=feature["name"], description=description))
    config = ConfigDict(extra="forbid", populate_by_name=False)
    return create_model("Record", __config__=config, **fields)


def records_frame(records: list[BaseModel], features: list[dict[str, Any]]) -> pd.DataFrame:
    """The records as the frame the pipeline was trained on: floats with NaN, text with NaN for missing."""
    # Imported here, not at module level: BentoML's launcher imports this module only to read the
    # service definition, and pandas would add most of a second to every start.
    import numpy as np
    import pandas as pd

    rows = [record.model_dump(by_alias=True) for record in records]
    columns = {}
    for feature in features:
        name = feature["name"]
        values = [row[name] for row in rows]
        if feature["type"] == "numeric":
            columns[name] = np.array([np.nan if v is None else v for v in values], dtype=float)
        else:
            columns[name] = np.array([np.nan if v is None else v for v in values], dtype=object)
    return pd.DataFrame(columns)
