"""Run the project's real workflow files with act, on this machine, offline (tests and benchmarks).

act runs each job on the host (``-P ubuntu-latest=-self-hosted``). GitHub's marketplace actions
cannot be fetched here, so each is replaced through ``--local-repository`` by a stand-in under
``tests/workflows/stand-ins/`` that mirrors the pinned version's inputs and behaviour (its header
says which); the checkout stand-in copies the repository act runs in, as GitHub's. Jobs install
the project with the host's uv from its warm cache, offline, so nothing is downloaded, into one environment
shared by the test process's jobs (``tests.support.shared_environment``).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gitops_ml.team.stack import CLIENT_DOWNLOADS, Stack
from tests.github_standin import REPOSITORY, GitHubState
from tests.support import ROOT, git, host_uv, shared_environment

BIN = Path(sys.executable).parent
STAND_INS = ROOT / "tests" / "workflows" / "stand-ins"
MACHINE_TRUST = ("NODE_EXTRA_CA_CERTS", "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "PIP_CERT")
WORKFLOWS = ROOT / ".github" / "workflows"
USES = re.compile(r"uses: ([\w-]+/([\w-]+)@[0-9a-f]{40})")


def stand_in_mappings(workflow: str) -> list[str]:
    """``--local-repository`` for every action ``workflow`` and the local actions use; a new action without a
    stand-in fails here. (The Cloud training workflow, which needs a cloud, is not run by act.)"""
    mappings = []
    files = [WORKFLOWS / workflow, *(WORKFLOWS.parent / "actions").glob("*/action.yml")]
    for action, name in sorted({m.groups() for p in files for m in USES.finditer(p.read_text())}):
        folder = STAND_INS / name
        assert (folder / "action.yml").is_file(), f"{action} has no stand-in under {STAND_INS}"
        mappings += ["--local-repository", f"{action}={folder}"]
    return mappings


def make_origin(folder: Path, project: Path) -> Path:
    """A bare repository holding ``project``'s main branch (``reproduced_project``'s): what GitHub would hold."""
    origin = folder / "origin.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(project), str(origin)], check=True)
    return origin


def clone(origin: Path, destination: Path) -> Path:
    """A working clone whose ``origin`` reads as the GitHub repository (act takes the name from it)."""
    subprocess.run(["git", "clone", "-q", str(origin), str(destination)], check=True)
    git(destination, "remote", "set-url", "origin", f"https://github.com/{REPOSITORY}.git")
    return destination


def head(repo: Path) -> str:
    return git(repo, "rev-parse", "HEAD").strip()


_RUN_IDS = itertools.count(1000)


@dataclass
class Act:
    """One act installation: its home, the folder standing in for artifact storage, and extra env.

    Each ``run`` is a new workflow run with its own ``GITHUB_RUN_ID``; the artifact stand-ins keep
    each run's artifacts apart, under ``artifacts/<run id>/<name>``, as GitHub does.
    """

    home: Path
    artifacts: Path
    env: dict[str, str]
    run_ids: list[int] = field(default_factory=list)

    @classmethod
    def create(cls, folder: Path, **env: str) -> Act:
        uv = host_uv()
        cache = subprocess.run([uv, "cache", "dir"], check=True, capture_output=True, text=True).stdout.strip()
        defaults = {
            # The host's uv and its package cache, offline: the job's `make setup` installs from uv.lock
            # in about a second and downloads nothing.
            "UV": str(uv),
            "UV_CACHE_DIR": cache,
            "UV_OFFLINE": "1",
            "UV_PROJECT_ENVIRONMENT": str(shared_environment()),
            "GIT_PAGER": "cat",
            "STANDIN_ARTIFACTS": str(folder / "artifacts"),
            "STANDIN_CACHE": str(folder / "caches"),
        }
        (folder / "artifacts").mkdir(parents=True, exist_ok=True)
        return cls(home=folder / "home", artifacts=folder / "artifacts", env=defaults | env)

    def artifact(self, name: str, run_id: int | None = None) -> Path:
        """The folder an artifact of a run (by default the last one) was uploaded to."""
        return self.artifacts / str(run_id or self.run_ids[-1]) / name

    def run(
        self, repo: Path, event: str, payload: dict[str, Any], workflow: str, *extra: str
    ) -> subprocess.CompletedProcess[str]:
        self.home.mkdir(parents=True, exist_ok=True)
        event_file = self.home / f"{event}.json"
        event_file.write_text(json.dumps(payload))
        self.run_ids.append(next(_RUN_IDS))
        command = [
            str(BIN / "act"), event, "-e", str(event_file), "-W", f".github/workflows/{workflow}",
            "-P", "ubuntu-latest=-self-hosted", "--no-cache-server", *stand_in_mappings(workflow),
            *(arg for key, value in self.env.items() for arg in ("--env", f"{key}={value}")),
            "--env", f"GITHUB_RUN_ID={self.run_ids[-1]}", "--env", f"STANDIN_REPO={repo}", *extra,
        ]  # fmt: skip
        host_env = {
            "HOME": str(self.home),
            # act puts job workspaces under $XDG_CACHE_HOME/act; BentoML refuses paths through hidden
            # folders such as the default ~/.cache (GitHub's workspaces have none).
            "XDG_CACHE_HOME": str(self.home / "cache"),
            "PATH": os.environ["PATH"],
            "LANG": "C.UTF-8",
            "ACT_DISABLE_VERSION_CHECK": "1",  # else act asks the network for notices
            **{k: v for k, v in os.environ.items() if k.endswith(("_NO_ANALYTICS", "_TELEMETRY", "_NOT_TRACK"))},
            # The certificates this machine trusts (a proxy's, here): a job's npm and pip reach their registries.
            **{k: v for k, v in os.environ.items() if k in MACHINE_TRUST},
        }
        return subprocess.run(
            command, cwd=repo, env=host_env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=900
        )


def as_secrets(values: dict[str, str]) -> list[str]:
    """act's arguments passing ``values`` as the run's secrets."""
    return [arg for name, value in values.items() for arg in ("-s", f"{name}={value}")]


def team_runner(team: Stack) -> list[str]:
    """act's arguments for a runner that reaches the team's servers: S3 clients (DVC) find the store's endpoint
    in the environment, as they find AWS's; MLflow's client downloads through the server (``Tracking.env``)."""
    env = {"AWS_ENDPOINT_URL_S3": team.s3.endpoint, **CLIENT_DOWNLOADS}
    return [arg for name, value in env.items() for arg in ("--env", f"{name}={value}")]


def logs_and_artifacts(act: Act, *runs: subprocess.CompletedProcess[str]) -> list[str]:
    """What anyone with read access sees of these runs: their logs and every artifact file."""
    artifacts = (path.read_text(errors="replace") for path in act.artifacts.rglob("*") if path.is_file())
    return [*(run.stdout + run.stderr for run in runs), *artifacts]


def seed_cache(store: Path, key: str, path: str, content: Path, ref: str = "refs/heads/main") -> None:
    """An entry of the cache stand-in, as a run on ``ref`` would have saved ``content`` for the step's ``path``."""
    entry = store / f"seeded-{len(list(store.glob('*'))) if store.exists() else 0}"
    shutil.copytree(content, entry / "files" / "0", copy_function=os.link)
    version = hashlib.sha256(json.dumps([path], separators=(",", ":")).encode()).hexdigest()
    (entry / "meta.json").write_text(json.dumps({"key": key, "ref": ref, "version": version, "created": 0}))


