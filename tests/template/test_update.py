"""Template updates: a project adopted from an older release of the template takes a newer one with ``copier
update``, keeping what is the team's; and the Template update workflow, run by act against the GitHub stand-in,
proposes it as one pull request."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from gitops_ml.core.settings import load_settings
from tests.github_standin import github_api
from tests.support import edit_params, git
from tests.template.copying import answers, copier, copy_env, make, team_answers, teams_table, template_repository
from tests.workflow_runner import Act, clone

# Real Copier, DVC, the pipeline and act: left out by make test-fast.
pytestmark = pytest.mark.integration

OLDER, NEWER = "v1.0.0", "v1.1.0"
HELP_LINE = "help: ## List the targets"


def make_older(template: Path) -> None:
    """Turn the template's work tree into an older release: one line of the pipeline chapter and the Makefile's
    help differ, a chapter is missing and another one exists that the newer release removed."""
    chapter = template / "docs" / "pipeline.md"
    lines = chapter.read_text().splitlines(keepends=True)
    chapter.write_text("".join(["# The pipeline, as an older release said it\n", *lines[1:]]))
    makefile = template / "Makefile"
    makefile.write_text(makefile.read_text().replace(HELP_LINE, "help: ## Show the targets"))
    (template / "docs" / "adopt.md").unlink()
    (template / "docs" / "retired.md").write_text("# A chapter the newer release removed\n")


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This work tree as release v1.1.0 on main, and an older v1.0.0 beside it."""
    template = template_repository(tmp_path_factory.mktemp("template") / "gitops-ml", NEWER)
    git(template, "checkout", "-q", "-b", "older")
    make_older(template)
    git(template, "add", "-A")
    git(template, "commit", "-q", "-m", "the older release")
    git(template, "tag", OLDER)
    git(template, "checkout", "-q", "main")
    return template


@pytest.fixture(scope="module")
def env() -> dict[str, str]:
    return copy_env()


@pytest.fixture(scope="module")
def started(template: Path, env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A team's project started from the older release on its own table, committed: clone it before changing it."""
    folder = tmp_path_factory.mktemp("started")
    table = folder / "accounts.csv"
    teams_table("binary").to_csv(table, index=False)
    project = folder / "acme"
    given = answers(github_repository="acme/acme") + team_answers("binary", table)
    copied = copier(env, "copy", "--trust", "--defaults", "--vcs-ref", OLDER, *given, str(template), str(project))
    assert copied.returncode == 0, copied.stderr[-3000:]
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "Start from the template")
    return project


def a_clone(started: Path, folder: Path) -> Path:
    subprocess.run(["git", "clone", "-q", str(started), str(folder / "acme")], check=True)
    return folder / "acme"


