"""A loopback stand-in for GitHub's REST API (api.github.com, API version 2022-11-28), for the workflow tests.

GitHub cannot be reached from these machines. This answers the calls that the project's code and
the real CML 0.20.6 make, and refuses what GitHub refuses, as documented at docs.github.com/rest
and observed of GitHub (see each route):

- every call needs the token (``Authorization: Bearer T`` or ``token T``), else 401 Bad credentials;
- listings are paged: 30 items unless ``per_page`` says otherwise (100 at most), with a ``Link``
  header naming the next page (CML reads only the first page: a stand-in that returned everything
  would hide that);
- a release is found by tag only once published (drafts only by listing); a second release of a tag
  and a second asset of a name answer 422 ``already_exists``; ``latest`` is the release marked so
  (``make_latest``), else the newest published one that is not a pre-release;
- a release asset's API URL answers 302 to a pre-signed storage URL on another host, which refuses
  any request that carries an Authorization header (as GitHub's storage does: 400/403);
- comments are issue comments, oldest first, authored by ``github-actions[bot]`` when posted with
  the run's token;
- ``fail`` makes chosen calls answer an error once, to test what a half-failed run leaves behind;
- files change by the contents API, as commits on a branch: reading needs the branch to exist, a
  change must name the blob sha it replaces (none: 422; another: 409), a branch is created from an
  existing commit only (422 "Reference already exists" for a second) and moved to one only as a
  fast forward unless forced (422 "Update is not a fast forward"); a pull request needs the
  repository setting that lets GitHub Actions open one (off by default: 403), its head branch
  (422), a difference from its base (422 "No commits between"), at most one open per head and base
  (422 "A pull request already exists"), and a body of at most 65,536 characters;
- many files change at once by the git database API: a blob from its content (``utf-8`` or ``base64``), a tree
  of entries on a ``base_tree`` (each a ``path``, a ``mode`` of git's, type ``blob`` and an existing blob's
  ``sha``, or ``sha: null`` to delete), a commit of an existing tree on existing parents (422 for an unknown
  object); a tree that touches ``.github/workflows/`` answers 403 "Resource not accessible by integration"
  unless the token may write workflows (``workflows_writable``: GITHUB_TOKEN never may, a token of one's own
  with the workflows permission may);
- ``/upload`` stands in for CML's asset host (``--publish-url``): no token, the raw file as the body,
  its public URL as the answer's text, or a 500 with ``asset_uploads = "fail"``.

Paths are accepted with or without GitHub Enterprise's ``/api/v3`` prefix: CML derives the API
from the git remote's host and uses ``https://HOST/api/v3`` for any host but github.com, so the
stand-in is also served over HTTPS (a self-signed certificate for 127.0.0.1 and localhost).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import ssl
import subprocess
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

REPOSITORY = "example/gitops-ml"
BOT = "github-actions[bot]"
DEFAULT_PAGE, MAX_PAGE = 30, 100


@dataclass
class GitHubState:
    """What the stand-in holds; tests set it up and read it back."""

    token: str = "token-of-the-run"
    heads: dict[int, str] = field(default_factory=dict)  # pull request number -> head commit
    releases: list[dict[str, Any]] = field(default_factory=list)  # oldest first; assets: name -> bytes
    latest: str | None = None  # tag marked latest by make_latest
    issues: list[dict[str, Any]] = field(default_factory=list)  # number from 1
    comments: dict[int, list[dict[str, Any]]] = field(default_factory=dict)  # issue or PR number -> comments
    passed: set[tuple[str, str]] = field(default_factory=set)  # (workflow file, commit) whose run succeeded
    fail: dict[str, int] = field(default_factory=dict)  # "METHOD /path-regex" -> status, answered once
    seen: list[tuple[str, str, str]] = field(default_factory=list)  # method, path, Authorization
    asset_uploads: str = "ok"  # CML's asset host (/upload): ok | fail
    uploaded: list[str] = field(default_factory=list)  # file names CML published
    branches: dict[str, str] = field(default_factory=dict)  # name -> head commit
    commits: dict[str, dict[str, Any]] = field(default_factory=dict)  # sha -> files, message, parent
    pulls: list[dict[str, Any]] = field(default_factory=list)  # opened through the API
    actions_may_open_pulls: bool = False  # Settings > Actions > "Allow GitHub Actions to create ... pull requests"
    workflows_writable: bool = False  # the token may change .github/workflows/ (GITHUB_TOKEN never may)
    blobs: dict[str, bytes] = field(default_factory=dict)  # sha -> content, made by the git database API
    trees: dict[str, dict[str, bytes]] = field(default_factory=dict)  # sha -> the files it holds
    next_id: int = 1000

    def branch(self, name: str, files: dict[str, bytes], message: str = "as the test set it up") -> str:
        """Set a branch to a commit holding ``files`` (the repository's files that the calls read)."""
        return self._commit(name, files, message)

    def files(self, branch: str) -> dict[str, bytes]:
        return dict(self.commits[self.branches[branch]]["files"])

    def _commit(self, branch: str, files: dict[str, bytes], message: str) -> str:
        parent = self.branches.get(branch)
        sha = hashlib.sha1(f"{parent} {message} {sorted(files.items())}".encode()).hexdigest()
        self.commits[sha] = {"files": dict(files), "message": message, "parent": parent}
        self.branches[branch] = sha
        return sha

    def release(
        self, tag: str, *, draft: bool = False, commit: str = "0" * 40, assets: dict[str, bytes] | None = None
    ) -> dict[str, Any]:
        """Add an existing release (published unless ``draft``), as an earlier run left it."""
        created = {"tag_name": tag, "target_commitish": commit, "draft": draft, "prerelease": False, "body": ""}
        created["assets"] = {name: self._asset(content) for name, content in (assets or {}).items()}
        created["id"] = self._new_id()
        self.releases.append(created)
        return created

    def comment(self, number: int, body: str, user: str = "someone") -> dict[str, Any]:
        posted = {
            "id": self._new_id(),
            "body": body,
            "user": {"login": user, "type": "Bot" if "[bot]" in user else "User"},
        }
        self.comments.setdefault(number, []).append(posted)
        return posted

    def _asset(self, content: bytes) -> dict[str, Any]:
        return {"id": self._new_id(), "content": content, "state": "uploaded"}

    def _new_id(self) -> int:
        self.next_id += 1
        return self.next_id


Route = Callable[["_Handler", re.Match[str], dict[str, list[str]]], None]


class _Handler(BaseHTTPRequestHandler):
    state: GitHubState
    routes: list[tuple[str, re.Pattern[str], Route]]

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PATCH(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        split = urlsplit(self.path)
        path = split.path.removeprefix("/api/v3")
        self.state.seen.append((self.command, self.path, self.headers.get("Authorization", "")))
        self.body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if path.startswith("/storage/"):
            return self._storage(path)
        if path == "/upload" and self.command == "POST":
            return self._asset_host()
        if self.headers.get("Authorization", "").split(" ", 1)[-1] != self.state.token:
            return self._send(401, {"message": "Bad credentials"})
        target = f"{path}?{split.query}" if split.query else path
        for key, status in list(self.state.fail.items()):
            method, pattern = key.split(" ", 1)
            if method == self.command and (re.fullmatch(pattern, path) or re.fullmatch(pattern, target)):
                del self.state.fail[key]
                return self._send(status, {"message": f"Injected failure {status}"})
        for method, pattern, route in self.routes:
            found = pattern.fullmatch(path)
            if method == self.command and found:
                return route(self, found, parse_qs(split.query))
        self._send(404, {"message": "Not Found"})

    # Helpers

    @property
    def base(self) -> str:
        scheme = "https" if isinstance(self.connection, ssl.SSLSocket) else "http"
        return f"{scheme}://{self.headers['Host']}"

    def json_body(self) -> dict[str, Any] | None:
        try:
            parsed = json.loads(self.body or b"null")
        except ValueError:
            return None
        return parsed if isinstance(parsed, dict) else None

    def _send(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self.send_response(status)
        for name, value in ({"Content-Type": "application/json"} | (headers or {})).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _invalid(self, resource: str, field_name: str, code: str = "already_exists") -> None:
        errors = [{"resource": resource, "code": code, "field": field_name}]
        self._send(422, {"message": "Validation Failed", "errors": errors})

    def _page(self, items: list[Any], query: dict[str, list[str]]) -> None:
        per_page = min(int(query.get("per_page", [DEFAULT_PAGE])[0]), MAX_PAGE)
        page = int(query.get("page", ["1"])[0])
        chosen = items[(page - 1) * per_page : page * per_page]
        headers = {}
        if page * per_page < len(items):
            rest = {k: v[0] for k, v in query.items() if k != "page"} | {"page": str(page + 1)}
            headers["Link"] = f'<{self.base}{urlsplit(self.path).path}?{urlencode(rest)}>; rel="next"'
        self._send(200, chosen, headers)

    def _storage(self, path: str) -> None:
        """The storage host a release asset redirects to: pre-signed, so it refuses a second credential."""
        if self.headers.get("Authorization"):
            message = b"<Error><Code>InvalidArgument</Code><Message>Only one auth mechanism allowed</Message></Error>"
            return self._send(400, message, {"Content-Type": "application/xml"})
        asset_id = int(path.rsplit("/", 1)[1])
        for release in self.state.releases:
            for asset in release["assets"].values():
                if asset["id"] == asset_id:
                    return self._send(200, asset["content"], {"Content-Type": "application/octet-stream"})
        self._send(404, b"<Error><Code>NoSuchKey</Code></Error>", {"Content-Type": "application/xml"})

    def _asset_host(self) -> None:
        """CML's asset host (``--publish-url``): the body is the file; the answer's text is its public URL."""
        name = re.search(r'filename="([^"]*)"', self.headers.get("Content-Disposition", ""))
        self.state.uploaded.append(name.group(1) if name else "")
        if self.state.asset_uploads != "ok":
            return self._send(500, b"Internal Server Error", {"Content-Type": "text/plain"})
        digest = hashlib.sha256(self.body).hexdigest()[:16]
        self._send(200, f"https://asset.example/{digest}".encode(), {"Content-Type": "text/plain"})

    def log_message(self, *_: Any) -> None:
        pass


def _describe_release(handler: _Handler, release: dict[str, Any]) -> dict[str, Any]:
    api = f"{handler.base}/repos/{REPOSITORY}"
    assets = [
        {
            "id": asset["id"],
            "name": name,
            "url": f"{api}/releases/assets/{asset['id']}",
            "state": asset["state"],
            "size": len(asset["content"]),
        }
        for name, asset in release["assets"].items()
    ]
    fields = {key: value for key, value in release.items() if key != "assets"}
    upload = f"{handler.base}/uploads/repos/{REPOSITORY}/releases/{release['id']}/assets{{?name,label}}"
    html = f"https://github.com/{REPOSITORY}/releases/tag/{release['tag_name']}"
    return fields | {"upload_url": upload, "assets": assets, "html_url": html}


def _release_by_id(handler: _Handler, release_id: str) -> dict[str, Any] | None:
    return next((r for r in handler.state.releases if r["id"] == int(release_id)), None)


def _latest(state: GitHubState) -> dict[str, Any] | None:
    published = [r for r in state.releases if not r["draft"] and not r["prerelease"]]
    marked = [r for r in published if r["tag_name"] == state.latest]
    return (marked or published[-1:] or [None])[0]


# Routes: pull requests, releases, actions, issues, comments, users.


def get_pull(h: _Handler, m: re.Match[str], q: dict[str, list[str]]) -> None:
    number = int(m["number"])
    opened = [p for p in h.state.pulls if p["number"] == number]
    if opened:
        return h._send(200, _describe_pull(h, opened[0]))
    if number not in h.state.heads:
        return h._send(404, {"message": "Not Found"})
    h._send(200, {"number": number, "head": {"sha": h.state.heads[number]}})


# Files, branches and pull requests opened through the API.


def _blob_sha(content: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()


def get_contents(h: _Handler, m: re.Match[str], q: dict[str, list[str]]) -> None:
    ref = q.get("ref", ["main"])[0]
    if ref not in h.state.branches:
        return h._send(404, {"message": f"No commit found for the ref {ref}"})
    content = h.state.files(ref).get(m["path"])
    if content is None:
        return h._send(404, {"message": "Not Found"})
    encoded = base64.encodebytes(content).decode()  # GitHub's: lines of 60 characters
    h._send(200, {"type": "file", "encoding": "base64", "path": m["path"], "name": m["path"].rsplit("/", 1)[-1],
                  "content": encoded, "sha": _blob_sha(content), "size": len(content)})  # fmt: skip


def put_contents(h: _Handler, m: re.Match[str], q: dict[str, list[str]]) -> None:
    body = h.json_body()
    if body is None or not isinstance(body.get("message"), str) or not isinstance(body.get("content"), str):
        return h._send(422, {"message": 'Invalid request.\n\n"message" and "content" are required.'})
    branch = body.get("branch", "main")
    if branch not in h.state.branches:
        return h._send(404, {"message": f"Branch {branch} not found"})
    files = h.state.files(branch)
    existing = files.get(m["path"])
    if existing is not None and "sha" not in body:
        return h._send(422, {"message": 'Invalid request.\n\n"sha" wasn\'t supplied.'})
    if existing is not None and body["sha"] != _blob_sha(existing):
        return h._send(409, {"message": f"{m['path']} does not match {body['sha']}"})
    files[m["path"]] = base64.b64decode(body["content"])
    commit = h.state._commit(branch, files, body["message"])
    content = {"path": m["path"], "sha": _blob_sha(files[m["path"]])}
    h._send(
        201 if existing is None else 200, {"content": content, "commit": {"sha": commit, "message": body["message"]}}
    )


def get_ref(h: _Handler, m: re.Match[str], q: dict[str, list[str]]) -> None:
    commit = h.state.branches.get(m["branch"])
    if commit is None:
        return h._send(404, {"message": "Not Found"})
    h._send(200, {"ref": f"refs/heads/{m['branch']}", "object": {"sha": commit, "type": "commit"}})


def create_ref(h: _Handler, m: re.Match[str], q: dict[str, list[str]]) -> None:
    body = h.json_body() or {}
    ref, commit = body.get("ref"), body.get("sha")
    if not isinstance(ref, str) or not re.fullmatch(r"refs/[^/]+/.+", ref):
        return h._send(422, {"message": "Reference name is invalid"})
    if commit not in h.state.commits:
        return h._send(422, {"message": "Object does not exist"})
    name = ref.removeprefix("refs/heads/")
    if name in h.state.branches:
        return h._send(422, {"message": "Reference already exists"})
    h.state.branches[name] = commit
    h._send(201, {"ref": ref, "object": {"sha": commit, "type": "commit"}})


def update_ref(h: _Handler, m: re.Match[str], q: dict[str, list[str]]) -> None:
    body = h.json_body() or {}
    if m["branch"] not in h.state.branches:
        return h._send(422, {"message": "Reference does not exist"})
    if body.get("sha") not in h.state.commits:
        return h._send(422, {"message": "Object does not exist"})
    ancestor, found = h.state.branches[m["branch"]], body["sha"]
    while found is not None and found != ancestor:
        found = h.state.commits[found]["parent"]
    if found is None and body.get("force") is not True:
        return h._send(422, {"message": "Update is not a fast forward"})
    h.state.branches[m["branch"]] = body["sha"]
    h._send(200, {"ref": f"refs/heads/{m['branch']}", "object": {"sha": body["sha"], "type": "commit"}})


def _tree_sha(files: dict[str, bytes]) -> str:
    return hashlib.sha1(repr(sorted(files.items())).encode()).hexdigest()


def get_commit(h: _Handler, m: re.Match[str], q: dict[str, list[str]]) -> None:
    commit = h.state.commits.get(m["sha"])
    if commit is None:
        return h._send(404, {"message": "Not Found"})
    tree = _tree_sha(commit["files"])
    h.state.trees[tree] = dict(commit["files"])
    parents = [{"sha": commit["parent"]}] if commit["parent"] else []
    h._send(200, {"sha": m["sha"], "message": commit["message"], "tree": {"sha": tree}, "parents": parents})


def create_blob(h: _Handler, m: re.Match[str], q: dict[str, list[str]]) -> None:
    body = h.json_body() or {}
    content, encoding = body.get("content"), body.get("encoding", "utf-8")
    if not isinstance(content, str) or encoding not in ("utf-8", "base64"):
        return h._send(422, {"message": 'Invalid request.\n\n"content" wasn\'t supplied.'})
    data = base64.b64decode(content) if encoding == "base64" else content.encode()
    sha = _blob_sha(data)
    h.state.blobs[sha] = data
    h._send(201, {"sha": sha})


def create_tree(h: _Handler, m: re.Match[str], q: dict[str, list[str]]) -> None:
    body = h.json_body() or {}
    base = body.get("base_tree")
    if base is not None and base not in h.state.trees:
        return h._send(422, {"message": f"base_tree {base} is not a valid tree"})
    files = dict(h.state.trees[base]) if base else {}
    entries = body.get("tree")
    if not isinstance(entries, list) or not entries:
        return h._send(422, {"message": 'Invalid request.\n\n"tree" wasn\'t supplied.'})
    for entry in entries:
        path, mode, sha = entry.get("path"), entry.get("mode"), entry.get("sha", "")
        if not isinstance(path, str) or path.startswith("/") or mode not in ("100644", "100755", "120000"):
            return h._send(422, {"message": f"tree.path or tree.mode is invalid: {path!r} {mode!r}"})
        if entry.get("type") != "blob":
            return h._send(422, {"message": f"tree.type must be blob for {path}"})
        if path.startswith(".github/workflows/") and not h.state.workflows_writable:
            return h._send(403, {"message": "Resource not accessible by integration"})
        if sha is None:
            files.pop(path, None)
        elif sha in h.state.blobs:
            files[path] = h.state.blobs[sha]
        else:
            return h._send(422, {"message": f"tree.sha {sha} is not a valid blob"})
    tree = _tree_sha(files)
    h.state.trees[tree] = files
    h._send(201, {"sha": tree})


def create_commit(h: _Handler, m: re.Match[str], q: dict[str, list[str]]) -> None:
    body = h.json_body() or {}
    tree, parents, message = body.get("tree"), body.get("parents", []), body.get("message")
    if not isinstance(message, str) or tree not in h.state.trees:
        return h._send(422, {"message": "Tree SHA does not exist" if isinstance(message, str) else "message missing"})
    if not isinstance(parents, list) or len(parents) > 1 or any(p not in h.state.commits for p in parents):
        return h._send(422, {"message": "Parent SHA does not exist or is not a commit object"})
    parent = parents[0] if parents else None
    sha = hashlib.sha1(f"{parent} {message} {tree}".encode()).hexdigest()
    h.state.commits[sha] = {"files": dict(h.state.trees[tree]), "message": message, "parent": parent}
    h._send(201, {"sha": sha, "tree": {"sha": tree}, "parents": [{"sha": p} for p in parents], "message": message})


def _custom(h: _Handler, resource: str, message: str) -> None:
    h._send(
        422, {"message": "Validation Failed", "errors": [{"resource": resource, "code": "custom", "message": message}]}
    )


def _describe_pull(h: _Handler, pull: dict[str, Any]) -> dict[str, Any]:
    html = f"https://github.com/{REPOSITORY}/pull/{pull['number']}"
    head = {"ref": pull["head"], "sha": h.state.branches.get(pull["head"])}
    return pull | {"html_url": html, "head": head, "base": {"ref": pull["base"]}}


def list_pulls(h: _Handler, m: re.Match[str], q: dict[str, list[str]]) -> None:
    owner = REPOSITORY.split("/")[0]
    head, base, state = q.get("head", [None])[0], q.get("base", [None])[0], q.get("state", ["open"])[0]
    found = [
        p for p in h.state.pulls
        if (head is None or f"{owner}:{p['head']}" == head) and (base is None or p["base"] == base)
        and (state == "all" or p["state"] == state)
    ]  # fmt: skip
    h._page([_describe_pull(h, p) for p in found], q)


def create_pull(h: _Handler, m: re.Match[str], q: dict[str, list[str]]) -> None:
    body = h.json_body() or {}
    if not h.state.actions_may_open_pulls:
        return h._send(403, {"message": "GitHub Actions is not permitted to create or approve pull requests."})
    head, base = body.get("head"), body.get("base")
    if head not in h.state.branches or base not in h.state.branches:
        return h._invalid("PullRequest", "head" if head not in h.state.branches else "base", "invalid")
    if len(body.get("body") or "") > 65_536:
        return _custom(h, "Issue", "body is too long (maximum is 65536 characters)")
    if any(p["head"] == head and p["base"] == base and p["state"] == "open" for p in h.state.pulls):
        return _custom(h, "PullRequest", f"A pull request already exists for {REPOSITORY.split('/')[0]}:{head}.")
    if h.state.files(head) == h.state.files(base):
        return _custom(h, "PullRequest", f"No commits between {base} and {head}")
    numbers = [0, *h.state.heads, *(p["number"] for p in h.state.pulls), len(h.state.issues)]
    pull = {"number": max(numbers) + 1, "title": body.get("title", ""), "body": body.get("body") or "",
            "head": head, "base": base, "state": "open"}  # fmt: skip
    h.state.pulls.append(pull)
    h._send(201, _describe_pull(h, pull))


def update_pull(h: _Handler, m: re.Match[str], q: dict[str, list[str]]) -> None:
    found, body = [p for p in h.state.pulls if p["number"] == int(m["number"])], h.json_body()
    if not found or body is None:
        return h._send(404, {"message": "Not Found"})
    if len(body.get("body") or "") > 65_536:
        return _custom(h, "Issue", "body is too long (maximum is 65536 characters)")
    found[0].update({k: v for k, v in body.items() if k in ("title", "body", "state")})
    h._send(200, _describe_pull(h, found[0]))


def list_releases(h: _Handler, m: re.Match[str], q: dict[str, list[str]]) -> None:
    h._page([_describe_release(h, r) for r in reversed(h.state.releases)], q)  # newest first


def latest_release(h: _Handler, m: re.Match[str], q: dict[str, list[str]]) -> None:
    found = _latest(h.state)
    h._send(200, _describe_release(h, found)) if found else h._send(404, {"message": "Not Found"})


def release_by_tag(h: _Handler, m: re.Match[str], q: dict[str, list[str]]) -> None:
    found = [r for r in h.state.releases if r["tag_name"] == m["tag"] and not r["draft"]]  # published only
    h._send(200, _describe_release(h, found[0])) if found else h._send(404, {"message": "Not Found"})


def create_release(h: _Handler, m: re.Match[str], q: dict[str, list[str]]) -> None:
    body = h.json_body()
    if body is None or not isinstance(body.get("tag_name"), str):
        return h._invalid("Release", "tag_name", "missing_field")
    if any(r["tag_name"] == body["tag_name"] for r in h.state.releases):
        return h._invalid("Release", "tag_name")
    release = {"draft": False, "prerelease": False, "target_commitish": "main"} | body | {"assets": {}}
    release["id"] = h.state._new_id()
    release.pop("make_latest", None)
    h.state.releases.append(release)
    if not release["draft"] and body.get("make_latest", "true") == "true":
        h.state.latest = release["tag_name"]
    h._send(201, _describe_release(h, release))


def update_release(h: _Handler, m: re.Match[str], q: dict[str, list[str]]) -> None:
    release, body = _release_by_id(h, m["id"]), h.json_body()
    if release is None or body is None:
        return h._send(
            404 if release is None else 400, {"message": "Not Found" if release is None else "Problems parsing JSON"}
        )
    newly_published = release["draft"] and body.get("draft") is False
    make_latest = body.pop("make_latest", "true" if newly_published else None)
    release.update(body)
    if make_latest == "true":
        if release["draft"] or release["prerelease"]:
            return h._invalid("Release", "make_latest", "invalid")
        h.state.latest = release["tag_name"]
    h._send(200, _describe_release(h, release))


def upload_asset(h: _Handler, m: re.Match[str], q: dict[str, list[str]]) -> None:
    release = _release_by_id(h, m["id"])
    name = q.get("name", [""])[0]
    if release is None:
        return h._send(404, {"message": "Not Found"})
    if not name or not h.headers.get("Content-Type"):
        return h._send(400, {"message": "Bad Content-Type or name"})
    if name in release["assets"]:
        return h._invalid("ReleaseAsset", "name")
    release["assets"][name] = h.state._asset(h.body)
    h._send(201, {"id": release["assets"][name]["id"], "name": name, "state": "uploaded", "size": len(h.body)})


def get_asset(h: _Handler, m: re.Match[str], q: dict[str, list[str]]) -> None:
    asset_id = int(m["id"])
    for release in h.state.releases:
        for name, asset in release["assets"].items():
            if asset["id"] != asset_id:
                continue
            if h.headers.get("Accept") != "application/octet-stream":
                return h._send(200, {"id": asset_id, "name": name, "state": asset["state"]})
            port = h.server.server_address[1]
            storage = f"{h.base.split('://')[0]}://localhost:{port}/storage/{asset_id}?X-Amz-Signature=signed"
            return h._send(302, b"", {"Location": storage})
    h._send(404, {"message": "Not Found"})


def delete_asset(h: _Handler, m: re.Match[str], q: dict[str, list[str]]) -> None:
    for release in h.state.releases:
        for name, asset in list(release["assets"].items()):
            if asset["id"] == int(m["id"]):
                del release["assets"][name]
                return h._send(204, b"")
    h._send(404, {"message": "Not Found"})


def workflow_runs(h: _Handler, m: re.Match[str], q: dict[str, list[str]]) -> None:
    commit = q.get("head_sha", [""])[0]
    runs = [
        {"id": 1, "head_sha": commit, "status": "completed", "conclusion": "success", "event": "push"}
        for workflow, passed in h.state.passed
        if workflow == m["workflow"] and passed == commit
    ]
    h._send(200, {"total_count": len(runs), "workflow_runs": runs})


def list_issues(h: _Handler, m: re.Match[str], q: dict[str, list[str]]) -> None:
    labels = set(q.get("labels", [""])[0].split(",")) - {""}
    state = q.get("state", ["open"])[0]
    found = [i for i in h.state.issues if (state == "all" or i["state"] == state) and labels <= set(i["labels"])]
    h._page(found, q)


def create_issue(h: _Handler, m: re.Match[str], q: dict[str, list[str]]) -> None:
    body = h.json_body()
    if body is None or not isinstance(body.get("title"), str):
        return h._invalid("Issue", "title", "missing_field")
    issue = body | {"number": len(h.state.issues) + 1, "state": "open"}
    h.state.issues.append(issue)
    h._send(201, issue)


def update_issue(h: _Handler, m: re.Match[str], q: dict[str, list[str]]) -> None:
    number, body = int(m["number"]), h.json_body()
    if not 1 <= number <= len(h.state.issues) or body is None:
        return h._send(404, {"message": "Not Found"})
    h.state.issues[number - 1].update(body)
    h._send(200, h.state.issues[number - 1])


def _comment_json(h: _Handler, number: int, comment: dict[str, Any]) -> dict[str, Any]:
    html = f"{h.base.replace('://', '://web.')}/{REPOSITORY}/pull/{number}#issuecomment-{comment['id']}"
    return comment | {"html_url": html}


def list_comments(h: _Handler, m: re.Match[str], q: dict[str, list[str]]) -> None:
    number = int(m["number"])
    h._page([_comment_json(h, number, c) for c in h.state.comments.get(number, [])], q)


def create_comment(h: _Handler, m: re.Match[str], q: dict[str, list[str]]) -> None:
    number, body = int(m["number"]), h.json_body()
    if number not in h.state.heads and not 1 <= number <= len(h.state.issues):
        return h._send(404, {"message": "Not Found"})
    if body is None or not isinstance(body.get("body"), str):
        return h._invalid("IssueComment", "body", "missing_field")
    h._send(201, _comment_json(h, number, h.state.comment(number, body["body"], BOT)))


def _find_comment(h: _Handler, comment_id: int) -> tuple[int, dict[str, Any]] | None:
    for number, comments in h.state.comments.items():
        for comment in comments:
            if comment["id"] == comment_id:
                return number, comment
    return None


def update_comment(h: _Handler, m: re.Match[str], q: dict[str, list[str]]) -> None:
    found, body = _find_comment(h, int(m["id"])), h.json_body()
    if found is None:
        return h._send(404, {"message": "Not Found"})
    if body is None or not isinstance(body.get("body"), str):
        return h._invalid("IssueComment", "body", "missing_field")
    found[1]["body"] = body["body"]
    h._send(200, _comment_json(h, *found))


def delete_comment(h: _Handler, m: re.Match[str], q: dict[str, list[str]]) -> None:
    found = _find_comment(h, int(m["id"]))
    if found is None:
        return h._send(404, {"message": "Not Found"})
    h.state.comments[found[0]].remove(found[1])
    h._send(204, b"")


def get_user(h: _Handler, m: re.Match[str], q: dict[str, list[str]]) -> None:
    h._send(200, {"login": m["user"], "id": 1, "type": "Bot" if "[bot]" in m["user"] else "User"})


_REPO = f"/repos/{re.escape(REPOSITORY)}"
ROUTES: list[tuple[str, str, Route]] = [
    ("GET", rf"{_REPO}/pulls/(?P<number>\d+)", get_pull),
    ("PATCH", rf"{_REPO}/pulls/(?P<number>\d+)", update_pull),
    ("GET", rf"{_REPO}/pulls", list_pulls),
    ("POST", rf"{_REPO}/pulls", create_pull),
    ("GET", rf"{_REPO}/contents/(?P<path>.+)", get_contents),
    ("PUT", rf"{_REPO}/contents/(?P<path>.+)", put_contents),
    ("GET", rf"{_REPO}/git/commits/(?P<sha>[0-9a-f]{{40}})", get_commit),
    ("POST", rf"{_REPO}/git/blobs", create_blob),
    ("POST", rf"{_REPO}/git/trees", create_tree),
    ("POST", rf"{_REPO}/git/commits", create_commit),
    ("GET", rf"{_REPO}/git/ref/heads/(?P<branch>.+)", get_ref),
    ("POST", rf"{_REPO}/git/refs", create_ref),
    ("PATCH", rf"{_REPO}/git/refs/heads/(?P<branch>.+)", update_ref),
    ("GET", rf"{_REPO}/releases", list_releases),
    ("GET", rf"{_REPO}/releases/latest", latest_release),
    ("GET", rf"{_REPO}/releases/tags/(?P<tag>[^/]+)", release_by_tag),
    ("POST", rf"{_REPO}/releases", create_release),
    ("PATCH", rf"{_REPO}/releases/(?P<id>\d+)", update_release),
    ("POST", rf"/uploads{_REPO}/releases/(?P<id>\d+)/assets", upload_asset),
    ("GET", rf"{_REPO}/releases/assets/(?P<id>\d+)", get_asset),
    ("DELETE", rf"{_REPO}/releases/assets/(?P<id>\d+)", delete_asset),
    ("GET", rf"{_REPO}/actions/workflows/(?P<workflow>[\w.-]+)/runs", workflow_runs),
    ("GET", rf"{_REPO}/issues", list_issues),
    ("POST", rf"{_REPO}/issues", create_issue),
    ("PATCH", rf"{_REPO}/issues/(?P<number>\d+)", update_issue),
    ("GET", rf"{_REPO}/issues/(?P<number>\d+)/comments", list_comments),
    ("POST", rf"{_REPO}/issues/(?P<number>\d+)/comments", create_comment),
    ("PATCH", rf"{_REPO}/issues/comments/(?P<id>\d+)", update_comment),
    ("DELETE", rf"{_REPO}/issues/comments/(?P<id>\d+)", delete_comment),
    ("GET", r"/users/(?P<user>[^/]*)", get_user),
]


def self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and localhost (give node ``NODE_EXTRA_CA_CERTS`` = the certificate)."""
    cert, key = folder / "standin-cert.pem", folder / "standin-key.pem"
    if not cert.is_file():
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost",
             "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
            check=True, capture_output=True,
        )  # fmt: skip
    return cert, key


@contextmanager
def github_api(state: GitHubState | None = None, tls_folder: Path | None = None) -> Iterator[tuple[str, GitHubState]]:
    """Serve the stand-in on a free loopback port: (base URL, state). HTTPS when ``tls_folder`` is given."""
    state = state or GitHubState()
    handler = type("Handler", (_Handler,), {"state": state, "routes": [(m, re.compile(p), r) for m, p, r in ROUTES]})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    scheme = "http"
    if tls_folder is not None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*self_signed_certificate(tls_folder))
        server.socket = context.wrap_socket(server.socket, server_side=True)
        scheme = "https"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"{scheme}://127.0.0.1:{server.server_address[1]}", state
    finally:
        server.shutdown()
        server.server_close()