def pull_request_event(number: int, repo: Path, *, private: bool = False, fork: str | None = None) -> dict[str, Any]:
    """The event of pull request ``number`` from ``repo``'s branch: a branch of the repository, or of ``fork``."""
    branch = {"ref": git(repo, "branch", "--show-current").strip(), "sha": head(repo)}
    return {
        "action": "synchronize",
        "number": number,
        "pull_request": {
            "number": number,
            "head": branch | {"repo": {"full_name": fork or REPOSITORY}},
            "base": {"ref": "main"},
        },
        "repository": {"full_name": REPOSITORY, "private": private},
    }


def workflow_run_event(run_id: int, head_sha: str, *, conclusion: str, private: bool = False) -> dict[str, Any]:
    return {
        "action": "completed",
        "workflow_run": {
            "id": run_id,
            "name": "Pull request",
            "event": "pull_request",
            "conclusion": conclusion,
            "head_sha": head_sha,
            "html_url": f"https://github.com/{REPOSITORY}/actions/runs/{run_id}",
            "pull_requests": [],  # as GitHub sends it for a pull request from a fork
        },
        "repository": {"full_name": REPOSITORY, "private": private},
    }


def post_comment(
    act: Act,
    origin: Path,
    folder: Path,
    github: tuple[str, GitHubState],
    cml: str,
    number: int,
    head_sha: str,
    *,
    conclusion: str,
    private: bool = False,
) -> str:
    """Run the comment workflow from main, as GitHub runs workflow_run workflows; return the posted comment."""
    base_url, state = github
    state.heads[number] = head_sha
    event = workflow_run_event(act.run_ids[-1], head_sha, conclusion=conclusion, private=private)
    certificate = str(folder / "standin-cert.pem")
    posted = act.run(
        clone(origin, folder / "main"), "workflow_run", event, "pull-request-comment.yml",
        "-s", f"GITHUB_TOKEN={state.token}", "--env", f"GITHUB_API_URL={base_url}/api/v3", "--env", f"CML={cml}",
        "--env", f"CML_COMMENT_REPO={base_url}/{REPOSITORY}", "--env", f"CML_COMMENT_PUBLISH_URL={base_url}/upload",
        "--env", f"NODE_EXTRA_CA_CERTS={certificate}", "--env", f"SSL_CERT_FILE={certificate}",
    )  # fmt: skip
    assert posted.returncode == 0, posted.stdout[-5000:]
    [comment] = state.comments[number]
    return str(comment["body"])