def test_an_update_keeps_the_teams_files_brings_the_platforms_and_names_the_one_conflict(
    started: Path, env: dict[str, str], tmp_path: Path
) -> None:
    project = a_clone(started, tmp_path)
    # The team's own changes: a parameter, new data with its suite, its intended use, and a platform line.
    edit_params(project / "params.yaml", {"train.linear.C": 0.5})
    teams_table("binary", rows=1_800, seed=5).to_csv(project / "data/external/accounts.csv", index=False)
    assert make(project, env, "setup").returncode == 0
    subprocess.run([Path(env["UV_PROJECT_ENVIRONMENT"]) / "bin" / "dvc", "add", "-q", "data/external/accounts.csv"],
                   cwd=project, env=env, check=True)  # fmt: skip
    (project / "docs/intended-use.md").write_text("**Intended use.** Which accounts to call this week.\n")
    chapter = project / "docs/pipeline.md"
    chapter.write_text("# Our pipeline\n" + chapter.read_text().split("\n", 1)[1])
    reproduced = make(project, env, "repro")
    assert reproduced.returncode == 0, reproduced.stdout[-3000:]
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "The team's changes")
    pinned = (project / "data/external/accounts.csv.dvc").read_text()
    suite = (project / "data/expectations/acme.json").read_text()

    updated = make(project, env, "template-update")
    assert updated.returncode == 0, updated.stdout[-3000:] + updated.stderr[-3000:]
    assert (
        f"template-update: {OLDER} -> {NEWER} in the work tree, " in updated.stdout
        and "files; conflicts to resolve in docs/pipeline.md" in updated.stdout
    ), updated.stdout[-2000:]

    # The team's: kept.
    settings = load_settings(project / "params.yaml", check_files=False)
    assert (settings.train.linear.C, settings.data.target) == (0.5, "will_leave")
    assert (project / "data/external/accounts.csv.dvc").read_text() == pinned
    assert (project / "data/expectations/acme.json").read_text() == suite
    assert (project / "docs/intended-use.md").read_text().startswith("**Intended use.** Which accounts")
    # The platform's: arrived, removed, merged; the one conflict left for a person.
    assert HELP_LINE in (project / "Makefile").read_text()
    assert (project / "docs/adopt.md").is_file() and not (project / "docs/retired.md").exists()
    assert yaml.safe_load((project / ".copier-answers.yml").read_text())["_commit"] == NEWER
    merged = chapter.read_text()
    assert "<<<<<<< before updating\n# Our pipeline\n" in merged and "# The pipeline\n>>>>>>> after updating" in merged
    assert git(project, "diff", "--name-only", "--diff-filter=U").split() == ["docs/pipeline.md"]

    # Decided (the team's line kept), the project's checks pass: no result needs reproducing.
    chapter.write_text("# Our pipeline\n" + merged.split(">>>>>>> after updating\n", 1)[1])
    checks = subprocess.run(
        [str(Path(env["UV_PROJECT_ENVIRONMENT"]) / "bin" / "python"), "-m", "pytest", "-q", "-p", "no:cacheprovider",
         "tests/project"], cwd=project, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert checks.returncode == 0, checks.stdout[-3000:]


def test_the_template_update_workflow_opens_one_pull_request_updates_it_and_stays_quiet_when_up_to_date(
    template: Path, started: Path, env: dict[str, str], tmp_path: Path
) -> None:
    project = a_clone(started, tmp_path)
    with github_api() as (api_url, state):
        state.actions_may_open_pulls = True
        state.branch("main", {"README.md": (project / "README.md").read_bytes()})
        act = Act.create(tmp_path / "act", GITHUB_API_URL=api_url)

        def run(token: str) -> subprocess.CompletedProcess[str]:
            repo = clone(project, tmp_path / f"run-{len(act.run_ids)}")
            return act.run(repo, "schedule", {}, "template-update.yml", "-s", f"GITHUB_TOKEN={token}")

        first = run(state.token)
        assert first.returncode == 0, first.stdout[-4000:]
        [pull] = state.pulls
        assert pull["title"] == f"Template update: {OLDER} -> {NEWER}"
        assert (pull["head"], pull["base"]) == ("template-update", "main")
        assert "`docs/adopt.md`" in pull["body"] and "need a decision" not in pull["body"]
        assert b"help: ## List the targets" in state.files("template-update")["Makefile"]
        assert "docs/retired.md" not in state.files("template-update")

        # A newer release, which changes a workflow: a token of the team's own may write it (TEMPLATE_UPDATE_TOKEN;
        # GITHUB_TOKEN's refusal is tested in tests/adoption/test_update.py).
        workflow = template / ".github/workflows/template-update.yml"
        workflow.write_text(workflow.read_text().replace('"23 5 * * 1"', '"41 4 * * 2"'))
        git(template, "commit", "-q", "-am", "a later schedule")
        git(template, "tag", "v1.2.0")
        state.workflows_writable = True
        second = run(state.token)
        assert second.returncode == 0, second.stdout[-4000:]
        [pull] = state.pulls  # the same pull request, brought up to date
        assert pull["title"] == f"Template update: {OLDER} -> v1.2.0"
        assert b'"41 4 * * 2"' in state.files("template-update")[".github/workflows/template-update.yml"]

        # Merged: up to date, and nothing new is opened.
        merged = copier(env, "update", "--trust", "--defaults", "--skip-tasks", "--vcs-ref", "v1.2.0", cwd=project)
        assert merged.returncode == 0, merged.stderr[-2000:]
        git(project, "add", "-A")
        git(project, "commit", "-q", "-m", "Merge the template update")
        quiet = run(state.token)
        assert quiet.returncode == 0, quiet.stdout[-4000:]
        assert "template-update: up to date with" in quiet.stdout
        assert len(state.pulls) == 1
