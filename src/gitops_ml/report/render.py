"""Markdown for the pull-request report: the verdict first, then the evidence; narrow enough for a phone.

It renders ``report.data.Summary`` only, in the pull request's job and in the comment job alike.
Every string that came from the branch (names, params, stages, data values, the log) goes through
``markdown.code`` or ``markdown.block``; numbers are formatted here. So a comment posted with the
base repository's token shows the branch's text, and cannot mention, link or embed through it.
"""

from __future__ import annotations

from gitops_ml.core.markdown import block, code, table
from gitops_ml.quality.compare import MetricChange, overall
from gitops_ml.report.data import Summary, Validation

NOTHING = "n/a"
SHOWN_DIFFERENCES = 5  # inputs and params come first; the metrics they moved follow
ARROWS = {"better": "🟢", "worse": "🔴", "unchanged": "⚪"}


def render(
    summary: Summary,
    figures: list[tuple[str, str]],
    *,
    plots_elsewhere: str | None = None,
    links: list[tuple[str, str]] | None = None,
) -> str:
    """The whole report. ``figures``: (caption, file name) pairs beside the Markdown file; with none,
    ``plots_elsewhere`` says where the plots are. ``links``: (label, URL) pairs, by default the summary's."""
    parts = [f"## {headline(summary)}", _detail(summary)]
    if summary.failed_stage:
        parts.append(_failure(summary))
    if summary.new_has_metrics or summary.base_has_metrics:
        parts.append(_metric_table(summary))
    parts.append(_params(summary))
    parts.append(_validation(summary.validation))
    if figures:
        parts.append(_figures(summary, figures))
    elif plots_elsewhere and summary.both_have_predictions:
        parts.append(
            f"### Plots\n\nNot shown here: the overlaid curves and confusion matrices are in {plots_elsewhere}."
        )
    parts.append(_reproducibility(summary, links=links))
    return "\n\n".join(part for part in parts if part) + "\n"


def headline(summary: Summary) -> str:
    base = code(summary.base_name)
    if summary.failed_stage and summary.missing_data:
        missing = f"{len(summary.missing_data)} DVC-tracked"
        return f"❌ Data missing from this checkout ({missing}): no model to compare with {base}"
    if summary.failed_stage:
        return f"❌ Pipeline failed at stage {code(summary.failed_stage)}: no model to compare with {base}"
    if not summary.base_has_metrics:
        return f"🆕 First model: {base} has no committed metrics to compare with"
    if summary.base_task is not None and summary.base_task != summary.task:
        return f"🆕 New task: {base} has a {summary.base_task} model, this PR a {summary.task} one; nothing to compare"
    verdict = overall(summary.metric_changes)
    words = {"better": "Better than", "worse": "Worse than", "unchanged": "No meaningful change against"}[verdict]
    return f"{ARROWS[verdict]} {words} {base}{_noise_clause(summary, verdict)}"


def _noise_clause(summary: Summary, verdict: str) -> str:
    if not summary.same_test_set:
        return " (test sets differ: not checked against noise)"
    deciding = [c for c in summary.metric_changes if c.threshold is not None and c.verdict == verdict]
    if verdict == "unchanged" or not deciding:
        return ""
    beyond = [c.metric for c in deciding if c.beyond_noise]
    if len(beyond) == len(deciding):
        return ", beyond noise"
    if not beyond:
        return ", but within noise"
    return f", beyond noise on {', '.join(beyond)} only"


def _detail(summary: Summary) -> str:
    if summary.failed_stage or not summary.base_has_metrics:
        return ""
    if summary.base_task is not None and summary.base_task != summary.task:
        return "- The models predict different things, so their metrics are not compared: the table shows this PR's."
    lines = []
    for change in summary.metric_changes:
        if change.threshold is None or change.delta is None or change.base is None or change.new is None:
            continue
        interval = ""
        if change.low is not None and change.high is not None:
            interval = f", {summary.confidence:.0%} CI {change.low:+.4f} to {change.high:+.4f}"
        lines.append(
            f"- **{change.metric}** {change.base:.4f} → {change.new:.4f} ({change.delta:+.4f}{interval}): "
            f"{change.verdict} (counts from ±{change.threshold:g})"
        )
    if not summary.same_test_set and summary.both_have_predictions:
        lines.append(
            "- The test sets differ (the data or the split changed), so the models were not scored on the same "
            "records: the deltas compare two different samples and carry no interval."
        )
    return "\n".join(lines)


def _failure(summary: Summary) -> str:
    text = f"`dvc repro` stopped at stage {code(summary.failed_stage)}. The check fails; the last lines of its log:"
    parts = [f"{text}\n\n{block(summary.log_tail or '(no log)')}"]
    if summary.missing_data:
        parts.append(
            "Missing data, tracked by DVC but not in this checkout: "
            + ", ".join(code(path) for path in summary.missing_data)
            + ". The DVC remote did not give it: pull requests from forks get no credentials, so a maintainer "
            "reproduces them (docs/team.md#pull-requests-from-forks)."
        )
    return "\n\n".join(parts)


