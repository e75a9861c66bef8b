"""The Bento's pinned packages are exactly the serving group of uv.lock (regenerate: make serving-requirements)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from tests.support import ROOT


def test_committed_serving_requirements_match_the_lock() -> None:
    uv = shutil.which("uv", path=str(Path(sys.executable).parent)) or "uv"
    exported = subprocess.run(
        [uv, "export", "--frozen", "--only-group", "serving", "--no-hashes", "--no-emit-project", "--no-header",
         "--no-annotate"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert (ROOT / "src" / "requirements-serving.txt").read_text() == exported
    names = {line.split("==")[0] for line in exported.splitlines() if "==" in line}
    assert {"bentoml", "scikit-learn", "pandas", "numpy"} <= names
    assert not {"dvc", "mlflow", "great-expectations"} & names
