"""The real release and rollback workflows, run end to end by act on a temporary repository.

GitHub's API is the loopback stand-in of ``tests/github_standin.py`` (releases, assets behind a
storage redirect, workflow runs), Docker is a stand-in that records what would be built and pushed,
MLflow is a real ``mlflow server``, and marketplace actions are the stand-ins of
``tests/workflows/stand-ins``.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import tarfile
import urllib.request
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from gitops_ml.pipeline.ingest import load_source
from tests.github_standin import REPOSITORY, GitHubState, github_api
from tests.support import free_port, git, make_settings, tool_env, wait_until_healthy
from tests.workflow_runner import STAND_INS, Act, clone, head, make_origin

# Real servers, act or dvc repro: left out by make test-fast.
pytestmark = pytest.mark.integration

IMAGE = "ghcr.io/example/gitops-ml"
PREVIOUS = "v2026.11.20-1111111"


@pytest.fixture(scope="module")
def origin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_origin(tmp_path_factory.mktemp("origin"))


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


def new_act(folder: Path, api_url: str) -> Act:
    return Act.create(
        folder / "act", GITHUB_API_URL=api_url, DOCKER=str(STAND_INS / "docker"), STANDIN_DOCKER=str(folder / "docker")
    )


def docker_calls(folder: Path) -> list[str]:
    calls = folder / "docker" / "calls"
    return calls.read_text().splitlines() if calls.is_file() else []


def previous_release(state: GitHubState, metrics: dict[str, float]) -> None:
    stored = {"test": metrics, "train": {}}
    state.release(PREVIOUS, assets={"metrics.json": json.dumps(stored).encode(), "params.json": b"{}"})


def test_a_tested_merge_is_released_and_made_current_and_a_failed_publish_is_finished_by_a_rerun(
    origin: Path, tmp_path: Path, mlflow_server: str
) -> None:
    from mlflow import MlflowClient

    main = clone(origin, tmp_path / "main")
    commit = head(main)
    with github_api() as (api_url, state):
        state.passed.add(("ci.yml", commit))
        previous_release(state, {"roc_auc": 0.99, "f1": 0.94})
        act = new_act(tmp_path, api_url)
        mlflow = ("-s", f"MLFLOW_TRACKING_URI={mlflow_server}")

        # The third asset's upload fails: the run stops with a draft; :prod and `latest` stay where they were.
        state.fail["POST /uploads/.*/assets\\?name=model_card\\.md"] = 502
        first = run_workflow(act, main, "workflow_run", ci_passed(commit), "release.yml", *mlflow)
        assert first.returncode != 0, first.stdout[-6000:]
        [draft] = [r for r in state.releases if r["tag_name"] != PREVIOUS]
        assert (
            draft["draft"]
            and state.latest is None
            and set(draft["assets"])
            == {
                f"gitops-ml-classifier-{draft['tag_name']}.bento",
                "metrics.json",
            }
        )
        assert not any(call.endswith(":prod") for call in docker_calls(tmp_path))

        # Re-running the workflow finishes the same release.
        second = run_workflow(act, main, "workflow_run", ci_passed(commit), "release.yml", *mlflow)
        assert second.returncode == 0, second.stdout[-6000:]

    [release] = [r for r in state.releases if r["tag_name"] != PREVIOUS]
    version = release["tag_name"]
    assert re.fullmatch(rf"v\d{{4}}\.\d{{2}}\.\d{{2}}-{commit[:7]}", version)
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
    bento = f"gitops-ml-classifier-{version}.bento"
    assert set(release["assets"]) == {bento, "metrics.json", "model_card.md", "params.json"}
    assert json.loads(release["assets"]["metrics.json"]["content"])["test"] == committed
    assert f"| **Version** | {version} |" in release["assets"]["model_card.md"]["content"].decode()

    calls = docker_calls(tmp_path)
    pushes = [call for call in calls if call.startswith(("push", "tag"))]
    assert pushes[-2:] == [f"tag {IMAGE}:{version} {IMAGE}:prod", f"push {IMAGE}:prod"]  # :prod moves last, once
    assert [call for call in calls if call.endswith(":prod")] == pushes[-2:]
    build = next(call for call in calls if call.startswith("build")).split()
    assert build[2].endswith("/env/docker/Dockerfile")  # the Bento's own
    assert build[3:5] == [f"--tag={IMAGE}:{version}", f"--tag={IMAGE}:{commit[:7]}"]

    client = MlflowClient(mlflow_server)
    champion = client.get_model_version_by_alias("gitops-ml-classifier", "champion")
    assert champion.tags["release"] == version
    assert len(client.search_model_versions(f"name = 'gitops-ml-classifier' and tags.release = '{version}'")) == 1

    # The exported Bento imports into an empty BentoML home and serves the pipeline's predictions.
    exported = act.artifact("release") / bento
    # Compared by digest: pytest's diff of two differing archives runs for many minutes.
    digest = hashlib.sha256(exported.read_bytes()).hexdigest()
    assert digest == hashlib.sha256(release["assets"][bento]["content"]).hexdigest()
    served = serve_imported(exported, tmp_path)
    expected = pd.read_csv(main / "reports" / "evaluation" / "predictions.csv")
    assert served == pytest.approx(list(expected["probability"]), abs=1e-6)


def serve_imported(exported: Path, folder: Path) -> list[float]:
    """Import the .bento into an empty BentoML home, serve it, and predict the committed test records."""
    env = tool_env(folder / "fresh") | {"BENTOML_HOME": str(folder / "fresh-bentoml")}
    env.pop("PYTHONPATH")
    subprocess.run(["bentoml", "import", str(exported)], env=env, check=True, capture_output=True)
    with tarfile.open(exported) as archive:
        manifest = archive.extractfile("./bento.yaml")
        assert manifest is not None
        tag = "gitops-ml-classifier:" + yaml.safe_load(manifest)["version"]
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


def test_rollback_repoints_prod_marks_the_release_latest_and_runs_only_from_main(origin: Path, tmp_path: Path) -> None:
    with github_api() as (api_url, state):
        state.release(PREVIOUS)
        state.release("v2026.11.24-2222222")
        (tmp_path / "docker").mkdir()
        (tmp_path / "docker" / "registry").write_text(f"{IMAGE}:{PREVIOUS}\n{IMAGE}:v2026.11.24-2222222\n")
        event = {"inputs": {"tag": PREVIOUS, "reason": "F1 dropped on Monday's traffic"}}
        act = new_act(tmp_path, api_url)
        ran = run_workflow(act, clone(origin, tmp_path / "main"), "workflow_dispatch", event, "rollback.yml")
        assert ran.returncode == 0, ran.stdout[-4000:]
        assert docker_calls(tmp_path)[1:] == [
            f"pull {IMAGE}:{PREVIOUS}",
            f"tag {IMAGE}:{PREVIOUS} {IMAGE}:prod",
            f"push {IMAGE}:prod",
        ]
        assert state.latest == PREVIOUS  # the next release is gated against the one in production
        assert f"Rolled back to {PREVIOUS}" in ran.stdout and "Reason: F1 dropped on Monday's traffic" in ran.stdout

        # A tag that is not a release changes nothing.
        again = tmp_path / "again"
        act = new_act(again, api_url)
        event = {"inputs": {"tag": "v2026.11.21-3333333", "reason": "typo"}}
        ran = run_workflow(act, clone(origin, again / "main"), "workflow_dispatch", event, "rollback.yml")
        assert ran.returncode != 0 and "no published release v2026.11.21-3333333" in ran.stdout
        assert docker_calls(again) == []

        # Dispatched from another branch, the job does not run.
        branch = tmp_path / "branch"
        repo = clone(origin, branch / "main")
        git(repo, "checkout", "-q", "-b", "not-main")
        act = new_act(branch, api_url)
        event = {"inputs": {"tag": PREVIOUS, "reason": "from a branch"}}
        ran = run_workflow(act, repo, "workflow_dispatch", event, "rollback.yml")
        assert ran.returncode == 0 and "Rolled back" not in ran.stdout and docker_calls(branch) == []
