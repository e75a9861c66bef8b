"""The parameter reference (docs/parameters.md), made from the settings model: each key's default and
meaning are said once, in ``settings.py``, and this table is printed from them
(``python -m gitops_ml params-reference``; a test checks the page holds what it prints)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from gitops_ml.core.markdown import table
from gitops_ml.core.settings import Settings

BEGIN, END = "<!-- parameters: begin -->", "<!-- parameters: end -->"


def rows(model: type[BaseModel] = Settings, prefix: str = "") -> list[list[str]]:
    """One row per key: the dotted key, its default (or "required") and its meaning."""
    found = []
    for name, field in model.model_fields.items():
        key = prefix + (field.alias or name)
        kind = field.annotation
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            found += rows(kind, key + ".")
            continue
        default = "required" if field.default is PydanticUndefined else f"`{_yaml(field.default)}`"
        found.append([f"`{key}`", default, " ".join((field.description or "").split())])
    return found


def render() -> str:
    """The table docs/parameters.md holds between BEGIN and END."""
    return table(["Key", "Default", "Meaning"], rows())


def _yaml(value: Any) -> str:
    """The value as params.yaml would write it, on one line."""
    if isinstance(value, Path):
        value = str(value)
    elif isinstance(value, tuple):
        value = list(value)
    return yaml.safe_dump(value, default_flow_style=True, sort_keys=False, width=1_000).removesuffix("\n...\n").strip()
