"""The pull-request report: this branch's pipeline results against the base branch's, as Markdown.

``python -m gitops_ml report --base origin/main`` runs the same on a laptop as in CI. The base
side is read from git (metrics, predictions, params and validation report are committed, so no
DVC remote is needed); this side from the work tree that ``dvc repro`` just produced. A failed
repro still gives a report, which names the stage that failed and shows what is known.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from gitops_ml.core import paths
from gitops_ml.core.errors import PipelineError
from gitops_ml.core.files import write_text
from gitops_ml.core.git import git, show
from gitops_ml.core.github_api import workflow_run_url
from gitops_ml.core.settings import PARAMS_FILE, Settings, Task, changed_params, dotted, parse_params
from gitops_ml.core.target import Target, from_report
from gitops_ml.pipeline import reproducibility
from gitops_ml.pipeline.reproducibility import Verdict
from gitops_ml.pipeline.validate import Failure, examples_text, expected_text
from gitops_ml.quality.compare import MetricChange, Predictions, compare, paired_bootstrap, same_test_set
from gitops_ml.quality.metrics import task_of
from gitops_ml.report.data import (
    PR_NUMBER_FILE,
    REPORT_DATA,
    Change,
    Difference,
    Link,
    ParamChange,
    Reproduction,
    Summary,
    Validation,
    ValidationFailure,
)
from gitops_ml.report.figures import render_comparison
from gitops_ml.report.render import headline, render

REPORT = "report.md"
REPORT_WITHOUT_IMAGES = "report-no-images.md"
# The stage DVC names, or `check` (params.yaml), which `make repro` runs before DVC.
FAILED_STAGE = re.compile(r"failed to reproduce '([^']+)'|^(check): error:", re.MULTILINE)
# Stages after which reports/validation/ is this run's own (validate writes it even when it fails).
VALIDATED_BY = ("validate", "split", "train", "evaluate", "package")


@dataclass(frozen=True)
class Side:
    """What one branch's pipeline produced; None where it has nothing (no run yet, or a failed stage)."""

    metrics: dict[str, float] | None = None
    predictions: Predictions | None = None
    params: dict[str, Any] = field(default_factory=dict)
    target: Target | None = None  # what its model predicts (its validation report says)


@dataclass(frozen=True)
class Outcome:
    """How the reproduction went on this branch."""

    failed_stage: str | None = None  # None: it succeeded
    missing_data: list[str] = field(default_factory=list)  # tracked by DVC, absent from the checkout
    log_tail: str = ""
    reproduction: Verdict | None = None  # against the branch's committed results; None when the run failed
    validation: dict[str, Any] | None = None  # reports/validation/report.json, when this run wrote it


@dataclass(frozen=True)
class Report:
    base_name: str
    base: Side
    new: Side
    outcome: Outcome
    changes: list[MetricChange]
    same_test_set: bool
    changed_params: list[tuple[str, Any, Any]]
    links: list[tuple[str, str]]
    confidence: float
    task: Task


def run(
    settings: Settings,
    base_ref: str,
    out_dir: Path,
    *,
    repro_succeeded: bool = True,
    repro_log: Path | None = None,
    pr_number: str | None = None,
) -> Summary:
    """Write the report's data (``report.json``), its figures and its Markdown, with and without images."""
    if pr_number is not None and not pr_number.isdigit():
        raise PipelineError(f"--pr-number: expected digits, got {pr_number!r}")
    outcome = reproduction_outcome(repro_succeeded, repro_log, settings)
    new = side_in_work_tree(settings) if outcome.failed_stage is None else Side(params=_params(PARAMS_FILE.read_text()))
    base = side_at_revision(base_ref, settings, fallback=new.target)
    report = build(settings, base_ref.removeprefix("origin/"), base, new, outcome)
    summary = summarize(report)
    write_text(out_dir / REPORT_DATA, summary.model_dump_json(indent=2) + "\n")
    figures = render_comparison(base.predictions, new.predictions, out_dir, base_name=report.base_name)
    write_text(out_dir / REPORT, render(summary, figures))
    write_text(out_dir / REPORT_WITHOUT_IMAGES, render(summary, [], plots_elsewhere="this run's `pr-report` artifact"))
    if pr_number is not None:
        write_text(out_dir / PR_NUMBER_FILE, pr_number + "\n")
    print(f"report: {headline(summary)} -> {out_dir / REPORT}")
    return summary