def _metric_table(summary: Summary) -> str:
    rows = []
    for change in summary.metric_changes:
        name = f"**{change.metric}**" if change.threshold is not None else change.metric
        rows.append([name, _number(change.base), _number(change.new), _delta(change)])
    note = "Test-set metrics; ▲ better, ▼ worse. **Bold** metrics decide the verdict (from their threshold)"
    if summary.same_test_set:
        note += f"; the brackets hold the paired bootstrap {summary.confidence:.0%} interval of Δ"
    headers = ["Metric", code(summary.base_name), "this PR", "Δ"]
    return "### Metrics\n\n" + table(headers, rows, "lrrr") + f"\n\n{note}."


def _number(value: float | None) -> str:
    return NOTHING if value is None else f"{value:.4f}"


def _delta(change: MetricChange) -> str:
    if change.delta is None:
        return NOTHING
    # A deciding metric's arrow follows its verdict; another metric's, the sign of its change (▲ is better).
    if change.threshold is not None:
        marker = {"better": "▲", "worse": "▼", "unchanged": ""}[change.verdict]
    else:
        marker = "▲" if (change.improvement or 0) > 0 else "▼" if (change.improvement or 0) < 0 else ""
    interval = f" [{change.low:+.4f}, {change.high:+.4f}]" if change.low is not None and change.high is not None else ""
    return f"{change.delta:+.4f}{interval} {marker}".rstrip()


def _params(summary: Summary) -> str:
    if not summary.changed_params:
        return "### Parameters\n\nNo parameter changed."
    rows = [[code(p.key), _value(p.before), _value(p.after)] for p in summary.changed_params]
    return "### Parameters changed\n\n" + table(["Parameter", code(summary.base_name), "this PR"], rows)


def _value(value: str | None) -> str:
    return NOTHING if value is None else code(value)


def _validation(validation: Validation | None) -> str:
    if validation is None:
        return "### Data validation\n\nDid not run: the pipeline stopped before it."
    status = "passed" if validation.success else "FAILED"
    passed = validation.evaluated - len(validation.failures)
    text = (
        f"#### Data validation {status}\n\n{passed} of {validation.evaluated} expectations passed on "
        f"{code(validation.data)} ({validation.rows} rows, {validation.columns} columns), "
        f"suite {code(validation.suite)}."
    )
    if validation.failures:
        rows = [
            [
                code(f.column) if f.column else "(table)",
                code(f.problem),
                code(f.expected, 80),
                "" if f.unexpected is None else str(f.unexpected),
                code(f.examples, 80) if f.examples else "",
            ]
            for f in validation.failures
        ]
        text += "\n\n" + table(["Column", "Problem", "Expected", "Unexpected", "Examples"], rows, "lllrl")
    return "### Data validation\n\n" + text


def _figures(summary: Summary, figures: list[tuple[str, str]]) -> str:
    caption = f"{code(summary.base_name)} and this PR overlaid"
    if not summary.same_test_set:
        caption += " (on different test sets)"
    images = "\n".join(f"![{title}](./{name})" for title, name in figures)
    return f"### Plots\n\n{caption}.\n\n{images}"


def _reproducibility(summary: Summary, *, links: list[tuple[str, str]] | None) -> str:
    lines = []
    verdict = summary.reproduction
    if verdict is not None and verdict.reproduced and not verdict.rebuilt:
        lines.append("- ✅ CI reproduced this branch's committed results byte for byte (`dvc.lock`).")
    elif verdict is not None and verdict.reproduced:
        lines.append(
            "- ✅ CI reproduced this branch's committed results: the same code, data and params as the committed "
            f"`dvc.lock`, and metrics within {verdict.tolerance:g}. Rebuilt with other bytes, as expected on "
            f"another CPU or OS: {', '.join(code(path) for path in verdict.rebuilt)}."
        )
    elif verdict is not None:
        lines.append(
            "- ⚠️ The committed results are not this branch's: CI's run differs from the committed `dvc.lock` in "
            "what follows. Run `make repro` and commit `dvc.lock` and `reports/`."
        )
        lines += [
            f"  - {code(d.kind)} {code(d.name)} ({code(d.where)}): {code(d.before)} → {code(d.after)}"
            for d in verdict.differences[:SHOWN_DIFFERENCES]
        ]
        if len(verdict.differences) > SHOWN_DIFFERENCES:
            lines.append(f"  - and {len(verdict.differences) - SHOWN_DIFFERENCES} more (`make check-repro` lists them)")
    chosen = [(link.label, link.url) for link in summary.links] if links is None else links
    lines += [f"- [{label}]({url})" for label, url in chosen]
    return "### Reproducibility\n\n" + "\n".join(lines) if lines else ""
