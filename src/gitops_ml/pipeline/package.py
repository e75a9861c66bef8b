"""Stage 6, package: hand the trained pipeline to BentoML with everything the service must know.

The DVC output is a bundle (the model file and ``metadata.json``: feature schema, classes,
threshold, test metrics, params, data and model hashes) that is byte-identical for identical
inputs. BentoML's own export embeds its creation time, so it could not be a reproducible DVC
output; ``save_to_store`` turns the bundle into a BentoML model, here and wherever the bundle is
pulled, under a version derived from the model's hash.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import pandas as pd

from gitops_ml import NAME
from gitops_ml.core import paths
from gitops_ml.core.features import feature_types
from gitops_ml.core.files import read_table, write_json, write_with
from gitops_ml.core.lineage import file_md5
from gitops_ml.core.settings import Settings, training_params
from gitops_ml.core.target import Target, recorded

MODEL_NAME = NAME
MAX_LISTED_CATEGORIES = 50


def run(settings: Settings) -> str:
    train = read_table(paths.TRAIN_DATA)
    write_with(paths.BENTO_MODEL_FILE, lambda tmp: shutil.copyfile(paths.MODEL, tmp))
    write_json(paths.BENTO_METADATA, bundle_metadata(settings, train))
    tag = save_to_store()
    print(f"package: {paths.BENTO_BUNDLE} -> BentoML model {tag}")
    return tag


def bundle_metadata(settings: Settings, train: pd.DataFrame) -> dict[str, Any]:
    data, target = settings.data, recorded()
    return {
        "name": MODEL_NAME,
        "model_md5": file_md5(paths.MODEL),
        "features": feature_schema(train, settings),
        "id_columns": [name for name in data.id_columns if name in train],  # sent back with each prediction
        "target": data.target,
        "task": target.task,
        "classes": list(target.classes),  # binary: negative, positive; multiclass: the model's order
        **answer_metadata(settings, target, train[data.target]),
        "metrics": json.loads(paths.METRICS.read_text())["test"],
        "params": training_params(settings),
        "data": {"train_md5": file_md5(paths.TRAIN_DATA), "test_md5": file_md5(paths.TEST_DATA)},
    }


def answer_metadata(settings: Settings, target: Target, values: pd.Series) -> dict[str, Any]:
    """What the service needs to answer: binary, the classes and threshold; regression, the training
    range of the target (the buckets of its histogram of predictions)."""
    if target.task == "binary":
        negative, positive = target.classes
        return {"positive_class": positive, "negative_class": negative, "threshold": settings.evaluate.threshold}
    if target.task == "regression":
        return {"target_range": [float(values.min()), float(values.max())]}
    return {}


def feature_schema(train: pd.DataFrame, settings: Settings) -> list[dict[str, Any]]:
    """Each feature in the model's column order, with its kind and, for categories, those seen in training;
    for numbers, the range seen in training (the service refuses values absurdly far outside it)."""
    schema: list[dict[str, Any]] = []
    for name, kind in feature_types(train, settings.data).items():
        entry: dict[str, Any] = {"name": name, "type": kind}
        if kind == "categorical":
            seen = sorted(train[name].dropna().astype(str).unique())
            entry["categories"] = seen[:MAX_LISTED_CATEGORIES]
        else:
            values = pd.to_numeric(train[name], errors="coerce").dropna()
            if len(values):
                entry["min"], entry["max"] = float(values.min()), float(values.max())
        schema.append(entry)
    return schema


def save_to_store(bundle: Path = paths.BENTO_BUNDLE) -> str:
    """The bundle as a BentoML model ``name:<model hash>``; created once, found again afterwards."""
    import bentoml

    metadata = json.loads((bundle / paths.BENTO_METADATA.name).read_text())
    tag = model_tag(bundle)
    try:
        bentoml.models.get(tag)
    except bentoml.exceptions.NotFound:
        with bentoml.models.create(tag, metadata=_without_none(metadata)) as model:
            shutil.copyfile(bundle / paths.BENTO_MODEL_FILE.name, model.path_of("model.joblib"))
    return tag


def model_tag(bundle: Path = paths.BENTO_BUNDLE) -> str:
    """``name:<hash of the bundle's metadata>``: it holds the model's MD5, so a new model or a new
    threshold, feature schema or id column each make a new BentoML model, never a stale one reused."""
    metadata = (bundle / paths.BENTO_METADATA.name).read_bytes()
    return f"{json.loads(metadata)['name']}:{hashlib.md5(metadata).hexdigest()[:20]}"


def _without_none(value: Any) -> Any:
    """BentoML's metadata takes no None: an unset parameter (``max_depth: null``) becomes "null"."""
    if isinstance(value, dict):
        return {key: _without_none(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_without_none(item) for item in value]
    return "null" if value is None else value