def summarize(report: Report) -> Summary:
    """The report as the data the comment job renders: strings kept as data, values as JSON text."""
    verdict = report.outcome.reproduction
    return Summary(
        base_name=report.base_name,
        base_has_metrics=report.base.metrics is not None,
        new_has_metrics=report.new.metrics is not None,
        both_have_predictions=report.base.predictions is not None and report.new.predictions is not None,
        same_test_set=report.same_test_set,
        confidence=report.confidence,
        task=report.task,
        base_task=report.base.target.task if report.base.target else None,
        changes=[
            Change(metric=c.metric, base=c.base, new=c.new, low=c.low, high=c.high, threshold=c.threshold)
            for c in report.changes
        ],
        changed_params=[
            ParamChange(key=key, before=_json_or_none(before), after=_json_or_none(after))
            for key, before, after in report.changed_params
        ],
        failed_stage=report.outcome.failed_stage,
        missing_data=report.outcome.missing_data,
        log_tail=report.outcome.log_tail,
        reproduction=None
        if verdict is None
        else Reproduction(
            reproduced=verdict.reproduced,
            tolerance=verdict.tolerance,
            differences=[Difference(**vars(d)) for d in verdict.differences][:50],
            rebuilt=list(verdict.rebuilt)[:50],
        ),
        validation=_validation(report.outcome.validation),
        links=[Link(label=label, url=url) for label, url in report.links],
    )


def _json_or_none(value: Any) -> str | None:
    return None if value is None else json.dumps(value)[:500]


def _validation(found: dict[str, Any] | None) -> Validation | None:
    if found is None:
        return None
    failures = [Failure(**failure) for failure in found["failures"]]
    return Validation(
        success=found["success"],
        evaluated=found["evaluated"],
        rows=found["rows"],
        columns=found["columns"],
        data=found["data"],
        suite=found["suite"],
        failures=[
            ValidationFailure(
                column=f.column,
                problem=f.description,
                expected=expected_text(f)[:500],
                unexpected=f.unexpected_count,
                examples=examples_text(f)[:500],
            )
            for f in failures[:100]
        ],
    )


def build(settings: Settings, base_name: str, base: Side, new: Side, outcome: Outcome) -> Report:
    """The comparison, by the metrics of this branch's task; a base model of another task is not compared."""
    compared = settings.compare
    task = (new.target or base.target or Target("binary")).task
    shown, deciding = compared.listed(task), compared.deciding(task)
    comparable = base.target is not None and base.target.task == task
    matched = comparable and base.predictions is not None and new.predictions is not None
    matched = matched and same_test_set(base.predictions, new.predictions)  # type: ignore[arg-type]
    intervals = None
    if matched:
        intervals = paired_bootstrap(
            base.predictions,  # type: ignore[arg-type]
            new.predictions,  # type: ignore[arg-type]
            sorted(set(shown) | set(deciding)),
            rounds=compared.bootstrap_rounds,
            confidence=compared.confidence,
            seed=compared.seed,
        )
    base_metrics = (base.metrics or {}) if comparable else {}
    changes = compare(base_metrics, new.metrics or {}, list(shown), deciding, intervals)
    return Report(
        base_name=base_name,
        base=base,
        new=new,
        outcome=outcome,
        changes=changes,
        same_test_set=matched,
        changed_params=changed_params(base.params, new.params),
        links=links(settings, model_trained=outcome.failed_stage is None),
        confidence=compared.confidence,
        task=task,
    )


