"""Where each stage reads and writes: the paths of ``paths.yaml`` beside this file, which ``dvc.yaml``
reads too (``vars``), so each path is said once."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

_DECLARED = yaml.safe_load(Path(__file__).with_name("paths.yaml").read_text())["paths"]

RAW_DATA = Path(_DECLARED["raw_data"])
VALIDATION_JSON = Path(_DECLARED["validation"]["json"])
VALIDATION_MARKDOWN = Path(_DECLARED["validation"]["markdown"])
TRAIN_DATA = Path(_DECLARED["split"]["train"])
TEST_DATA = Path(_DECLARED["split"]["test"])
MODEL = Path(_DECLARED["model"])
METRICS = Path(_DECLARED["evaluation"]["metrics"])
PREDICTIONS = Path(_DECLARED["evaluation"]["predictions"])
PLOTS_DIR = Path(_DECLARED["evaluation"]["plots"])
FIGURES_DIR = Path(_DECLARED["evaluation"]["figures"])
BENTO_MODEL_FILE = Path(_DECLARED["bento"]["model"])
BENTO_METADATA = Path(_DECLARED["bento"]["metadata"])
BENTO_BUNDLE = BENTO_METADATA.parent
MONITORING_DIR = Path(_DECLARED["monitoring"])


@dataclass(frozen=True)
class DriftReport:
    """The files ``monitor`` writes into a folder, which ``drift-issue`` reads back."""

    html: Path
    json: Path
    markdown: Path

    @classmethod
    def under(cls, folder: Path) -> DriftReport:
        return cls(folder / "drift.html", folder / "drift.json", folder / "drift.md")
