"""Stage 1, ingest: bring the configured source into one raw table with normalised column types."""

from __future__ import annotations

import re

import pandas as pd

from gitops_ml.core import paths
from gitops_ml.core.errors import DataError
from gitops_ml.core.features import as_text
from gitops_ml.core.files import missing_markers, read_table, write_table
from gitops_ml.core.settings import EMBEDDED_SOURCES, DataSettings, Settings


def run(settings: Settings) -> pd.DataFrame:
    frame = apply_feature_types(load_source(settings.data), settings.data)
    write_table(paths.RAW_DATA, frame)
    print(f"ingest: {len(frame)} rows x {frame.shape[1]} columns from {settings.data.source} -> {paths.RAW_DATA}")
    if settings.data.source == "file":
        report_markers(settings.data, [str(column) for column in frame.columns[frame.isna().any()]])
    return frame


def report_markers(data: DataSettings, columns_with_gaps: list[str]) -> None:
    """Say which missing-value texts were read as missing, and where: none is taken in silence."""
    found = missing_markers(data.path, data.missing_values, columns_with_gaps)
    for column, counts in found.items():
        markers = ", ".join(f"{marker!r} x{count}" for marker, count in counts.items())
        print(f"ingest: {column}: read as missing: {markers} (data.missing_values)")


def load_source(data: DataSettings) -> pd.DataFrame:
    if data.source == "synthetic":
        from gitops_ml.pipeline.synthetic import make_customer_table

        return make_customer_table(data.synthetic.rows, data.synthetic.seed, data.task or "binary", data.target)
    if data.source in EMBEDDED:
        return load_embedded(data.source)
    return read_table(data.path, data.missing_values)


# scikit-learn's tables shipped in the package (no download): the loader, and new names where
# scikit-learn's say nothing. Their target and id column are named in settings.EMBEDDED_SOURCES.
EMBEDDED = {
    "breast_cancer": ("load_breast_cancer", {}),
    "wine": ("load_wine", {}),
    "diabetes": (
        "load_diabetes",
        {"s1": "total_cholesterol", "s2": "ldl", "s3": "hdl", "s4": "cholesterol_hdl_ratio",
         "s5": "log_triglycerides", "s6": "glucose"},
    ),
}  # fmt: skip


def load_embedded(source: str) -> pd.DataFrame:
    """One of scikit-learn's embedded tables, with an id column first and the target last.

    Column names become snake_case so they are valid field names in the service's API; a class
    target becomes its labels (``malignant``, ``class_0``); diabetes keeps its measured units.
    """
    from sklearn import datasets

    loader, names = EMBEDDED[source]
    target, (id_column,) = EMBEDDED_SOURCES[source]["target"], EMBEDDED_SOURCES[source]["id_columns"]
    options = {"scaled": False} if source == "diabetes" else {}
    bunch = getattr(datasets, loader)(as_frame=True, **options)
    features: pd.DataFrame = bunch.data.rename(columns=lambda name: names.get(name, snake_case(name)))
    values = bunch.target_names[bunch.target] if "target_names" in bunch else bunch.target.to_numpy()
    ids = pd.Series(range(1, len(features) + 1), name=id_column)
    return pd.concat([ids, features, pd.Series(values, name=target)], axis=1)


def apply_feature_types(frame: pd.DataFrame, data: DataSettings) -> pd.DataFrame:
    """Store declared categorical columns and True/False columns as text, so '1' and 1, or 'True'
    and True, are one category everywhere: in validation, training and the service's requests.

    Declared numeric columns are left as read: a text value there is for validation to report,
    not for ingest to hide by coercion.
    """
    missing = sorted(set(data.feature_types) - set(frame.columns))
    if missing:
        raise DataError(f"data.feature_types names columns the data does not have: {missing}")
    frame = frame.copy()
    for column in frame.columns:
        declared = data.feature_types.get(column)
        if declared == "categorical" or (declared is None and is_true_false(frame[column])):
            frame[column] = as_text(frame[column])
    return frame


def is_true_false(values: pd.Series) -> bool:
    """Booleans, with or without gaps (a CSV column of True/False with gaps is read as objects)."""
    if pd.api.types.is_bool_dtype(values):
        return True
    return values.dtype == object and pd.api.types.infer_dtype(values, skipna=True) == "boolean"


def snake_case(name: str) -> str:
    return re.sub(r"[^0-9a-zA-Z]+", "_", name).strip("_").lower()
