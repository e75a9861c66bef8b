from __future__ import annotations

from collections.abc import Callable

import joblib
import numpy as np
import pytest

from gitops_ml.core import paths
from gitops_ml.core.features import feature_types
from gitops_ml.core.settings import Settings, training_params
from gitops_ml.pipeline import train
from gitops_ml.pipeline.synthetic import make_customer_table
from tests.support import SYNTHETIC, record_target


@pytest.mark.parametrize("family", ["linear", "gradient_boosting"])
def test_mixed_type_pipeline_learns_and_survives_unseen_categories_and_gaps(
    settings: Callable[..., Settings], family: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # With tracking on: MLflow's skops check loads each family's logged model back (it must trust its types).
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    config = settings(**SYNTHETIC, train={"model": family}, tracking={"enabled": True})
    frame = make_customer_table(3_000, seed=2)
    for path in (paths.RAW_DATA, paths.TRAIN_DATA, paths.TEST_DATA):
        path.parent.mkdir(parents=True, exist_ok=True)
        frame.to_parquet(path)
    record_target(config, frame)
    train.run(config)
    model = joblib.load(paths.MODEL)
    assert type(model.named_steps["model"]).__name__ == (
        "LogisticRegression" if family == "linear" else "HistGradientBoostingClassifier"
    )
    holdout = make_customer_table(1_000, seed=3)
    features = holdout[list(feature_types(holdout, config.data))]
    probability = model.predict_proba(features)[:, 1]
    from sklearn.metrics import roc_auc_score

    assert roc_auc_score(holdout["churned"] == "yes", probability) > 0.7
    odd = features.head(2).copy()
    odd["plan"] = ["enterprise", None]  # a category never seen, and a gap
    odd["age"] = [np.nan, np.nan]
    assert np.isfinite(model.predict_proba(odd)).all()
    # A gap in a text column is one "missing" category however the frame spells it (None or NaN).
    as_none, as_nan = features.head(1).copy(), features.head(1).copy()
    as_none["plan"], as_nan["plan"] = np.array([None], dtype=object), np.array([np.nan], dtype=object)
    assert model.predict_proba(as_none).tolist() == model.predict_proba(as_nan).tolist()


def test_training_params_hold_the_selected_family_only(settings: Callable[..., Settings]) -> None:
    flat = training_params(settings(train={"model": "gradient_boosting"}))
    assert flat["train.gradient_boosting.learning_rate"] == 0.1
    assert not any(key.startswith("train.linear") for key in flat)
    assert flat["train.preprocess.numeric_imputation"] == "median"
