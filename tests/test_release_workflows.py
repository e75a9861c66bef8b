"""The real release, promote, rollback and deployed workflows, run end to end by act on a temporary repository.

GitHub's API is the loopback stand-in of ``tests/github_standin.py`` (releases, assets behind a
storage redirect, workflow runs, files, branches and pull requests), Docker is a stand-in that
records what would be built and pushed, MLflow is a real ``mlflow server``, and marketplace actions
are the stand-ins of ``tests/workflows/stand-ins``. Production starts on an earlier release
(``PREVIOUS``), pinned by digest in the origin's production overlay.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import tarfile
import urllib.request
from pathlib import Path
from typing import Any, get_args

import pandas as pd
import pytest
import yaml

from gitops_ml import NAME
from gitops_ml.core.settings import MetricName
from gitops_ml.pipeline.ingest import load_source
from gitops_ml.release import deploy
from gitops_ml.team import stack as team_stack
from gitops_ml.team.stack import Stack, free_port
from tests.github_standin import REPOSITORY, GitHubState, github_api
from tests.support import git, make_settings, tool_env, wait_until_healthy
from tests.workflow_runner import (
    STAND_INS,
    Act,
    as_secrets,
    clone,
    head,
    logs_and_artifacts,
    make_origin,
    seed_cache,
    team_runner,
)

# Real servers, act or dvc repro: left out by make test-fast.
pytestmark = pytest.mark.integration

IMAGE = "ghcr.io/example/gitops-ml"
PREVIOUS, NEWER = "v2026.11.20-g1111111", "v2026.11.24-g2222222"
DIGESTS = {PREVIOUS: "sha256:" + "1" * 64, NEWER: "sha256:" + "2" * 64}
OVERLAYS = [str(deploy.overlay(environment)) for environment in deploy.ENVIRONMENTS]


@pytest.fixture(scope="module")
def origin(tmp_path_factory: pytest.TempPathFactory, new_project: Path) -> Path:
    """The project's main, with production on PREVIOUS."""
    folder = tmp_path_factory.mktemp("origin")
    origin = make_origin(folder, new_project)
    repo = clone(origin, folder / "edit")
    production = repo / deploy.overlay("production")
    production.write_text(deploy.pinned(production.read_text(), pin(PREVIOUS), "production"))
    git(repo, "commit", "-q", "-am", f"Promote {PREVIOUS} to production")
    git(repo, "push", "-q", str(origin), "HEAD:main")
    return origin


def pin(tag: str) -> deploy.Pin:
    return deploy.Pin(IMAGE, tag, DIGESTS[tag])


def mirror_main(state: GitHubState, repo: Path) -> None:
    """The stand-in's main holds the overlays as the clone's main does (what the workflows read by the API)."""
    state.actions_may_open_pulls = True
    state.branch("main", {path: (repo / path).read_bytes() for path in OVERLAYS})


def pushed(folder: Path, *tags: str) -> None:
    """The registry as earlier releases left it: each tag's image, by tag and by digest."""
    registry = folder / "docker" / "registry"
    registry.parent.mkdir(parents=True, exist_ok=True)
    with registry.open("a") as out:
        for tag in tags:
            out.write(f"{IMAGE}:{tag} image-{tag}\n{IMAGE}@{DIGESTS[tag]} image-{tag}\n")


def ci_passed(commit: str) -> dict[str, Any]:
    """The event GitHub sends the release workflow when ci.yml finished on a push to main."""
    return {
        "action": "completed",
        "workflow_run": {
            "id": 555, "name": "ci", "event": "push", "status": "completed", "conclusion": "success",
            "head_sha": commit, "head_branch": "main", "head_repository": {"full_name": REPOSITORY},
        },
        "repository": {"full_name": REPOSITORY},
    }  # fmt: skip


def run_workflow(
    act: Act, repo: Path, event: str, payload: dict[str, Any], workflow: str, *secrets: str
) -> subprocess.CompletedProcess[str]:
    return act.run(repo, event, payload, workflow, "-s", "GITHUB_TOKEN=token-of-the-run", *secrets)


