"""One GitHub issue for drift: opened by the first report that finds drift, updated by the next ones.

The scheduled drift workflow runs ``python -m gitops_ml drift-issue`` after ``monitor``. The issue is
found by its label and a marker in its body, so issues people open about drift are left alone. A
report without drift changes nothing: closing the issue is the team's call, after retraining.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from gitops_ml.core.errors import PipelineError
from gitops_ml.core.github_api import GitHub, workflow_run_url
from gitops_ml.core.paths import DriftReport

LABEL = "drift"
TITLE = "Data drift detected in production"
MARKER = "<!-- gitops-ml: drift report -->"
RETRAINING = "docs/monitoring.md#retraining-on-new-data"


def run(report: Path, github: GitHub) -> str:
    """Open or update the drift issue from the report folder; say what was done."""
    outputs = DriftReport.under(report)
    if not outputs.json.is_file():
        raise PipelineError(f"{outputs.json}: no drift summary; the monitor step did not finish (see its log)")
    if not json.loads(outputs.json.read_text())["drift"]:
        return "no drift: nothing to open or update"
    body = issue_body(outputs.markdown.read_text(), github)
    ours = [issue for issue in github.open_issues(LABEL) if MARKER in (issue.get("body") or "")]
    if not ours:
        created = github.create_issue(TITLE, body, [LABEL])
        return f"opened issue #{created['number']}"
    number = ours[0]["number"]
    github.update_issue(number, body)
    github.comment(number, f"Drift found again by {_run_link()}; the description above holds this run's report.")
    return f"updated issue #{number}"


def issue_body(report_markdown: str, github: GitHub) -> str:
    server = os.environ.get("GITHUB_SERVER_URL", "https://github.com")
    retraining = f"{server}/{github.repository}/blob/HEAD/{RETRAINING}"
    return "\n".join(
        [
            MARKER,
            f"The scheduled drift report of {_run_link()} found drift between the current production data and "
            "the data the served model was trained on. Evidently's full report is the run's `drift-report` "
            "artifact (`drift.html`).",
            "",
            report_markdown.strip(),
            "",
            "### What to do",
            f"Retrain on the new data through a pull request, the same GitOps path as any change: see "
            f"[retraining on new data]({retraining}). Close this issue once the retrained model is released; "
            "the next drift report opens a new one if the drift remains.",
        ]
    )


def _run_link() -> str:
    url = workflow_run_url()
    return f"[workflow run {os.environ['GITHUB_RUN_ID']}]({url})" if url else "a local run"
