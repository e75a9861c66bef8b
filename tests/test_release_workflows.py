"""The real release and rollback workflows, run end to end by act on a temporary repository.

GitHub's releases API is a loopback stand-in that records what would be created, Docker is a
stand-in that records what would be built and pushed, and marketplace actions are the composite
stand-ins of ``tests/workflows/stand-ins``. MLflow is not configured, so registry steps say so.
"""

from __future__ import annotations

import json
import re
import subprocess
import tarfile
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
import yaml

from gitops_ml.ingest import load_source
from tests.support import free_port, make_settings, tool_env, wait_until_healthy
from tests.workflow_runner import STAND_INS, Act, GitHubAPI, clone, github_api_server, head, make_origin

IMAGE = "ghcr.io/example/gitops-ml"


@pytest.fixture(scope="module")
def origin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_origin(tmp_path_factory.mktemp("origin"))


@pytest.fixture
def github_api() -> Iterator[tuple[str, type[GitHubAPI]]]:
    with github_api_server() as served:
        yield served


def run_workflow(
    origin: Path, folder: Path, api_url: str, event: str, payload: dict[str, object], workflow: str
) -> tuple[Act, subprocess.CompletedProcess[str], Path]:
    """Run ``workflow`` from a clone of main; return the act run and the file of Docker calls."""
    act = Act.create(
        folder / "act", GITHUB_API_URL=api_url, DOCKER=str(STAND_INS / "docker"), STANDIN_DOCKER=str(folder / "docker")
    )
    ran = act.run(clone(origin, folder / "main"), event, payload, workflow, "-s", "GITHUB_TOKEN=token-of-the-run")
    return act, ran, folder / "docker" / "calls"


def test_a_merge_to_main_is_released_with_notes_assets_and_image_tags(
    origin: Path, tmp_path: Path, github_api: tuple[str, type[GitHubAPI]]
) -> None:
    api_url, api = github_api
    act, ran, docker = run_workflow(origin, tmp_path, api_url, "push", {"ref": "refs/heads/main"}, "release.yml")
    assert ran.returncode == 0, ran.stdout[-6000:]
    assert "Promotion gate: first release" in ran.stdout

    [release] = api.releases
    commit = head(tmp_path / "main")
    version = release["tag_name"]
    assert re.fullmatch(rf"v\d{{4}}\.\d{{2}}\.\d{{2}}-{commit[:7]}", version)
    assert release["target_commitish"] == commit
    notes = release["body"]
    lock = yaml.safe_load((tmp_path / "main" / "dvc.lock").read_text())
    data_md5 = lock["stages"]["ingest"]["outs"][0]["md5"]
    for expected in (f"`{IMAGE}:{version}`", f"Commit: `{commit}`", "| roc_auc | n/a | 0.9960 |",
                     "`train.logistic_regression.C`: `1.0`", f"Data: `{data_md5}`"):  # fmt: skip
        assert expected in notes, expected
    bento = f"gitops-ml-classifier-{version}.bento"
    assert set(release["assets"]) == {bento, "metrics.json", "model_card.md", "params.json"}
    assert json.loads(release["assets"]["metrics.json"])["test"]["roc_auc"] == 0.996032
    assert release["assets"]["model_card.md"].decode().startswith("# Model card")
    assert f"| **Version** | {version} |" in release["assets"]["model_card.md"].decode()

    calls = docker.read_text().splitlines()
    tags = [f"{IMAGE}:{version}", f"{IMAGE}:{commit[:7]}", f"{IMAGE}:prod"]
    assert calls[0] == "login ghcr.io --username nektos/act --password-stdin (password on stdin)"
    build = calls[1].split()
    assert build[:2] == ["build", "--file"] and build[2].endswith("/env/docker/Dockerfile")  # the Bento's own
    assert build[3:6] == [f"--tag={t}" for t in tags]
    assert calls[2:] == [f"push {t}" for t in tags]

    # The exported Bento imports into an empty BentoML home and serves the pipeline's predictions.
    exported = act.artifacts / "release" / bento
    assert exported.read_bytes() == release["assets"][bento]
    served = serve_imported(exported, tmp_path)
    expected = pd.read_csv(tmp_path / "main" / "reports" / "evaluation" / "predictions.csv")
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


def test_a_regressing_model_stops_at_the_gate_and_nothing_is_released(
    origin: Path, tmp_path: Path, github_api: tuple[str, type[GitHubAPI]]
) -> None:
    api_url, api = github_api
    stored = {"test": {"roc_auc": 0.9999, "f1": 0.99}, "train": {}}
    api.releases.append({"tag_name": "v2026.11.20-0000000", "assets": {"metrics.json": json.dumps(stored).encode()}})
    _, ran, docker = run_workflow(origin, tmp_path, api_url, "push", {"ref": "refs/heads/main"}, "release.yml")
    assert ran.returncode != 0
    assert "Promotion gate stopped: f1 fell by 0.0388 (more than 0.01)" in ran.stdout
    assert "| f1 | 0.9900 | 0.9512 | -0.0388 | 0.01 |" in ran.stdout  # the job summary's table
    assert len(api.releases) == 1 and not docker.exists()  # no release, no image


def test_rollback_repoints_prod_to_the_chosen_release_and_says_why(
    origin: Path, tmp_path: Path, github_api: tuple[str, type[GitHubAPI]]
) -> None:
    api_url, api = github_api
    api.releases += [
        {"tag_name": "v2026.11.20-1111111", "assets": {}},
        {"tag_name": "v2026.11.24-2222222", "assets": {}},
    ]
    event = {"inputs": {"tag": "v2026.11.20-1111111", "reason": "F1 dropped on Monday's traffic"}}
    _, ran, docker = run_workflow(origin, tmp_path, api_url, "workflow_dispatch", event, "rollback.yml")
    assert ran.returncode == 0, ran.stdout[-4000:]
    assert docker.read_text().splitlines()[1:] == [
        f"pull {IMAGE}:v2026.11.20-1111111",
        f"tag {IMAGE}:v2026.11.20-1111111 {IMAGE}:prod",
        f"push {IMAGE}:prod",
    ]
    assert "Rolled back to v2026.11.20-1111111" in ran.stdout and "Reason: F1 dropped on Monday's traffic" in ran.stdout

    # A tag that is not a release changes nothing.
    event = {"inputs": {"tag": "v2026.11.21-3333333", "reason": "typo"}}
    _, ran, docker = run_workflow(origin, tmp_path / "again", api_url, "workflow_dispatch", event, "rollback.yml")
    assert ran.returncode != 0 and "no release v2026.11.21-3333333" in ran.stdout
    assert not docker.exists()
