"""The parameter reference (docs/parameters.md), made from the settings model: each key's type, default
and meaning are said once, in ``settings.py``, and this table is printed from them
(``python -m gitops_ml params-reference``; a test checks the page holds what it prints)."""

from __future__ import annotations

import types
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

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
        found.append([f"`{key}`", accepts(kind, field.metadata), default, " ".join((field.description or "").split())])
    return found


def render() -> str:
    """The table docs/parameters.md holds between BEGIN and END."""
    return table(["Key", "Accepts", "Default", "Meaning"], rows())


def accepts(kind: Any, constraints: Sequence[Any] = ()) -> str:
    """What a key takes, in words: its choices, its type and bounds, or what its list or mapping holds."""
    origin, args = get_origin(kind), get_args(kind)
    if origin is Annotated:
        return accepts(args[0], [*constraints, *args[1:]])
    if origin in (Literal, Union, types.UnionType):
        return _either(_choices(kind))
    if origin in (list, tuple):
        return f"a list of {accepts(args[0])}"
    if origin is dict:
        return f"a mapping of {accepts(args[0])} to {accepts(args[1])}"
    name = {bool: "`true` or `false`", int: "an integer", float: "a number", str: "text", Path: "a path"}.get(
        kind, "any"
    )
    return " ".join([name, " and ".join(bound for bound in map(_bound, constraints) if bound)]).strip()


def _choices(kind: Any) -> list[str]:
    """The alternatives of a Literal or a union, flattened; null last."""
    origin, args = get_origin(kind), get_args(kind)
    if origin is Literal:
        return [f"`{_yaml(choice)}`" for choice in args]
    if origin in (Union, types.UnionType):
        found = [choice for arg in args if arg is not type(None) for choice in _choices(arg)]
        return found + (["`null`"] if type(None) in args else [])
    return [accepts(kind)]


def _bound(constraint: Any) -> str:
    """``Ge(ge=1)`` → ``≥ 1``; a Field(...) inside a type arrives whole, its bounds in its metadata."""
    for part in getattr(constraint, "metadata", None) or [constraint]:
        for attribute, sign in (("ge", "≥"), ("gt", ">"), ("le", "≤"), ("lt", "<")):
            if getattr(part, attribute, None) is not None:
                return f"{sign} {getattr(part, attribute)}"
    return ""


def _either(choices: list[str]) -> str:
    return choices[0] if len(choices) == 1 else ", ".join(choices[:-1]) + " or " + choices[-1]


def _yaml(value: Any) -> str:
    """The value as params.yaml would write it, on one line."""
    if isinstance(value, Path):
        value = str(value)
    elif isinstance(value, tuple):
        value = list(value)
    return yaml.safe_dump(value, default_flow_style=True, sort_keys=False, width=1_000).removesuffix("\n...\n").strip()
