"""Adoption: ``copier copy`` of this template with the example and with a team's own table, then ``make repro`` and
the project checks in the copy, as a team runs them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from gitops_ml.core.ownership import PROJECT_STATE
from gitops_ml.core.settings import load_settings
from tests.support import ROOT, git
from tests.template.copying import (
    TARGETS,
    answers,
    copier,
    copy_env,
    make,
    team_answers,
    teams_table,
    template_repository,
)

# Real Copier, DVC and the pipeline: left out by make test-fast.
pytestmark = pytest.mark.integration

# The example's files that name the project, each rendered through .copier/macros.jinja's `named`.
WRAPPED = sorted(path for path in ROOT.rglob("*.jinja") if path.read_text().startswith('[% from ".copier/macros'))


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return template_repository(tmp_path_factory.mktemp("template") / "gitops-ml")


@pytest.fixture(scope="module")
def env() -> dict[str, str]:
    return copy_env()


def test_copier_yml_leaves_out_every_file_of_the_projects_own_that_the_example_has() -> None:
    config = yaml.safe_load((ROOT / "copier.yml").read_text())
    rendered = {"/docs/intended-use.md", "/.copier-answers.yml"}  # written from the answers instead
    assert set(PROJECT_STATE) - rendered <= set(config["_exclude"])
    assert config["_skip_if_exists"] == ["docs/intended-use.md"]


def test_the_example_renders_as_it_is_and_leaves_the_templates_own_files_behind(
    template: Path, env: dict[str, str], tmp_path: Path
) -> None:
    project = tmp_path / "gitops-ml"
    copied = copier(env, "copy", "--trust", "--defaults", str(template), str(project))
    assert copied.returncode == 0, copied.stderr
    for wrapper in WRAPPED:  # each file that names the project, rendered with the example's names
        name = wrapper.relative_to(ROOT).with_suffix("")
        assert (project / name).read_bytes() == (ROOT / name).read_bytes(), name
    assert (project / "params.yaml").read_bytes() == (ROOT / "params.yaml").read_bytes()
    assert (project / ".dvc" / "config").read_bytes() == (ROOT / ".dvc" / "config").read_bytes()
    left = [p.relative_to(project) for p in project.rglob("*") if p.is_file() and ".git" not in p.parts]
    assert not [p for p in left if p.suffix == ".jinja" or p.parts[0] in ("copier.yml", ".copier")]
    assert not [p for p in left if p.parts[:2] in (("tests", "template"), ("reports", "evaluation"))]
    assert not (project / "dvc.lock").exists() and not list((project / "data" / "expectations").glob("*.json"))
    recorded = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert (recorded["_commit"], recorded["project_name"], recorded["data_source"]) == ("v1.0.0", "gitops-ml",
                                                                                          "breast_cancer")  # fmt: skip


def test_the_templates_params_are_a_new_projects_defaults() -> None:
    from gitops_ml.core.settings import default_params, parse_params

    assert parse_params((ROOT / "params.yaml").read_text()) == default_params()


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_a_team_adopts_the_template_on_its_own_table_and_its_checks_pass(
    task: str, template: Path, env: dict[str, str], tmp_path: Path
) -> None:
    table = tmp_path / "downloads" / f"accounts-{task}.csv"
    table.parent.mkdir()
    teams_table(task).to_csv(table, index=False)
    name = f"acme-{task}"
    project = tmp_path / name
    given = answers(github_repository=f"acme/{name}") + team_answers(task, table)
    copied = copier(env, "copy", "--trust", "--defaults", *given, str(template), str(project))
    assert copied.returncode == 0, copied.stdout[-3000:] + copied.stderr[-3000:]

    # The table in place and tracked, its suite drafted, its params written: make repro runs at once.
    assert (project / f"data/external/{table.name}.dvc").is_file()
    assert (project / f"data/expectations/{name}.json").is_file()
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "Start from the template")
    reproduced = make(project, env, "repro")
    assert reproduced.returncode == 0, reproduced.stdout[-3000:] + reproduced.stderr[-3000:]
    assert f"evaluate: {task}, test" in reproduced.stdout, reproduced.stdout[-3000:]
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "The first results")

    # Its name everywhere the example's was: the model, the Kubernetes resources, the dashboards.
    settings = load_settings(project / "params.yaml", check_files=False)
    assert (settings.data.target, settings.data.id_columns, settings.data.task) == (
        TARGETS[task],
        ("account_ref",),
        task,
    )
    assert f'NAME = "{name}"' in (project / "src/gitops_ml/__init__.py").read_text()
    assert yaml.safe_load((project / "models/bento/metadata.json").read_text())["name"] == name
    for wrapper in WRAPPED:
        text = (project / wrapper.relative_to(ROOT).with_suffix("")).read_text()
        assert "gitops-ml" not in text and "example/" not in text.replace("for example", ""), wrapper
    staging = subprocess.run(
        ["kubectl", "kustomize", str(project / "deploy/overlays/staging")], capture_output=True, text=True, check=True
    ).stdout
    assert f"namespace: {name}-staging" in staging and f"ghcr.io/acme/{name}" in staging

    # The project checks, as its make test runs them; then a data change not reproduced is named.
    checks = subprocess.run(
        [str(Path(env["UV_PROJECT_ENVIRONMENT"]) / "bin" / "python"), "-m", "pytest", "-q", "-p", "no:cacheprovider",
         "tests/project"], cwd=project, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert checks.returncode == 0, checks.stdout[-3000:]
    frame = teams_table(task, seed=12)
    frame.to_csv(project / "data" / "external" / table.name, index=False)
    subprocess.run([Path(sys.executable).parent / "dvc", "add", "-q", f"data/external/{table.name}"], cwd=project,
                   env=env, check=True)  # fmt: skip
    stale = subprocess.run(
        [str(Path(env["UV_PROJECT_ENVIRONMENT"]) / "bin" / "python"), "-m", "gitops_ml", "check-results"],
        cwd=project, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert stale.returncode == 1
    assert f"data data/external/{table.name}: data/external/{table.name}.dvc pins another version" in stale.stdout


def test_a_copy_made_with_use_this_template_becomes_the_project_copier_copy_makes(
    template: Path, env: dict[str, str], tmp_path: Path
) -> None:
    """GitHub's "Use this template" copies the repository as it is, in one new commit: make adopt then leaves the
    same files as copier copy with the same answers."""
    given = answers(project_name="acme-churn", github_repository="acme/acme-churn", data_source="synthetic")
    direct = tmp_path / "direct"
    assert copier(env, "copy", "--trust", "--defaults", *given, str(template), str(direct)).returncode == 0

    verbatim = tmp_path / "acme-churn"
    subprocess.run(["git", "clone", "-q", str(template), str(verbatim)], check=True)
    subprocess.run(["rm", "-rf", str(verbatim / ".git")], check=True)
    git(verbatim, "init", "-q", "-b", "main")
    git(verbatim, "add", "-A")
    git(verbatim, "commit", "-q", "-m", "Initial commit")  # what GitHub makes of the template
    adopted = make(verbatim, env, "adopt", f"TEMPLATE={template}", f"COPIER_ARGS=--defaults {' '.join(given)}")
    assert adopted.returncode == 0, adopted.stdout[-3000:] + adopted.stderr[-3000:]
    assert "adopt: the template's own files removed" in adopted.stdout

    def files(folder: Path) -> dict[str, bytes]:
        ignored = set(git(folder, "ls-files", "--others", "--ignored", "--exclude-standard").splitlines())
        return {
            str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*")
            if p.is_file() and ".git" not in p.relative_to(folder).parts and str(p.relative_to(folder)) not in ignored
        }  # fmt: skip

    made, expected = files(verbatim), files(direct)
    assert made.keys() == expected.keys(), made.keys() ^ expected.keys()
    assert [name for name in made if made[name] != expected[name]] == []
