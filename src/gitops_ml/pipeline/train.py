"""Stage 4, train: fit a scikit-learn Pipeline (preprocessing and model) and log it to MLflow."""

from __future__ import annotations

from typing import Any

import joblib
import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from gitops_ml.core import paths
from gitops_ml.core.errors import SettingsError
from gitops_ml.core.features import feature_types
from gitops_ml.core.files import read_table, write_with
from gitops_ml.core.lineage import file_md5, git_commit
from gitops_ml.core.settings import FeatureType, Settings, Task, TrainSettings, training_params
from gitops_ml.core.target import Target, recorded
from gitops_ml.quality.metrics import score

MISSING_CATEGORY = "missing"


def run(settings: Settings) -> Pipeline:
    train = read_table(paths.TRAIN_DATA)
    target = recorded()
    types = feature_types(train, settings.data)
    features = train[list(types)]
    y = target.encode(train[settings.data.target])
    rows = len(train)
    del train  # the features are a copy: the whole table need not stay in memory while the model fits
    pipeline = build_pipeline(types, settings.train, target.task)
    pipeline.fit(features, y)
    write_with(paths.MODEL, lambda tmp: joblib.dump(pipeline, tmp))
    numeric = sum(kind == "numeric" for kind in types.values())
    print(
        f"train: {settings.train.model} {target.task} model on {rows} rows, {numeric} numeric and "
        f"{len(types) - numeric} categorical features -> {paths.MODEL}"
    )
    if settings.tracking.enabled:
        log_training(settings, pipeline, features, y, target)
    return pipeline


def build_pipeline(types: dict[str, FeatureType], train: TrainSettings, task: Task = "binary") -> Pipeline:
    """Impute and scale numerics; impute and one-hot encode categoricals (unknown ones ignored)."""
    preprocess = train.preprocess
    numeric_steps: list[tuple[str, Any]] = [("impute", SimpleImputer(strategy=preprocess.numeric_imputation))]
    if preprocess.scale_numeric:
        numeric_steps.append(("scale", StandardScaler()))
    min_frequency = preprocess.categorical_min_frequency
    categorical_steps = [
        ("impute", SimpleImputer(strategy="constant", fill_value=MISSING_CATEGORY)),
        # pandas 2 reads a missing text value from Parquet as None, which the NaN imputer passes through
        # and one-hot encoding would learn as a category of its own; the service sends NaN.
        ("impute_none", SimpleImputer(missing_values=None, strategy="constant", fill_value=MISSING_CATEGORY)),
        (
            "encode",
            OneHotEncoder(
                handle_unknown="infrequent_if_exist" if min_frequency > 1 else "ignore",
                min_frequency=min_frequency if min_frequency > 1 else None,
                sparse_output=False,
            ),
        ),
    ]
    columns = ColumnTransformer(
        [
            ("numeric", Pipeline(numeric_steps), [c for c, k in types.items() if k == "numeric"]),
            ("categorical", Pipeline(categorical_steps), [c for c, k in types.items() if k == "categorical"]),
        ],
        verbose_feature_names_out=False,
    )
    return Pipeline([("features", columns), ("model", build_estimator(train, task))])


def build_estimator(train: TrainSettings, task: Task = "binary") -> Any:
    """The family's classifier, or its regressor for a regression task."""
    block = train.hyperparameters
    if task == "regression" and block.class_weight is not None:
        raise SettingsError(
            f"train.{train.model}.class_weight: weighs classes; a regression target has none (set null)"
        )
    if train.model == "linear":
        lr = train.linear
        if task == "regression":
            return Ridge(alpha=1 / (2 * lr.C))  # LogisticRegression's penalty, on a squared loss
        return LogisticRegression(C=lr.C, max_iter=lr.max_iter, class_weight=lr.class_weight, random_state=train.seed)
    gb = train.gradient_boosting
    # Early stopping would hold out a random validation slice; the test split already serves that role.
    common = {
        "learning_rate": gb.learning_rate,
        "max_iter": gb.max_iter,
        "max_depth": gb.max_depth,
        "max_leaf_nodes": gb.max_leaf_nodes,
        "min_samples_leaf": gb.min_samples_leaf,
        "l2_regularization": gb.l2_regularization,
        "early_stopping": False,
        "random_state": train.seed,
    }
    if task == "regression":
        return HistGradientBoostingRegressor(**common)
    return HistGradientBoostingClassifier(**common, class_weight=gb.class_weight)


def log_training(settings: Settings, pipeline: Pipeline, features: pd.DataFrame, y: np.ndarray, target: Target) -> None:
    import mlflow
    from mlflow.models import infer_signature

    from gitops_ml.core.tracking import log_model, model_run

    model_md5 = file_md5(paths.MODEL)
    scored = score(pipeline, features, y, target, settings.evaluate.threshold)
    with model_run(settings.tracking, model_md5, run_name=f"{settings.train.model}-{model_md5[:8]}", resume=False):
        mlflow.log_params(training_params(settings))
        mlflow.set_tags(
            {
                **git_commit(),
                "data_source": settings.data.source,
                "raw_data_md5": file_md5(paths.RAW_DATA),
                "train_data_md5": file_md5(paths.TRAIN_DATA),
                "test_data_md5": file_md5(paths.TEST_DATA),
            }
        )
        mlflow.log_metrics({f"train_{name}": value for name, value in scored.metrics().items()})
        log_model(pipeline, infer_signature(signature_sample(features), scored.scores[:100]))


def signature_sample(features: pd.DataFrame) -> pd.DataFrame:
    """Rows for MLflow's input schema, integers as floats: the pipeline imputes missing numbers,
    and MLflow would reject a missing value (a NaN float) in a column it recorded as integer."""
    sample = features.head(100)
    integers = sample.select_dtypes("integer").columns
    return sample.astype(dict.fromkeys(integers, "float64"))