def reproduction_outcome(succeeded: bool, repro_log: Path | None, settings: Settings) -> Outcome:
    """What the reproduction left: the failed stage (from DVC's log), the log's tail, the validation summary,
    and whether it reproduced the branch's committed results."""
    text = repro_log.read_text(errors="replace") if repro_log and repro_log.is_file() else ""
    stage = None
    if not succeeded:
        found = FAILED_STAGE.search(text)
        stage = (found.group(1) or found.group(2)) if found else "unknown"
    validation = None
    if (stage is None or stage in VALIDATED_BY) and paths.VALIDATION_JSON.is_file():
        validation = json.loads(paths.VALIDATION_JSON.read_text())
    tail = "\n".join(text.strip().splitlines()[-15:]) if stage else ""
    reproduction = None if stage else reproducibility.check("HEAD", settings.reproducibility.metric_tolerance)
    return Outcome(stage, missing_tracked_data() if stage else [], tail, reproduction, validation)


def missing_tracked_data() -> list[str]:
    """The files ``.dvc`` files track that are not in the work tree: data no remote gave this checkout."""
    missing = []
    for tracker in map(Path, git("ls-files", "*.dvc", check=False).splitlines()):
        try:
            tracked = [str(out["path"]) for out in yaml.safe_load(tracker.read_text())["outs"]]
        except (OSError, yaml.YAMLError, KeyError, TypeError):
            continue  # not DVC's: `dvc repro` names what is wrong with it
        missing += [str(tracker.parent / path) for path in tracked if not (tracker.parent / path).exists()]
    return missing


def side_in_work_tree(settings: Settings) -> Side:
    validation = paths.VALIDATION_JSON.read_text() if paths.VALIDATION_JSON.is_file() else None
    metrics = paths.METRICS.read_text() if paths.METRICS.is_file() else None
    predictions = paths.PREDICTIONS.read_text() if paths.PREDICTIONS.is_file() else None
    return _side(settings, validation, metrics, predictions, PARAMS_FILE.read_text(), fallback=None)


def side_at_revision(revision: str, settings: Settings, fallback: Target | None = None) -> Side:
    """The committed results at ``revision``; an empty side when it has none (a first pull request).

    ``fallback``: the target of a revision whose validation report names none (made before tasks
    were recorded, so a binary one), when it is binary too.
    """
    if git("rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}", check=False) == "":
        raise PipelineError(f"--base {revision}: no such commit here (fetch the base branch with its history)")
    files = (paths.VALIDATION_JSON, paths.METRICS, paths.PREDICTIONS, PARAMS_FILE)
    validation, metrics, predictions, params = (_show(revision, path) for path in files)
    binary = fallback if fallback is not None and fallback.task == "binary" else None
    return _side(settings, validation, metrics, predictions, params, fallback=binary)


def _side(
    settings: Settings,
    validation: str | None,
    metrics: str | None,
    predictions: str | None,
    params: str | None,
    *,
    fallback: Target | None,
) -> Side:
    target = from_report(json.loads(validation)) if validation else None
    found = json.loads(metrics)["test"] if metrics else None
    if target is None and found is not None:
        # A revision from before tasks were recorded (binary): its metrics name the task, the fallback its classes.
        task = task_of(found)
        target = fallback if task == "binary" and fallback is not None else Target(task) if task else None
    return Side(
        metrics=found,
        predictions=Predictions.from_csv(predictions, settings.data.id_columns, target)
        if predictions and target is not None and (target.task == "regression" or target.classes)
        else None,
        params=_params(params) if params else {},
        target=target,
    )


def _show(revision: str, path: Path) -> str | None:
    content = show(revision, path)
    return content.decode() if content is not None else None


def _params(text: str) -> dict[str, Any]:
    return dotted(parse_params(text) or {})


def links(settings: Settings, *, model_trained: bool) -> list[tuple[str, str]]:
    """The workflow run (in GitHub Actions) and the model's MLflow run (when a tracking server is set)."""
    found = []
    run_url = workflow_run_url()
    if run_url:
        found.append(("Workflow run, with the report and plots as an artifact", run_url))
    if model_trained and settings.tracking.enabled and paths.MODEL.is_file():
        from gitops_ml.core.lineage import file_md5
        from gitops_ml.core.tracking import run_url as mlflow_run_url

        url = mlflow_run_url(settings.tracking, file_md5(paths.MODEL))
        if url:
            found.append(("MLflow run of this model", url))
    return found
