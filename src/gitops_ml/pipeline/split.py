"""Stage 3, split: a seeded train/test split of the validated table, stratified by class for a classifier."""

from __future__ import annotations

import pandas as pd
from sklearn.model_selection import train_test_split

from gitops_ml.core import paths
from gitops_ml.core.files import read_table, write_table
from gitops_ml.core.settings import Settings
from gitops_ml.core.target import Target, recorded


def run(settings: Settings) -> tuple[pd.DataFrame, pd.DataFrame]:
    frame = read_table(paths.RAW_DATA)
    train, test = split(frame, settings)
    write_table(paths.TRAIN_DATA, train)
    write_table(paths.TEST_DATA, test)
    print(f"split: {len(train)} train / {len(test)} test rows -> {paths.TRAIN_DATA.parent}")
    return train, test


def split(frame: pd.DataFrame, settings: Settings, target: Target | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``target``: the validate stage's decision, read from its report when not given."""
    classification = (target or recorded()).is_classification
    train, test = train_test_split(
        frame,
        test_size=settings.split.test_size,
        random_state=settings.split.seed,
        stratify=frame[settings.data.target] if classification else None,
    )
    return train.reset_index(drop=True), test.reset_index(drop=True)
