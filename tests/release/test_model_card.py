"""The model card of a real pipeline run (synthetic churn data, with categorical slices)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gitops_ml import NAME
from gitops_ml.core import paths
from gitops_ml.core.errors import PipelineError
from gitops_ml.core.settings import Settings
from gitops_ml.pipeline import evaluate, split, train, validate
from gitops_ml.pipeline.synthetic import make_customer_table
from gitops_ml.release import model_card
from tests.support import SYNTHETIC, git

SECTIONS = [
    f"# Model card: {NAME} classifier",
    "## Model details",
    "## Intended use and limitations",
    "## Training data",
    "## Evaluation",
    "## Data validation",
    "## How to reproduce",
]


@pytest.fixture
def pipeline_run(workdir: Path, settings: Callable[..., Settings]) -> Settings:
    (workdir / "docs").mkdir()
    (workdir / "docs/intended-use.md").write_text(f"{model_card.EXAMPLE_MARKER}\n\n**Intended use.** An example.\n")
    config = settings(**SYNTHETIC, model_card={"slices": ["plan", "region"]})
    paths.RAW_DATA.parent.mkdir(parents=True)
    make_customer_table(1_500, seed=5).to_parquet(paths.RAW_DATA)
    validate.run(config)
    split.run(config)
    train.run(config)
    evaluate.run(config)
    git(workdir, "init", "-q")
    git(workdir, "add", "params.yaml")
    git(workdir, "commit", "-q", "-m", "the model's commit")
    return config


def test_the_card_has_every_section_with_the_pipelines_figures(pipeline_run: Settings, workdir: Path) -> None:
    card = model_card.run(pipeline_run, workdir / "card.md", version="v2026.11.25-gabc1234")
    assert (workdir / "card.md").read_text() == card
    assert [line for line in card.splitlines() if line.startswith("#")][: len(SECTIONS)] == SECTIONS
    commit = git(workdir, "rev-parse", "HEAD").strip()
    assert "| **Version** | v2026.11.25-gabc1234 |" in card and f"| **Git commit** | `{commit}` |" in card
    assert "| `train.model` | `linear` |" in card
    assert "**Intended use.**" in card and "<!--" not in card  # the checked-in text, without its editing notes

    train_rows, test = pd.read_parquet(paths.TRAIN_DATA), pd.read_parquet(paths.TEST_DATA)
    assert f"| train | {len(train_rows):,} | {(train_rows['churned'] == 'yes').mean():.1%} |" in card
    metrics = json.loads(paths.METRICS.read_text())["test"]
    for name, value in metrics.items():
        row = re.search(rf"^\| {name} \| ([0-9.]+) \| ([0-9.]+) to ([0-9.]+) \|$", card, re.MULTILINE)
        assert row, name
        low, high = float(row[2]), float(row[3])
        assert row[1] == f"{value:.4f}" and low <= value <= high  # the interval holds the test-set figure

    for plan in test["plan"].dropna().unique():
        assert f"| `{plan}` | {(test['plan'] == plan).sum():,} |" in card
    assert "Per category of `region`" in card
    assert "Passed: " in card and "expectations of `src/gitops_ml/pipeline/suites/synthetic_binary.json`" in card


def test_a_slice_that_is_not_a_column_is_named(pipeline_run: Settings) -> None:
    wrong = pipeline_run.model_copy(
        update={"model_card": pipeline_run.model_card.model_copy(update={"slices": ("planet",)})}
    )
    with pytest.raises(PipelineError, match=r"model_card.slices: \['planet'\] are not columns"):
        model_card.render(wrong)


def test_a_numeric_slice_is_cut_into_quartiles_not_one_row_per_value(pipeline_run: Settings) -> None:
    config = pipeline_run.model_copy(
        update={"model_card": pipeline_run.model_card.model_copy(update={"slices": ("age",)})}
    )
    card = model_card.render(config)
    table = card.split("Per quartile of the test set's `age`:\n\n", 1)[1].split("\n\n", 1)[0]
    rows = table.splitlines()[2:]
    test = pd.read_parquet(paths.TEST_DATA)
    assert len(rows) == 4 + test["age"].isna().any() and test["age"].nunique() > 20  # and a row for gaps
    assert sum(int(row.split(" | ")[1].replace(",", "")) for row in rows) == len(test)


def test_the_example_intended_use_is_flagged_until_the_team_writes_its_own(
    pipeline_run: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    card = model_card.render(pipeline_run)  # the synthetic data, with the example's text
    assert "> **Not written yet:** this is the template's example text; edit `docs/intended-use.md`." in card
    assert "docs/intended-use.md still describes the template's example data" in capsys.readouterr().err
    text = Path("docs/intended-use.md").read_text()
    Path("docs/intended-use.md").write_text(text.replace(model_card.EXAMPLE_MARKER, ""))
    assert "Not written yet" not in model_card.render(pipeline_run)


@pytest.mark.parametrize(
    "values",
    [[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, None], [3.0, 3.0, 3.0, None], [None, None], [1.0, 1.0, 2.0, 2.0]],
)
def test_every_record_falls_in_exactly_one_numeric_slice(values: list[float | None]) -> None:
    groups = model_card._groups(pd.Series(values, dtype=float), numeric=True)
    masks = np.array([mask for _, mask in groups])
    assert (masks.sum(axis=0) == 1).all(), groups
