"""``python -m gitops_ml model-card``: the model card of the model the pipeline produced, in Markdown.

Sections follow Google's Model Cards (Mitchell et al., 2019): model details, intended use and
limitations (a checked-in text the team edits), training data, evaluation (metrics with bootstrap
intervals, per-slice metrics), the data validation result, and how to reproduce the model. Every
figure is read from the pipeline's outputs, so the card is regenerated, never hand-edited.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from gitops_ml import NAME
from gitops_ml.core import markdown, paths
from gitops_ml.core.errors import PipelineError
from gitops_ml.core.features import infer_type
from gitops_ml.core.files import write_text
from gitops_ml.core.git import git
from gitops_ml.core.lineage import git_commit
from gitops_ml.core.settings import AnyMetricName, Settings, Task, training_params
from gitops_ml.core.target import Target, recorded
from gitops_ml.pipeline.restore import locked_stages
from gitops_ml.quality.compare import Predictions, bootstrap
from gitops_ml.quality.metrics import TASK_METRICS

SLICE_METRICS: dict[Task, tuple[AnyMetricName, ...]] = {
    "binary": ("accuracy", "f1", "roc_auc"),
    "multiclass": ("accuracy", "macro_f1"),
    "regression": ("mae", "rmse", "r2"),
}
# In the example intended-use text until a team writes its own (the marker goes with the example).
SLICE_QUANTILES = 4
EXAMPLE_MARKER = "<!-- gitops-ml: example text -->"
MISSING = "(missing)"


def run(settings: Settings, out: Path, version: str | None = None) -> str:
    card = render(settings, version)
    write_text(out, card)
    print(f"model-card: {out}")
    return card


def render(settings: Settings, version: str | None = None) -> str:
    for required in (paths.METRICS, paths.PREDICTIONS, paths.TRAIN_DATA, paths.TEST_DATA, paths.VALIDATION_JSON):
        if not required.is_file():
            raise PipelineError(f"{required}: missing; run `make repro` (or `dvc pull`) first")
    if not settings.model_card.intended_use.is_file():
        raise PipelineError(f"model_card.intended_use: file {str(settings.model_card.intended_use)!r} does not exist")
    train, test = pd.read_parquet(paths.TRAIN_DATA), pd.read_parquet(paths.TEST_DATA)
    target = recorded()
    predictions = Predictions.from_csv(paths.PREDICTIONS.read_text(), settings.data.id_columns, target)
    sections = [
        f"# Model card: {NAME} {'regressor' if target.task == 'regression' else 'classifier'}",
        _details(settings, target, version),
        "## Intended use and limitations\n\n" + _intended_use(settings),
        _training_data(settings, target, train, test),
        _evaluation(settings, predictions, test),
        _validation(),
        _reproduce(),
    ]
    return "\n\n".join(sections) + "\n"


def _details(settings: Settings, target: Target, version: str | None) -> str:
    commit = git_commit()["git_commit"]
    date = git("show", "-s", "--format=%cs", "HEAD", check=False) or "unknown"
    params = training_params(settings)
    rows = [
        ("Version", version or "unreleased"),
        ("Git commit", f"`{commit}`"),
        ("Date (of the commit)", date),
        ("Family", f"scikit-learn pipeline: preprocessing, then `{settings.train.model}`"),
        ("Predicts", _predicts(settings, target)),
    ]
    table = markdown.table(["", ""], [[f"**{k}**", v] for k, v in rows])
    params_table = markdown.table(["Parameter", "Value"], [[f"`{k}`", f"`{v}`"] for k, v in sorted(params.items())])
    return f"## Model details\n\n{table}\n\n{params_table}"


def _predicts(settings: Settings, target: Target) -> str:
    column = f"`{settings.data.target}`"
    if target.task == "binary":
        negative, positive = target.classes
        return (
            f"probability that {column} is `{positive}` (else `{negative}`), positive at {settings.evaluate.threshold}"
        )
    if target.task == "multiclass":
        classes = ", ".join(f"`{label}`" for label in target.classes)
        return f"the probability of each class of {column} ({classes}); the most probable is the label"
    return f"the value of {column} (regression)"


def _training_data(settings: Settings, target: Target, train: pd.DataFrame, test: pd.DataFrame) -> str:
    data = settings.data
    source = f"`{data.source}`" + (f" (`{data.path}`)" if data.source == "file" else "")
    splits = (("train", train), ("test", test))
    if target.task == "regression":
        headers = ["Split", "Rows", f"Mean {data.target}", "Std", "Min", "Max"]
        rows = [
            [
                name,
                f"{len(frame):,}",
                *(f"{getattr(frame[data.target], stat)():.4g}" for stat in ("mean", "std", "min", "max")),
            ]
            for name, frame in splits
        ]
    else:
        shown = target.classes[1:] if target.task == "binary" else target.classes
        headers = ["Split", "Rows", *(f"Share `{label}`" for label in shown)]
        rows = [
            [
                name,
                f"{len(frame):,}",
                *(f"{(frame[data.target].astype(str) == str(label)).mean():.1%}" for label in shown),
            ]
            for name, frame in splits
        ]
    stratified = ", stratified by class" if target.is_classification else ""
    return (
        "## Training data\n\n"
        f"Source {source}; the ingested table's DVC hash (md5, `dvc.lock`): `{raw_data_md5()}`. "
        f"Split {1 - settings.split.test_size:.0%} / {settings.split.test_size:.0%}{stratified}, seed "
        f"{settings.split.seed}.\n\n" + markdown.table(headers, rows)
    )


def _evaluation(settings: Settings, predictions: Predictions, test: pd.DataFrame) -> str:
    metrics = json.loads(paths.METRICS.read_text())["test"]
    compared = settings.compare
    intervals = bootstrap(
        predictions,
        list(TASK_METRICS[predictions.task]),  # the metrics.json lists
        rounds=compared.bootstrap_rounds,
        confidence=compared.confidence,
        seed=compared.seed,
    )
    rows = [[name, f"{value:.4f}", "{:.4f} to {:.4f}".format(*intervals[name])] for name, value in metrics.items()]
    text = (
        f"## Evaluation\n\nOn the {len(test):,} test records, with bootstrap {compared.confidence:.0%} intervals "
        f"({compared.bootstrap_rounds:,} resamples of the test records):\n\n"
        + markdown.table(["Metric", "Value", "Interval"], rows)
    )
    return text + "\n\n" + _slices(settings, predictions, test)


def _slices(settings: Settings, predictions: Predictions, test: pd.DataFrame) -> str:
    if not settings.model_card.slices:
        return "No slices: name columns in `model_card.slices` to report each category, or each quartile of a number."
    unknown = sorted(set(settings.model_card.slices) - set(test.columns))
    if unknown:
        raise PipelineError(f"model_card.slices: {unknown} are not columns of the data")
    ids = list(settings.data.id_columns)
    if ids and not np.array_equal(test[ids].astype(str).agg("\x1f".join, axis=1).to_numpy(), predictions.ids):
        raise PipelineError(f"{paths.PREDICTIONS} and {paths.TEST_DATA} do not list the same records in order")
    parts = []
    chosen = SLICE_METRICS[predictions.task]
    for column in settings.model_card.slices:
        numeric = (settings.data.feature_types.get(column) or infer_type(test[column])) == "numeric"
        rows = []
        for name, mask in _groups(test[column], numeric=numeric):
            sample = predictions.take(np.flatnonzero(mask))
            values = [sample.unweighted(m) for m in chosen]
            share = [f"{sample.actual.mean():.1%}"] if predictions.task == "binary" else []
            rows.append([f"`{name}`", f"{mask.sum():,}", *share, *(_metric(v) for v in values)])
        headers = [f"`{column}`", "Records", *(["Positive"] if predictions.task == "binary" else []), *chosen]
        per = f"quartile of the test set's `{column}`" if numeric else f"category of `{column}`"
        parts.append(f"Per {per}:\n\n" + markdown.table(headers, rows))
    return "\n\n".join(parts)


def _groups(values: pd.Series, *, numeric: bool) -> list[tuple[str, np.ndarray]]:
    """The slices of a column: one per category, or for a number one per quartile (not one per value)."""
    if not numeric:
        categories = values.astype("string").fillna(MISSING).to_numpy()
        return [(str(category), categories == category) for category in sorted(set(categories))]
    bins = pd.qcut(values, q=SLICE_QUANTILES, duplicates="drop")
    if len(bins.cat.categories) == 0:  # one value throughout: no quartiles to cut, one slice per value
        return _groups(values, numeric=False)
    groups = [(str(interval), (bins == interval).to_numpy()) for interval in bins.cat.categories]
    groups.append((MISSING, values.isna().to_numpy()))
    return [(name, mask) for name, mask in groups if mask.any()]


def _intended_use(settings: Settings) -> str:
    """The team's text; while it is still the example's and the data is not, the card and the command say so."""
    text = settings.model_card.intended_use.read_text()
    if EXAMPLE_MARKER not in text or settings.data.source == "breast_cancer":
        return _without_comments(text)
    where = settings.model_card.intended_use
    print(f"model-card: warning: {where} still describes the template's example data; edit it", file=sys.stderr)
    return f"> **Not written yet:** this is the template's example text; edit `{where}`.\n\n{_without_comments(text)}"


def _without_comments(markdown: str) -> str:
    # The checked-in text may carry editing notes for the team (HTML comments); the card drops them.
    return re.sub(r"<!--.*?-->", "", markdown, flags=re.DOTALL).strip()


def _metric(value: float) -> str:
    return "n/a (one class)" if np.isnan(value) else f"{value:.4f}"  # ROC AUC of a slice without both classes


def _validation() -> str:
    report = json.loads(paths.VALIDATION_JSON.read_text())
    failed = len(report["failures"])
    verdict = "passed" if report["success"] else f"failed ({failed} expectation(s))"
    return (
        f"## Data validation\n\n{verdict.capitalize()}: {report['evaluated'] - failed} of {report['evaluated']} "
        f"expectations of `{report['suite']}` held on `{report['data']}` ({report['rows']:,} rows)."
    )


def _reproduce() -> str:
    return (
        "## How to reproduce\n\n"
        "```console\n"
        "$ git checkout <the commit above>\n"
        "$ make repro      # the pipeline; dvc.lock pins every input and output hash\n"
        "$ dvc pull        # or, with the team's DVC remote, fetch the outputs instead of recomputing\n"
        "$ make bento      # the Bento this card ships in\n"
        "```"
    )


def raw_data_md5() -> str:
    for out in locked_stages().get("ingest", {}).get("outs", []):
        if out.get("path") == paths.RAW_DATA.as_posix():
            return str(out.get("md5"))
    return "unknown (no dvc.lock entry)"
