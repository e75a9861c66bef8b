"""The Bento's packages are the serving group of uv.lock, pinned, exported at build time (no file to keep in sync)."""

from __future__ import annotations

import pytest

from gitops_ml.release import bento
from tests.support import ROOT


def test_the_bento_requirements_are_the_locked_serving_group(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    exported = bento.serving_requirements()
    pins = [line.split(" ;")[0].split("==") for line in exported.splitlines() if "==" in line]
    locked = (ROOT / "uv.lock").read_text()
    for name, version in pins:
        assert f'name = "{name}"\nversion = "{version}"' in locked, name  # every pin is the lock's version
    names = {name for name, _ in pins}
    assert {"bentoml", "scikit-learn", "pandas", "numpy"} <= names
    assert not {"dvc", "mlflow", "great-expectations"} & names
