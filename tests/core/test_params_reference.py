"""The parameter reference is printed from the settings model, and docs/parameters.md holds it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from gitops_ml.core import params_reference
from gitops_ml.core.settings import default_params, dotted
from tests.support import ROOT


def test_the_parameters_page_holds_the_reference_the_settings_model_prints() -> None:
    page = (ROOT / "docs" / "parameters.md").read_text()
    held = page.split(params_reference.BEGIN, 1)[1].split(params_reference.END, 1)[0].strip()
    assert held == params_reference.render(), "run python -m gitops_ml params-reference into docs/parameters.md"


def test_a_new_projects_params_list_every_key_and_each_has_a_default_or_is_required_and_a_meaning() -> None:
    rows = {key.strip("`"): (default, meaning) for key, _, default, meaning in params_reference.rows()}
    used = dotted(default_params())
    # Keys whose value is a mapping of the team's own names (columns, metrics) stand for themselves.
    mapped = {"data.feature_types", *(f"compare.thresholds.{task}" for task in ("binary", "multiclass", "regression"))}
    keys = {next((m for m in mapped if key.startswith(m + ".")), key) for key in used}
    assert keys == set(rows), keys ^ set(rows)  # every key, so DVC tracks every value
    assert all(meaning.endswith(".") and len(meaning) > 10 for _, meaning in rows.values())
    assert rows["validate.min_rows"][0] == "`100`" and rows["data.target"][0] == "required"


def test_each_key_says_what_it_accepts_from_its_type() -> None:
    class Nested(BaseModel):
        seed: int = 0

    class Example(BaseModel):
        kind: Literal["a", "b"] = "a"
        rate: Annotated[float, Field(gt=0, le=1)] = 0.5
        depth: Annotated[int, Field(ge=1)] | None = None
        test: Literal["ks", "psi"] | None = None
        weights: dict[Literal["f1", "auc"], Annotated[float, Field(ge=0)]] = {}
        names: tuple[str, ...] = ()
        where: Path = Path("data")
        on: bool = True
        nested: Nested = Nested()

    accepted = {key.strip("`"): accepts for key, accepts, _, _ in params_reference.rows(Example)}
    assert accepted == {
        "kind": "`a` or `b`",
        "rate": "a number > 0 and ≤ 1",
        "depth": "an integer ≥ 1 or `null`",
        "test": "`ks`, `psi` or `null`",
        "weights": "a mapping of `f1` or `auc` to a number ≥ 0",
        "names": "a list of text",
        "where": "a path",
        "on": "`true` or `false`",
        "nested.seed": "an integer",
    }
