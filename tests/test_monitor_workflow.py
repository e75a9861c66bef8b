"""The real drift-monitor workflow, run twice by act on a temporary repository.

GitHub's issues API is a loopback stand-in that records what would be opened and edited; the
current data is a local file that the workflow fetches with ``dvc get-url`` as it would an s3://
URL. Marketplace actions are the composite stand-ins of ``tests/workflows/stand-ins``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gitops_ml.core.github_api import GitHub
from gitops_ml.monitoring import drift_issue
from gitops_ml.pipeline.ingest import load_source
from tests.github_standin import github_api
from tests.support import make_settings
from tests.workflow_runner import Act, clone, make_origin, seed_cache

# Real servers, act or dvc repro: left out by make test-fast.
pytestmark = pytest.mark.integration


def production_log(path: Path) -> Path:
    """What the service logs once its inputs have moved: the training data's sizes grown by a third."""
    frame = load_source(make_settings().data).drop(columns=["sample_id", "diagnosis"]).head(300)
    grown = frame * 1.35
    path.write_text(grown.to_json(orient="records", lines=True))
    return path


def test_drift_opens_one_issue_and_the_next_run_updates_it(tmp_path: Path, new_project: Path) -> None:
    origin = make_origin(tmp_path, new_project)
    current = production_log(tmp_path / "predictions.jsonl")
    with github_api() as (api_url, api):
        api.token = "token-of-the-monitor"
        act = Act.create(tmp_path / "act", GITHUB_API_URL=api_url, STANDIN_CACHE=str(tmp_path / "saved"))
        secret_and_source = ("-s", "GITHUB_TOKEN=token-of-the-monitor", "--var", f"MONITOR_CURRENT_URL={current}")

        # The DVC cache as actions/cache restores it after a run on main: the training data and model
        # are checked out, not reproduced.
        seed_cache(tmp_path / "saved", "dvc-from-main", ".dvc/cache", new_project / ".dvc" / "cache")

        first = act.run(clone(origin, tmp_path / "first"), "schedule", {}, "monitor.yml", *secret_and_source)
        assert first.returncode != 0, first.stdout[-4000:]  # drift fails the run, so it shows red
        assert "monitor: drift detected" in first.stdout and "Running stage" not in first.stdout
        [issue] = api.issues
        assert issue["title"] == drift_issue.TITLE and issue["labels"] == ["drift"]
        assert drift_issue.MARKER in issue["body"] and "**Drift detected**" in issue["body"]
        assert "docs/monitoring.md#retraining-on-new-data" in issue["body"]
        assert "predictions shifted" in issue["body"]
        report = act.artifact("drift-report")
        assert json.loads((report / "drift.json").read_text())["drift"] is True
        assert (report / "drift.html").stat().st_size > 100_000

        api.issues[0]["body"] = drift_issue.MARKER + " (an earlier report)"
        second = act.run(clone(origin, tmp_path / "second"), "workflow_dispatch", {}, "monitor.yml", *secret_and_source)
        assert second.returncode != 0, second.stdout[-4000:]
        assert "Running stage" not in second.stdout  # restored, not retrained

    [issue] = api.issues  # updated, not a second one
    assert "**Drift detected**" in issue["body"] and "(an earlier report)" not in issue["body"]
    [comment] = api.comments[issue["number"]]
    assert str(comment["body"]).startswith("Drift found again by")
    methods = [(method, path.split("?")[0]) for method, path, _ in api.seen]
    assert methods.count(("POST", "/repos/example/gitops-ml/issues")) == 1
    assert ("PATCH", "/repos/example/gitops-ml/issues/1") in methods
    assert {auth for _, _, auth in api.seen} == {"Bearer token-of-the-monitor"}


def test_a_report_without_drift_opens_nothing(tmp_path: Path) -> None:
    (tmp_path / "drift.json").write_text(json.dumps({"drift": False}))
    (tmp_path / "drift.md").write_text("## **No drift**\n")
    with github_api() as (api_url, api):
        github = GitHub(api_url, "example/gitops-ml", api.token)
        assert drift_issue.run(tmp_path, github) == "no drift: nothing to open or update"
        assert api.seen == []
