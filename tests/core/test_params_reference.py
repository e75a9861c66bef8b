from __future__ import annotations

import yaml

from gitops_ml.core import params_reference
from gitops_ml.core.settings import dotted
from tests.support import ROOT


def test_the_parameters_page_holds_the_reference_the_settings_model_prints() -> None:
    page = (ROOT / "docs" / "parameters.md").read_text()
    held = page.split(params_reference.BEGIN, 1)[1].split(params_reference.END, 1)[0].strip()
    assert held == params_reference.render(), "run python -m gitops_ml params-reference into docs/parameters.md"


def test_every_key_of_params_yaml_has_a_default_or_is_required_and_a_meaning() -> None:
    rows = {key.strip("`"): (default, meaning) for key, default, meaning in params_reference.rows()}
    used = dotted(yaml.safe_load((ROOT / "params.yaml").read_text()))
    # Keys whose value is a mapping of the team's own names (columns, metrics) stand for themselves.
    mapped = {"data.feature_types", "compare.thresholds"}
    keys = {next((m for m in mapped if key.startswith(m + ".")), key) for key in used}
    assert keys <= set(rows), keys - set(rows)
    assert all(meaning.endswith(".") and len(meaning) > 10 for _, meaning in rows.values())
    assert rows["validate.min_rows"][0] == "`100`" and rows["data.target"][0] == "required"
