"""Markdown for the pull-request report: the verdict first, then the evidence; narrow enough for a phone."""

from __future__ import annotations

from typing import Any

from gitops_ml.compare import MetricChange, overall
from gitops_ml.report import Report

NOTHING = "n/a"
ARROWS = {"better": "🟢", "worse": "🔴", "unchanged": "⚪"}


def render(report: Report, figures: list[tuple[str, str]]) -> str:
    """The whole report; ``figures`` are (caption, file name) pairs beside the Markdown file."""
    parts = [f"## {headline(report)}", _detail(report)]
    if report.outcome.failed_stage:
        parts.append(_failure(report))
    if report.new.metrics is not None or report.base.metrics is not None:
        parts.append(_metric_table(report))
    parts.append(_params(report))
    parts.append(_validation(report))
    if figures:
        parts.append(_figures(report, figures))
    parts.append(_reproducibility(report))
    return "\n\n".join(part for part in parts if part) + "\n"


def headline(report: Report) -> str:
    base = f"`{report.base_name}`"
    if report.outcome.failed_stage:
        return f"❌ Pipeline failed at stage `{report.outcome.failed_stage}`: no model to compare with {base}"
    if report.base.metrics is None:
        return f"🆕 First model: {base} has no committed metrics to compare with"
    verdict = overall(report.changes)
    words = {"better": "Better than", "worse": "Worse than", "unchanged": "No meaningful change against"}[verdict]
    noise = _noise_clause(report, verdict)
    return f"{ARROWS[verdict]} {words} {base}{noise}"


def _noise_clause(report: Report, verdict: str) -> str:
    if not report.same_test_set:
        return " (test sets differ: not checked against noise)"
    deciding = [c for c in report.changes if c.threshold is not None and c.verdict == verdict]
    if verdict == "unchanged" or not deciding:
        return ""
    beyond = [c.metric for c in deciding if c.beyond_noise]
    if len(beyond) == len(deciding):
        return ", beyond noise"
    if not beyond:
        return ", but within noise"
    return f", beyond noise on {', '.join(beyond)} only"


def _detail(report: Report) -> str:
    if report.outcome.failed_stage or report.base.metrics is None:
        return ""
    lines = []
    for change in report.changes:
        if change.threshold is None or change.delta is None:
            continue
        interval = ""
        if change.low is not None and change.high is not None:
            interval = f", {report.confidence:.0%} CI {change.low:+.4f} to {change.high:+.4f}"
        lines.append(
            f"- **{change.metric}** {change.base:.4f} → {change.new:.4f} ({change.delta:+.4f}{interval}): "
            f"{change.verdict} (counts from ±{change.threshold:g})"
        )
    if not report.same_test_set and report.new.predictions is not None and report.base.predictions is not None:
        lines.append(
            "- The test sets differ (the data or the split changed), so the models were not scored on the same "
            "records: the deltas compare two different samples and carry no interval."
        )
    return "\n".join(lines)


def _failure(report: Report) -> str:
    outcome = report.outcome
    text = f"`dvc repro` stopped at stage `{outcome.failed_stage}`. The check fails; the last lines of its log:"
    return f"{text}\n\n```text\n{outcome.log_tail or '(no log)'}\n```"


def _metric_table(report: Report) -> str:
    rows = [f"| Metric | `{report.base_name}` | this PR | Δ |", "|---|---:|---:|---:|"]
    for change in report.changes:
        name = f"**{change.metric}**" if change.threshold is not None else change.metric
        rows.append(f"| {name} | {_number(change.base)} | {_number(change.new)} | {_delta(change)} |")
    note = "Test-set metrics; ▲ better, ▼ worse. **Bold** metrics decide the verdict (from their threshold)"
    if report.same_test_set:
        note += f"; the brackets hold the paired bootstrap {report.confidence:.0%} interval of Δ"
    return "### Metrics\n\n" + "\n".join(rows) + f"\n\n{note}."


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
    interval = f" [{change.low:+.4f}, {change.high:+.4f}]" if change.low is not None else ""
    return f"{change.delta:+.4f}{interval} {marker}".rstrip()


def _params(report: Report) -> str:
    if not report.changed_params:
        return "### Parameters\n\nNo parameter changed."
    rows = [f"| Parameter | `{report.base_name}` | this PR |", "|---|---|---|"]
    rows += [f"| `{key}` | {_value(before)} | {_value(after)} |" for key, before, after in report.changed_params]
    return "### Parameters changed\n\n" + "\n".join(rows)


def _value(value: Any) -> str:
    return NOTHING if value is None else f"`{value}`"


def _validation(report: Report) -> str:
    markdown = report.outcome.validation_markdown
    if markdown is None:
        return "### Data validation\n\nDid not run: the pipeline stopped before it."
    # The validation report's own heading becomes a sub-heading of this report.
    return "### Data validation\n\n" + markdown.replace("### ", "#### ", 1).strip()


def _figures(report: Report, figures: list[tuple[str, str]]) -> str:
    caption = f"`{report.base_name}` and this PR overlaid"
    if not report.same_test_set:
        caption += " (on different test sets)"
    images = "\n".join(f"![{title}](./{name})" for title, name in figures)
    return f"### Plots\n\n{caption}.\n\n{images}"


def _reproducibility(report: Report) -> str:
    lines = []
    verdict = report.outcome.reproduction
    if verdict is not None and verdict.reproduced and not verdict.rebuilt:
        lines.append("- ✅ CI reproduced this branch's committed results byte for byte (`dvc.lock`).")
    elif verdict is not None and verdict.reproduced:
        lines.append(
            "- ✅ CI reproduced this branch's committed results: the same code, data and params as the committed "
            f"`dvc.lock`, and metrics within {verdict.tolerance:g}. Rebuilt with other bytes, as expected on "
            f"another CPU or OS: {', '.join(f'`{path}`' for path in verdict.rebuilt)}."
        )
    elif verdict is not None:
        lines.append(
            "- ⚠️ The committed results are not this branch's: CI's run differs from the committed `dvc.lock` in "
            "what follows. Run `make repro` and commit `dvc.lock` and `reports/`."
        )
        lines += [f"  - {difference.kind} `{difference.name}` ({difference.where}): `{difference.before}` → "
                  f"`{difference.after}`" for difference in verdict.differences]  # fmt: skip
    lines += [f"- [{label}]({url})" for label, url in report.links]
    return "### Reproducibility\n\n" + "\n".join(lines) if lines else ""