def new_act(folder: Path, api_url: str, **env: str) -> Act:
    return Act.create(
        folder / "act",
        GITHUB_API_URL=api_url,
        DOCKER=str(STAND_INS / "docker"),
        STANDIN_DOCKER=str(folder / "docker"),
        **env,
    )


def docker_calls(folder: Path) -> list[str]:
    calls = folder / "docker" / "calls"
    return calls.read_text().splitlines() if calls.is_file() else []


def previous_release(state: GitHubState, metrics: dict[str, float], tag: str = PREVIOUS) -> None:
    committed = dict.fromkeys(get_args(MetricName), 0.9)  # every binary metric, as a release records them
    stored = {"test": committed | metrics, "train": {}}
    card = f"## Model details\n\n| | |\n|---|---|\n| **Version** | {tag} |\n"
    assets = {"metrics.json": json.dumps(stored).encode(), "params.json": b"{}",
              "image.json": pin(tag).to_json().encode(), "model_card.md": card.encode()}  # fmt: skip
    state.release(tag, assets=assets)


def test_a_tested_merge_is_released_and_staged_and_a_failed_publish_is_finished_by_a_rerun(
    origin: Path, new_project: Path, tmp_path: Path, team: Stack, mlflow_server: str
) -> None:
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    main = clone(origin, tmp_path / "main")
    # The team's DVC remote as a team commits it: the bucket (S3 clients take the endpoint from the environment).
    dvc = ["dvc", "remote", "add", "-d", "team", team_stack.DVC_REMOTE]
    subprocess.run(dvc, cwd=main, env=tool_env(main), check=True)
    git(main, "commit", "-q", "-am", "The DVC remote on S3")
    commit = head(main)
    with github_api() as (api_url, state):
        mirror_main(state, main)
        state.passed.add(("ci.yml", commit))
        previous_release(state, {"roc_auc": 0.99, "f1": 0.94})
        # main's DVC cache as its earlier runs saved it (actions/cache): the stages restore from the run-cache, as
        # on GitHub after main's first release (training in the release job: the next test's regressing model).
        caches = tmp_path / "saved-caches"
        seed_cache(caches, "dvc-from-main", ".dvc/cache", new_project / ".dvc" / "cache")
        act = new_act(tmp_path, api_url, STANDIN_CACHE=str(caches))
        writer = team.s3.keys["dvc-write"]
        mlflow = (*as_secrets(team.tracking.credentials() | writer.env()), *team_runner(team))

        # The fourth asset's upload fails: the run stops with a draft; staging and `latest` stay where they were.
        state.fail["POST /uploads/.*/assets\\?name=model_card\\.md"] = 502
        first = run_workflow(act, main, "workflow_run", ci_passed(commit), "release.yml", *mlflow)
        assert first.returncode != 0, first.stdout[-6000:]
        drafts = [r for r in state.releases if r["tag_name"] != PREVIOUS]
        assert len(drafts) == 1, first.stdout[-6000:]
        [draft] = drafts
        assert (
            draft["draft"]
            and state.latest is None
            and set(draft["assets"]) == {f"{NAME}-{draft['tag_name']}.bento", "image.json", "metrics.json"}
        )
        assert state.pulls == []

        # Re-running the workflow finishes the same release.
        second = run_workflow(act, main, "workflow_run", ci_passed(commit), "release.yml", *mlflow)
        assert second.returncode == 0, second.stdout[-6000:]

    [release] = [r for r in state.releases if r["tag_name"] != PREVIOUS]
    version = release["tag_name"]
    assert re.fullmatch(rf"v\d{{4}}\.\d{{2}}\.\d{{2}}-g{commit[:7]}", version)
    assert not release["draft"] and state.latest == version and release["target_commitish"] == commit
    assert "Promotion gate passed" in second.stdout and f"Against release `{PREVIOUS}`" in second.stdout
    notes = release["body"]
    lock = yaml.safe_load((main / "dvc.lock").read_text())
    committed = json.loads((main / "reports" / "evaluation" / "metrics.json").read_text())["test"]
    data_md5 = lock["stages"]["ingest"]["outs"][0]["md5"]
    roc_auc = f"| roc_auc | 0.9900 | {committed['roc_auc']:.4f} |"
    for expected in (f"`{IMAGE}:{version}`", f"Commit: `{commit}`", roc_auc, "`train.linear.C`: `1.0`",
                     f"Data: `{data_md5}`", f"### Merged since `{PREVIOUS}`"):  # fmt: skip
        assert expected in notes, expected
    bento = f"{NAME}-{version}.bento"
    assert set(release["assets"]) == {bento, "image.json", "metrics.json", "model_card.md", "params.json"}
    assert json.loads(release["assets"]["metrics.json"]["content"])["test"] == committed
    assert f"| **Version** | {version} |" in release["assets"]["model_card.md"]["content"].decode()

    calls = docker_calls(tmp_path)
    build = next(call for call in calls if call.startswith("build")).split()
    assert build[2].endswith("/env/docker/Dockerfile")  # the Bento's own
    assert build[3:5] == [f"--tag={IMAGE}:{version}", f"--tag={IMAGE}:{commit[:7]}"]
    assert not any(call.endswith(":prod") for call in calls)  # production moves only by its pull request

    # The digest the registry gave the re-run's push is the release's record and what staging pins.
    registry = dict(line.split() for line in (tmp_path / "docker" / "registry").read_text().splitlines())
    recorded = deploy.Pin.from_json(release["assets"]["image.json"]["content"], "image.json")
    assert recorded == deploy.Pin(IMAGE, version, recorded.digest)
    assert registry[f"{IMAGE}@{recorded.digest}"] == registry[f"{IMAGE}:{version}"]  # the last push of :version
    [staging] = state.pulls
    assert (staging["title"], staging["head"]) == (f"Deploy {version} to staging", f"deploy/staging-{version}")
    moved = state.files(staging["head"])
    assert deploy.read_pin(moved[OVERLAYS[0]].decode(), "staging") == recorded
    assert moved[OVERLAYS[1]] == (main / OVERLAYS[1]).read_bytes()  # production waits for its own pull request

    client = MlflowClient(mlflow_server)
    assert len(client.search_model_versions(f"name = '{NAME}' and tags.release = '{version}'")) == 1
    with pytest.raises(MlflowException, match="champion"):
        client.get_model_version_by_alias(NAME, "champion")  # production's, not the newest

    # The exported Bento imports into an empty BentoML home and serves the pipeline's predictions.
    exported = act.artifact("release") / bento
    # Compared by digest: pytest's diff of two differing archives runs for many minutes.
    digest = hashlib.sha256(exported.read_bytes()).hexdigest()
    assert digest == hashlib.sha256(release["assets"][bento]["content"]).hexdigest()

    # The release pushed the data and the run-cache to the team's remote, and no credential reached a log.
    stored = remote_objects(team, writer)
    assert {f"md5/{md5[:2]}/{md5[2:]}" for md5 in cached_data(main)} <= stored
    assert any(key.startswith("runs/") for key in stored)
    published = logs_and_artifacts(act, first, second)
    for secret in (writer.secret_access_key, writer.access_key_id, team.tracking.token):
        assert not any(secret in text for text in published)
    served = serve_imported(exported, tmp_path)
    expected = pd.read_csv(main / "reports" / "evaluation" / "predictions.csv")
    assert served == pytest.approx(list(expected["probability"]), abs=1e-6)


