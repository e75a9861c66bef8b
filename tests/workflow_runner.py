"""Run the project's real workflow files with act, on this machine, offline (tests and benchmarks).

act runs each job on the host (``-P ubuntu-latest=-self-hosted``) in a copy of the repository it
is started in, including its ``.git``. GitHub's marketplace actions cannot be fetched here, so each
is replaced through ``--local-repository`` by a small composite action under
``tests/workflows/stand-ins/`` (``actions/checkout`` act handles itself). Jobs install the project
with the host's uv from its warm cache, offline, so nothing is downloaded.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import parse_qs

from tests.support import ROOT, copy_project, git

BIN = Path(sys.executable).parent
STAND_INS = ROOT / "tests" / "workflows" / "stand-ins"
WORKFLOWS = ROOT / ".github" / "workflows"
REPOSITORY = "example/gitops-ml"
USES = re.compile(r"uses: ([\w-]+/([\w-]+)@[0-9a-f]{40})")


def stand_in_mappings() -> list[str]:
    """``--local-repository`` for every action the workflows use; a new action without a stand-in fails here."""
    mappings = []
    for action, name in sorted({m.groups() for p in WORKFLOWS.glob("*.yml") for m in USES.finditer(p.read_text())}):
        if name == "checkout":
            continue
        folder = STAND_INS / name
        assert (folder / "action.yml").is_file(), f"{action} has no stand-in under {STAND_INS}"
        mappings += ["--local-repository", f"{action}={folder}"]
    return mappings


def make_origin(folder: Path) -> Path:
    """A bare repository holding the project's main branch: what GitHub would hold."""
    source = copy_project(folder / "source")
    origin = folder / "origin.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(source), str(origin)], check=True)
    return origin


def clone(origin: Path, destination: Path) -> Path:
    """A working clone whose ``origin`` reads as the GitHub repository (act takes the name from it)."""
    subprocess.run(["git", "clone", "-q", str(origin), str(destination)], check=True)
    git(destination, "remote", "set-url", "origin", f"https://github.com/{REPOSITORY}.git")
    return destination


def head(repo: Path) -> str:
    return git(repo, "rev-parse", "HEAD").strip()


@dataclass(frozen=True)
class Act:
    """One act installation: its home, the folder standing in for artifact storage, and extra env."""

    home: Path
    artifacts: Path
    env: dict[str, str]

    @classmethod
    def create(cls, folder: Path, **env: str) -> Act:
        uv = ROOT / ".tools" / "bin" / "uv"
        cache = subprocess.run([uv, "cache", "dir"], check=True, capture_output=True, text=True).stdout.strip()
        defaults = {
            # The host's uv and its package cache, offline: the job's `make setup` installs from uv.lock
            # in about a second and downloads nothing.
            "UV": str(uv),
            "UV_CACHE_DIR": cache,
            "UV_OFFLINE": "1",
            "GIT_PAGER": "cat",
            "STANDIN_ARTIFACTS": str(folder / "artifacts"),
        }
        (folder / "artifacts").mkdir(parents=True, exist_ok=True)
        return cls(home=folder / "home", artifacts=folder / "artifacts", env=defaults | env)

    def run(
        self, repo: Path, event: str, payload: dict[str, Any], workflow: str, *extra: str
    ) -> subprocess.CompletedProcess[str]:
        self.home.mkdir(parents=True, exist_ok=True)
        event_file = self.home / f"{event}.json"
        event_file.write_text(json.dumps(payload))
        command = [
            str(BIN / "act"), event, "-e", str(event_file), "-W", f".github/workflows/{workflow}",
            "-P", "ubuntu-latest=-self-hosted", "--no-cache-server", *stand_in_mappings(),
            *(arg for key, value in self.env.items() for arg in ("--env", f"{key}={value}")), *extra,
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
        }
        return subprocess.run(
            command, cwd=repo, env=host_env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=900
        )


def pull_request_event(number: int, repo: Path, *, private: bool = False) -> dict[str, Any]:
    return {
        "action": "synchronize",
        "number": number,
        "pull_request": {
            "number": number,
            "head": {"ref": git(repo, "branch", "--show-current").strip(), "sha": head(repo)},
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
            "pull_requests": [],  # as GitHub sends it for a pull request from a fork
        },
        "repository": {"full_name": REPOSITORY, "private": private},
    }


