"""Moving an environment through git: the overlay's pin, and the pull requests that change it, against the
GitHub API stand-in (contents, branches and pull requests as GitHub answers them)."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import get_args

import pytest
import yaml

from gitops_ml import NAME
from gitops_ml.core.errors import PipelineError
from gitops_ml.core.github_api import GitHub
from gitops_ml.core.settings import MetricName
from gitops_ml.release import deploy, promotion
from tests.github_standin import REPOSITORY, GitHubState, github_api
from tests.support import ROOT, make_settings

PREVIOUS, CANDIDATE = "v2026.11.20-g1111111", "v2026.11.25-g2222222"
REPO = "ghcr.io/example/gitops-ml"
DIGESTS = {PREVIOUS: "sha256:" + "a" * 64, CANDIDATE: "sha256:" + "b" * 64}
STAGING, PRODUCTION = (str(deploy.overlay(e)) for e in ("staging", "production"))
CARD = "## Model details\n\n| | |\n|---|---|\n| **Version** | {tag} |\n\n| Parameter | Value |\n"
COMMITTED = dict.fromkeys(get_args(MetricName), 0.9)  # every binary metric


def overlay_text(environment: str) -> str:
    return (ROOT / deploy.overlay(environment)).read_text()


def add_release(state: GitHubState, tag: str, metrics: dict[str, float]) -> None:
    pin = deploy.Pin(REPO, tag, DIGESTS[tag])
    assets = {
        "image.json": pin.to_json().encode(),
        "metrics.json": json.dumps({"test": COMMITTED | metrics}).encode(),
        "model_card.md": CARD.format(tag=tag).encode(),
    }
    state.release(tag, assets=assets)


@pytest.fixture
def api() -> Iterator[tuple[GitHub, GitHubState]]:
    """main holding the template's overlays, production on PREVIOUS; PREVIOUS and CANDIDATE released."""
    with github_api() as (url, state):
        state.actions_may_open_pulls = True
        production = deploy.pinned(overlay_text("production"), deploy.Pin(REPO, PREVIOUS, DIGESTS[PREVIOUS]), "test")
        state.branch("main", {STAGING: overlay_text("staging").encode(), PRODUCTION: production.encode()})
        add_release(state, PREVIOUS, {"roc_auc": 0.99, "f1": 0.95, "accuracy": 0.96})
        add_release(state, CANDIDATE, {"roc_auc": 0.995, "f1": 0.93, "accuracy": 0.97})
        yield GitHub(url, REPOSITORY, state.token), state


def test_a_pin_changes_only_the_image_lines_and_renders_as_tag_at_digest(tmp_path: Path) -> None:
    before = overlay_text("staging")
    after = deploy.pinned(before, deploy.Pin(REPO, CANDIDATE, DIGESTS[CANDIDATE]), "staging")
    kept = [line for line in before.splitlines() if not line.startswith(("images:", "  - name:", "    "))]
    assert [line for line in after.splitlines() if line in kept] == kept  # comments and patches as they were
    assert deploy.read_pin(after, "staging") == deploy.Pin(REPO, CANDIDATE, DIGESTS[CANDIDATE])
    assert deploy.pinned(after, deploy.Pin(REPO, CANDIDATE, DIGESTS[CANDIDATE]), "staging") == after

    shutil.copytree(ROOT / "deploy", tmp_path / "deploy")
    (tmp_path / STAGING).write_text(after)
    rendered = subprocess.run(
        ["kubectl", "kustomize", str(tmp_path / "deploy/overlays/staging")], capture_output=True, text=True, check=True
    ).stdout
    images = {c["image"] for d in yaml.safe_load_all(rendered) if d["kind"] == "Deployment"
              for c in d["spec"]["template"]["spec"]["containers"]}  # fmt: skip
    assert images == {f"{REPO}:{CANDIDATE}@{DIGESTS[CANDIDATE]}"}  # pulled by digest, readable by tag


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("resources: [../../base]\n", f"expected one `images:` entry named '{NAME}'"),
        (f"images:\n  - name: {NAME}\n    newName: x\n    newTag: v1\n", "digest: expected sha256:<64 hex digits>"),
        (f"images:\n  - name: {NAME}\n    digest: sha256:abc\n", "got 'sha256:abc'"),
    ],
)
def test_an_overlay_without_a_digest_pin_is_refused_naming_the_key(text: str, message: str) -> None:
    with pytest.raises(PipelineError, match="production: .*" + message.replace("[", r"\[").replace("(", r"\(")):
        deploy.read_pin(text, "production")


def test_an_image_record_that_is_not_one_is_refused() -> None:
    with pytest.raises(PipelineError, match=r"image\.json: not an image record"):
        deploy.Pin.from_json("{}", "image.json")
    with pytest.raises(PipelineError, match="digest 'latest' is not sha256"):
        deploy.Pin.from_json(json.dumps({"repository": REPO, "tag": "v", "digest": "latest"}), "image.json")


