"""Which columns are features, and of which kind: the schema that training and serving share."""

from __future__ import annotations

import pandas as pd

from gitops_ml.core.settings import DataSettings, FeatureType


def feature_types(frame: pd.DataFrame, data: DataSettings) -> dict[str, FeatureType]:
    """Every column but the target and ids, in table order: declared types win, else inferred."""
    excluded = {data.target, *data.id_columns}
    return {
        column: data.feature_types.get(column) or infer_type(frame[column])
        for column in frame.columns
        if column not in excluded
    }


def infer_type(values: pd.Series) -> FeatureType:
    numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
    return "numeric" if numeric else "categorical"


def as_text(values: pd.Series) -> pd.Series:
    """Values as strings with missing kept missing; 3.0 read as a float becomes '3', not '3.0'."""
    if pd.api.types.is_float_dtype(values) and (values.dropna() % 1 == 0).all():
        values = values.astype("Int64")
    return values.astype("string").astype(object).where(values.notna(), None)
