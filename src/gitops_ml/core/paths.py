"""Where each stage reads and writes; ``dvc.yaml`` declares the same paths (a test keeps them equal)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

RAW_DATA = Path("data/raw/dataset.parquet")
VALIDATION_JSON = Path("reports/validation/report.json")
VALIDATION_MARKDOWN = Path("reports/validation/report.md")
TRAIN_DATA = Path("data/split/train.parquet")
TEST_DATA = Path("data/split/test.parquet")
MODEL = Path("models/model.joblib")
EVALUATION_DIR = Path("reports/evaluation")
METRICS = EVALUATION_DIR / "metrics.json"
PREDICTIONS = EVALUATION_DIR / "predictions.csv"
PLOTS_DIR = EVALUATION_DIR / "plots"
BENTO_BUNDLE = Path("models/bento")
BENTO_MODEL_FILE = BENTO_BUNDLE / "model.joblib"
BENTO_METADATA = BENTO_BUNDLE / "metadata.json"
MONITORING_DIR = Path("reports/monitoring")  # monitoring/dvc.yaml declares the same files


@dataclass(frozen=True)
class DriftReport:
    """The files ``monitor`` writes into a folder, which ``drift-issue`` reads back."""

    html: Path
    json: Path
    markdown: Path

    @classmethod
    def under(cls, folder: Path) -> DriftReport:
        return cls(folder / "drift.html", folder / "drift.json", folder / "drift.md")