def cached_data(repo: Path) -> set[str]:
    """The md5 of the data the pipeline's ingest and split stages cache (and so push). The model is left out:
    its bytes, and so its hash, differ between CPUs."""
    from dvc.repo import Repo

    with Repo(str(repo)) as dvc:
        stages = [stage for stage in dvc.index.stages if stage.name in ("ingest", "split")]
        return {str(out.hash_info.value) for stage in stages for out in stage.outs if out.use_cache}


def remote_objects(team: Stack, key: team_stack.Key) -> set[str]:
    """The keys under the DVC remote's prefix, without it (``files/md5/...`` from DVC 3 on, ``runs/...``)."""
    import boto3

    client = boto3.client("s3", endpoint_url=team.s3.endpoint, region_name=team_stack.REGION,
                          aws_access_key_id=key.access_key_id, aws_secret_access_key=key.secret_access_key)  # fmt: skip
    prefix = f"{team_stack.DVC_PREFIX}/"
    found: set[str] = set()
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=team_stack.DATA_BUCKET, Prefix=prefix):
        found |= {item["Key"].removeprefix(prefix).removeprefix("files/") for item in page.get("Contents", [])}
    return found


def serve_imported(exported: Path, folder: Path) -> list[float]:
    """Import the .bento into an empty BentoML home, serve it, and predict the committed test records."""
    env = tool_env(folder / "fresh") | {"BENTOML_HOME": str(folder / "fresh-bentoml")}
    env.pop("PYTHONPATH")
    subprocess.run(["bentoml", "import", str(exported)], env=env, check=True, capture_output=True)
    with tarfile.open(exported) as archive:
        manifest = archive.extractfile("./bento.yaml")
        assert manifest is not None
        tag = f"{NAME}:" + yaml.safe_load(manifest)["version"]
    port = free_port()
    log = folder / "serve.log"
    with log.open("w") as out:
        server = subprocess.Popen(
            ["bentoml", "serve", tag, "--host", "127.0.0.1", "--port", str(port)],
            cwd=folder, env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        wait_until_healthy(f"http://127.0.0.1:{port}/readyz", server, log, 120)
        frame = load_source(make_settings().data)
        committed = pd.read_csv(folder / "main" / "reports" / "evaluation" / "predictions.csv")
        records = frame.set_index("sample_id").loc[committed["sample_id"]].drop(columns=["diagnosis"])
        body = json.dumps({"records": json.loads(records.to_json(orient="records"))}).encode()
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/predict_batch", data=body, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return [p["probability"] for p in json.loads(response.read())]
    finally:
        server.terminate()
        server.wait(timeout=60)


def test_an_untested_commit_and_a_regressing_model_are_not_released(origin: Path, tmp_path: Path) -> None:
    main = clone(origin, tmp_path / "main")
    with github_api() as (api_url, state):
        mirror_main(state, main)
        previous_release(state, {"roc_auc": 0.9999, "f1": 0.99})
        act = new_act(tmp_path, api_url)
        untested = run_workflow(act, main, "workflow_run", ci_passed(head(main)), "release.yml")
        assert untested.returncode != 0
        message = f"commit {head(main)[:7]} has no successful ci.yml run: only tested commits are released"
        assert message in untested.stdout

        state.passed.add(("ci.yml", head(main)))
        gated = run_workflow(act, main, "workflow_run", ci_passed(head(main)), "release.yml")
        assert gated.returncode != 0
    committed = json.loads((main / "reports" / "evaluation" / "metrics.json").read_text())["test"]
    fell = 0.99 - committed["f1"]
    assert f"Promotion gate stopped: f1 fell by {fell:.4f} (more than 0.01)" in gated.stdout
    assert f"| f1 | 0.9900 | {committed['f1']:.4f} | {-fell:+.4f} | 0.01 |" in gated.stdout  # the job summary's
    assert [r["tag_name"] for r in state.releases] == [PREVIOUS] and docker_calls(tmp_path) == []


def test_a_release_of_a_failed_ci_run_or_a_pull_request_does_not_start(origin: Path, tmp_path: Path) -> None:
    main = clone(origin, tmp_path / "main")
    failed = ci_passed(head(main))
    failed["workflow_run"]["conclusion"] = "failure"
    from_a_pull_request = ci_passed(head(main))
    from_a_pull_request["workflow_run"]["event"] = "pull_request"
    with github_api() as (api_url, state):
        for event in (failed, from_a_pull_request):
            ran = run_workflow(new_act(tmp_path, api_url), main, "workflow_run", event, "release.yml")
            assert ran.returncode == 0 and "⭐ Run" not in ran.stdout, ran.stdout[-3000:]
    assert state.seen == [] and docker_calls(tmp_path) == []


def test_promotion_and_rollback_are_pull_requests_and_prod_follows_the_merge(origin: Path, tmp_path: Path) -> None:
    main = clone(origin, tmp_path / "main")
    pushed(tmp_path, PREVIOUS, NEWER)
    with github_api() as (api_url, state):
        mirror_main(state, main)
        previous_release(state, {"f1": 0.95}, PREVIOUS)
        previous_release(state, {"f1": 0.97}, NEWER)
        act = new_act(tmp_path, api_url)

        promoted = run_workflow(act, main, "workflow_dispatch", {"inputs": {"tag": NEWER}}, "promote.yml")
        assert promoted.returncode == 0, promoted.stdout[-4000:]
        [pull] = state.pulls
        assert (pull["title"], pull["head"]) == (f"Promote {NEWER} to production", f"deploy/production-{NEWER}")
        assert (
            f"against production's `{PREVIOUS}`" in pull["body"]
            and "| f1 | 0.9500 | 0.9700 | +0.0200 | 0.01 |" in pull["body"]
        )
        assert docker_calls(tmp_path) == []  # nothing moves before the merge

        # Merged: main's production overlay is the pull request's; the Deployed workflow runs on the push.
        (main / OVERLAYS[1]).write_bytes(state.files(pull["head"])[OVERLAYS[1]])
        git(main, "commit", "-q", "-am", pull["title"])
        state.branch("main", state.files(pull["head"]), pull["title"])
        push = {"ref": "refs/heads/main", "after": head(main), "repository": {"full_name": REPOSITORY}}
        deployed = run_workflow(act, main, "push", push, "deployed.yml")
        assert deployed.returncode == 0, deployed.stdout[-4000:]
        assert "no MLFLOW_TRACKING_URI; model registry skipped" in deployed.stdout
        assert docker_calls(tmp_path)[1:] == [
            f"pull {IMAGE}@{DIGESTS[NEWER]}",
            f"tag {IMAGE}@{DIGESTS[NEWER]} {IMAGE}:prod",
            f"push {IMAGE}:prod",
        ]  # :prod is the digest production runs, not whatever :NEWER points at now

        again = run_workflow(act, main, "workflow_dispatch", {"inputs": {"tag": NEWER}}, "promote.yml")
        assert again.returncode != 0 and f"production runs {NEWER} already" in again.stdout

        # One click back: the Rollback workflow opens the pull request, with the reason.
        event = {"inputs": {"tag": PREVIOUS, "reason": "F1 dropped on Monday's traffic"}}
        rolled = run_workflow(act, main, "workflow_dispatch", event, "rollback.yml")
        assert rolled.returncode == 0, rolled.stdout[-4000:]
        back = state.pulls[-1]
        assert (back["title"], back["head"]) == (
            f"Roll production back to {PREVIOUS}",
            f"rollback/production-{PREVIOUS}",
        )
        assert "> F1 dropped on Monday's traffic" in back["body"]
        assert deploy.read_pin(state.files(back["head"])[OVERLAYS[1]].decode(), "production") == pin(PREVIOUS)

        # A tag that is not a release opens nothing.
        event = {"inputs": {"tag": "v2026.11.21-g3333333", "reason": "typo"}}
        ran = run_workflow(act, main, "workflow_dispatch", event, "rollback.yml")
        assert ran.returncode != 0 and "no published release v2026.11.21-g3333333" in ran.stdout
        assert len(state.pulls) == 2

        # Dispatched from another branch, neither job runs.
        git(main, "checkout", "-q", "-b", "not-main")
        for workflow, inputs in (("rollback.yml", event["inputs"]), ("promote.yml", {"tag": PREVIOUS})):
            ran = run_workflow(act, main, "workflow_dispatch", {"inputs": inputs}, workflow)
            assert ran.returncode == 0 and "⭐ Run" not in ran.stdout, ran.stdout[-3000:]
        assert len(state.pulls) == 2