def test_staging_moves_by_one_pull_request_that_a_rerun_updates(
    api: tuple[GitHub, GitHubState], tmp_path: Path
) -> None:
    github, state = api
    dist = tmp_path / "dist"
    dist.mkdir()
    (dist / "image.json").write_text(deploy.Pin(REPO, CANDIDATE, DIGESTS[CANDIDATE]).to_json())
    url = promotion.stage(dist, github, commit_directly=False)
    [pull] = state.pulls
    assert url.endswith(f"/pull/{pull['number']}") and pull["head"] == f"deploy/staging-{CANDIDATE}"
    assert pull["title"] == f"Deploy {CANDIDATE} to staging"
    moved = state.files(pull["head"])[STAGING].decode()
    assert deploy.read_pin(moved, "staging").digest == DIGESTS[CANDIDATE]
    assert state.files(pull["head"])[PRODUCTION] == state.files("main")[PRODUCTION]  # production untouched

    # A re-run of the release (its image rebuilt, so another digest), after main changed the same file, updates
    # the same pull request from a branch that starts at main's new head: it cannot conflict.
    edited = b"# a comment merged on main since\n" + state.files("main")[STAGING]
    state.branch("main", state.files("main") | {STAGING: edited}, "Edit staging by hand")
    rebuilt = "sha256:" + "c" * 64
    (dist / "image.json").write_text(deploy.Pin(REPO, CANDIDATE, rebuilt).to_json())
    promotion.stage(dist, github, commit_directly=False)
    assert len(state.pulls) == 1 and rebuilt in state.pulls[0]["body"]
    moved = state.files(pull["head"])[STAGING].decode()
    assert moved.startswith("# a comment merged on main since") and deploy.read_pin(moved, "staging").digest == rebuilt
    assert state.commits[state.branches[pull["head"]]]["parent"] == state.branches["main"]
    assert deploy.read_pin(state.files("main")[STAGING].decode(), "staging").tag is None  # main waits for the merge


def test_staging_can_be_committed_to_main_and_a_repeat_changes_nothing(
    api: tuple[GitHub, GitHubState], tmp_path: Path
) -> None:
    github, state = api
    (tmp_path / "image.json").write_text(deploy.Pin(REPO, CANDIDATE, DIGESTS[CANDIDATE]).to_json())
    promotion.stage(tmp_path, github, commit_directly=True)
    head = state.branches["main"]
    assert state.pulls == [] and state.commits[head]["message"] == f"Deploy {CANDIDATE} to staging"
    assert deploy.read_pin(state.files("main")[STAGING].decode(), "staging").tag == CANDIDATE
    promotion.stage(tmp_path, github, commit_directly=True)
    assert state.branches["main"] == head


def test_without_the_repository_setting_the_error_says_which_one_and_where_the_change_is(
    api: tuple[GitHub, GitHubState], tmp_path: Path
) -> None:
    github, state = api
    state.actions_may_open_pulls = False
    (tmp_path / "image.json").write_text(deploy.Pin(REPO, CANDIDATE, DIGESTS[CANDIDATE]).to_json())
    with pytest.raises(PipelineError) as raised:
        promotion.stage(tmp_path, github, commit_directly=False)
    assert "Allow GitHub Actions to create and approve pull requests" in str(raised.value)
    assert f"on branch deploy/staging-{CANDIDATE}" in str(raised.value)


def test_the_promotion_pull_request_compares_with_production_and_carries_the_card(
    api: tuple[GitHub, GitHubState],
) -> None:
    github, state = api
    promotion.promote(make_settings(), CANDIDATE, github)
    [pull] = state.pulls
    assert (pull["head"], pull["title"]) == (f"deploy/production-{CANDIDATE}", f"Promote {CANDIDATE} to production")
    body = pull["body"]
    assert f"against production's `{PREVIOUS}`" in body
    assert "| f1 | 0.9500 | 0.9300 | -0.0200 | 0.01 |" in body  # production's value, then the candidate's
    assert "**Worse than production on f1**" in body
    assert f"| **Version** | {CANDIDATE} |" in body and "Parameter" not in body  # the card's summary only
    pinned = deploy.read_pin(state.files(pull["head"])[PRODUCTION].decode(), "production")
    assert pinned == deploy.Pin(REPO, CANDIDATE, DIGESTS[CANDIDATE])

    with pytest.raises(PipelineError, match=f"production runs {PREVIOUS} already"):
        promotion.promote(make_settings(), PREVIOUS, github)
    with pytest.raises(PipelineError, match=r"no published release v2026\.11\.21-g3333333"):
        promotion.promote(make_settings(), "v2026.11.21-g3333333", github)
    with pytest.raises(PipelineError, match="'latest' is not a release version"):
        promotion.promote(make_settings(), "latest", github)
    with pytest.raises(PipelineError, match=r"--live: .*live\.md does not exist"):
        promotion.promote(make_settings(), CANDIDATE, github, Path("live.md"))


def test_a_rollback_pull_request_says_why_and_needs_a_reason(api: tuple[GitHub, GitHubState]) -> None:
    github, state = api
    production = deploy.pinned(overlay_text("production"), deploy.Pin(REPO, CANDIDATE, DIGESTS[CANDIDATE]), "test")
    state.branch("main", state.files("main") | {PRODUCTION: production.encode()})
    with pytest.raises(PipelineError, match="--reason: say why"):
        promotion.rollback(make_settings(), PREVIOUS, "  ", github)
    promotion.rollback(make_settings(), PREVIOUS, "F1 fell on Monday's traffic\nsee the drift issue", github)
    [pull] = state.pulls
    assert pull["title"] == f"Roll production back to {PREVIOUS}" and pull["head"] == f"rollback/production-{PREVIOUS}"
    assert "> F1 fell on Monday's traffic\n> see the drift issue" in pull["body"]
    assert f"from `{CANDIDATE}` to `{REPO}:{PREVIOUS}@{DIGESTS[PREVIOUS]}`" in pull["body"]


def test_following_production_refuses_a_digest_its_release_did_not_push(
    api: tuple[GitHub, GitHubState], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    github, _ = api
    forged = deploy.pinned(overlay_text("production"), deploy.Pin(REPO, PREVIOUS, DIGESTS[CANDIDATE]), "test")
    (tmp_path / PRODUCTION).parent.mkdir(parents=True)
    (tmp_path / PRODUCTION).write_text(forged)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(PipelineError, match=f"but release {PREVIOUS} pushed {REPO}:{PREVIOUS}@{DIGESTS[PREVIOUS]}"):
        promotion.follow(github)