class GitHubAPI(BaseHTTPRequestHandler):
    """Stands in for GitHub's REST API (unreachable here): pull requests, releases and issues, in memory.

    Pull requests: set ``heads`` (number -> head commit). Releases: ``releases`` (oldest first, each
    with its ``assets`` as name -> bytes) is what exists and what a run creates. Issues: ``issues``
    (number from 1, each with its ``comments``). ``seen`` records each request's method, path and
    Authorization header.
    """

    heads: ClassVar[dict[int, str]] = {}
    releases: ClassVar[list[dict[str, Any]]] = []
    issues: ClassVar[list[dict[str, Any]]] = []
    seen: ClassVar[list[tuple[str, str, str]]] = []

    def do_GET(self) -> None:
        self._record()
        repo = f"/repos/{REPOSITORY}"
        path = self.path.split("?", 1)[0]
        if path.startswith(f"{repo}/pulls/") and path.rsplit("/", 1)[1].isdigit():
            number = int(path.rsplit("/", 1)[1])
            if number in self.heads:
                return self._send(200, {"number": number, "head": {"sha": self.heads[number]}})
        elif path == f"{repo}/releases/latest" and self.releases:
            return self._send(200, self._describe(self.releases[-1]))
        elif path.startswith(f"{repo}/releases/tags/"):
            for release in self.releases:
                if release["tag_name"] == path.rsplit("/", 1)[1]:
                    return self._send(200, self._describe(release))
        elif path == f"{repo}/issues":
            [label] = parse_qs(self.path.partition("?")[2])["labels"]
            return self._send(200, [i for i in self.issues if i["state"] == "open" and label in i["labels"]])
        elif path.startswith("/assets/"):
            _, _, index, name = path.split("/", 3)
            assets = self.releases[int(index)]["assets"]
            if name in assets:
                return self._send(200, assets[name], content_type="application/octet-stream")
        self._send(404, {"message": "Not Found"})

    def do_POST(self) -> None:
        self._record()
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        path, _, query = self.path.partition("?")
        if path == f"/repos/{REPOSITORY}/releases":
            release = json.loads(body) | {"assets": {}}
            self.releases.append(release)
            return self._send(201, self._describe(release))
        if path == f"/repos/{REPOSITORY}/issues":
            self.issues.append(json.loads(body) | {"number": len(self.issues) + 1, "state": "open", "comments": []})
            return self._send(201, self.issues[-1])
        if path.startswith(f"/repos/{REPOSITORY}/issues/") and path.endswith("/comments"):
            self.issues[int(path.split("/")[-2]) - 1]["comments"].append(json.loads(body)["body"])
            return self._send(201, {})
        if path.startswith("/uploads/") and query.startswith("name="):
            self.releases[int(path.rsplit("/", 1)[1])]["assets"][query.removeprefix("name=")] = body
            return self._send(201, {"state": "uploaded"})
        self._send(404, {"message": "Not Found"})

    def do_PATCH(self) -> None:
        self._record()
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
        path = self.path.split("?", 1)[0]
        if path.startswith(f"/repos/{REPOSITORY}/issues/") and path.rsplit("/", 1)[1].isdigit():
            issue = self.issues[int(path.rsplit("/", 1)[1]) - 1]
            issue.update(body)
            return self._send(200, issue)
        self._send(404, {"message": "Not Found"})

    def _describe(self, release: dict[str, Any]) -> dict[str, Any]:
        index = self.releases.index(release)
        base = f"http://{self.headers['Host']}"
        assets = [{"name": name, "url": f"{base}/assets/{index}/{name}"} for name in release["assets"]]
        fields = {k: v for k, v in release.items() if k != "assets"}
        return fields | {"id": index, "upload_url": f"{base}/uploads/{index}{{?name,label}}", "assets": assets}

    def _record(self) -> None:
        self.seen.append((self.command, self.path, self.headers.get("Authorization", "")))

    def _send(self, status: int, payload: Any, content_type: str = "application/json") -> None:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: Any) -> None:
        pass


@contextmanager
def github_api_server() -> Iterator[tuple[str, type[GitHubAPI]]]:
    """The API stand-in on a free loopback port: (base URL, handler class with fresh heads and seen)."""
    GitHubAPI.heads.clear()
    GitHubAPI.releases.clear()
    GitHubAPI.issues.clear()
    GitHubAPI.seen.clear()
    server = ThreadingHTTPServer(("127.0.0.1", 0), GitHubAPI)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", GitHubAPI
    finally:
        server.shutdown()
