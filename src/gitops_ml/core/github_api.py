"""The few GitHub REST calls of the release and drift workflows, with the run's token (standard library only).

``GITHUB_API_URL``, ``GITHUB_REPOSITORY`` and ``GITHUB_TOKEN`` come from GitHub Actions; the tests
point ``GITHUB_API_URL`` at a loopback stand-in.
"""

from __future__ import annotations

import base64
import json
import os
import re
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gitops_ml.core.errors import PipelineError

PAGE_SIZE = 100  # GitHub's largest page
NEXT_PAGE = re.compile(r'<([^>]+)>;\s*rel="next"')


def workflow_run_url() -> str | None:
    """The URL of the GitHub Actions run this process is part of (from the runner's variables), if any."""
    server, repository, run_id = (
        os.environ.get(k) for k in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID")
    )
    return f"{server}/{repository}/actions/runs/{run_id}" if server and repository and run_id else None


class GitHubError(PipelineError):
    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class _NoTokenAcrossHosts(urllib.request.HTTPRedirectHandler):
    """Follow a redirect without the Authorization header when it leaves the API's host.

    A release asset answers 302 to a pre-signed storage URL; urllib would send the token along,
    which leaks it to the storage host and makes that host refuse the request.
    """

    def redirect_request(
        self, req: urllib.request.Request, fp: Any, code: int, msg: str, headers: Any, newurl: str
    ) -> urllib.request.Request | None:
        redirected = super().redirect_request(req, fp, code, msg, headers, newurl)
        if (
            redirected is not None
            and urllib.parse.urlsplit(newurl).netloc != urllib.parse.urlsplit(req.full_url).netloc
        ):
            redirected.remove_header("Authorization")
        return redirected


_OPENER = urllib.request.build_opener(_NoTokenAcrossHosts)


@dataclass(frozen=True)
class GitHub:
    api_url: str
    repository: str
    token: str

    @classmethod
    def from_environment(cls) -> GitHub:
        missing = [name for name in ("GITHUB_REPOSITORY", "GITHUB_TOKEN") if not os.environ.get(name)]
        if missing:
            raise PipelineError(f"{', '.join(missing)}: not set (GitHub Actions sets them; pass the token as env)")
        api_url = os.environ.get("GITHUB_API_URL", "https://api.github.com").rstrip("/")
        return cls(api_url, os.environ["GITHUB_REPOSITORY"], os.environ["GITHUB_TOKEN"])

    # Releases

    def latest_release(self) -> dict[str, Any] | None:
        """The release marked latest (published, not a pre-release), or None before the first one."""
        latest: dict[str, Any] | None = self._json("GET", f"/repos/{self.repository}/releases/latest", missing_ok=True)
        return latest

    def release(self, tag: str) -> dict[str, Any] | None:
        """The release of ``tag``, drafts included (GitHub finds drafts by listing, not by tag; needs push access)."""
        return next(
            (found for found in self._pages(f"/repos/{self.repository}/releases") if found["tag_name"] == tag), None
        )

    def asset(self, release: dict[str, Any], name: str) -> bytes | None:
        """The content of the release's asset called ``name``, or None if it has none."""
        for asset in release.get("assets", []):
            if asset["name"] == name:
                return self._body("GET", asset["url"], accept="application/octet-stream")
        return None

    def create_release(self, tag: str, commit: str, body: str) -> dict[str, Any]:
        """A draft: assets are added before anyone sees it (and before an immutable release would refuse them)."""
        payload = {"tag_name": tag, "target_commitish": commit, "name": tag, "body": body, "draft": True}
        created: dict[str, Any] = self._json("POST", f"/repos/{self.repository}/releases", payload)
        return created

    def update_release(self, release: dict[str, Any], **fields: Any) -> dict[str, Any]:
        updated: dict[str, Any] = self._json("PATCH", f"/repos/{self.repository}/releases/{release['id']}", fields)
        return updated

    def upload_asset(self, release: dict[str, Any], path: Path, content_type: str) -> None:
        upload_url = release["upload_url"].split("{", 1)[0]  # a URI template: {?name,label}
        query = urllib.parse.urlencode({"name": path.name})
        self._body("POST", f"{upload_url}?{query}", path.read_bytes(), content_type=content_type)

    def delete_asset(self, asset: dict[str, Any]) -> None:
        self._body("DELETE", asset["url"])

    # Files, branches and pull requests: a change proposed without git credentials in the job

    def file(self, path: str, ref: str) -> tuple[str, str]:
        """The text of ``path`` on branch ``ref`` and its blob sha (which a change to it must name)."""
        quoted = urllib.parse.quote(path)
        found = self._json("GET", f"/repos/{self.repository}/contents/{quoted}?ref={urllib.parse.quote(ref)}")
        if not isinstance(found, dict) or found.get("type") != "file":
            raise PipelineError(f"{path} on {ref}: not a file in {self.repository}")
        return base64.b64decode(found["content"]).decode(), str(found["sha"])

    def put_file(self, path: str, text: str, blob: str, branch: str, message: str) -> str:
        """Commit ``text`` as ``path`` on ``branch`` in place of blob ``blob``; return the new commit's sha."""
        payload = {"message": message, "content": base64.b64encode(text.encode()).decode(), "sha": blob,
                   "branch": branch}  # fmt: skip
        done = self._json("PUT", f"/repos/{self.repository}/contents/{urllib.parse.quote(path)}", payload)
        return str(done["commit"]["sha"])

    def commit(self, parent: str, changes: dict[str, tuple[str, bytes] | None], message: str) -> str:
        """A commit on top of ``parent`` changing many files at once (``path: (mode, bytes)``, or None to delete
        one), made with the git database API; its sha. A branch still has to point at it."""
        tree = self._json("GET", f"/repos/{self.repository}/git/commits/{parent}")["tree"]["sha"]
        entries: list[dict[str, Any]] = []
        for path, change in sorted(changes.items()):
            if change is None:
                entries.append({"path": path, "mode": "100644", "type": "blob", "sha": None})
                continue
            mode, content = change
            blob = self._json("POST", f"/repos/{self.repository}/git/blobs",
                              {"content": base64.b64encode(content).decode(), "encoding": "base64"})  # fmt: skip
            entries.append({"path": path, "mode": mode, "type": "blob", "sha": blob["sha"]})
        made = self._json("POST", f"/repos/{self.repository}/git/trees", {"base_tree": tree, "tree": entries})
        payload = {"message": message, "tree": made["sha"], "parents": [parent]}
        return str(self._json("POST", f"/repos/{self.repository}/git/commits", payload)["sha"])

    def branch_head(self, branch: str) -> str:
        return str(self._json("GET", self._ref(branch, "ref"))["object"]["sha"])

    def branch_exists(self, branch: str) -> bool:
        return self._json("GET", self._ref(branch, "ref"), missing_ok=True) is not None

    def create_branch(self, branch: str, commit: str) -> None:
        self._json("POST", f"/repos/{self.repository}/git/refs", {"ref": f"refs/heads/{branch}", "sha": commit})

    def move_branch(self, branch: str, commit: str) -> None:
        """Point ``branch`` at ``commit``, whatever it held (a forced update)."""
        self._json("PATCH", self._ref(branch, "refs"), {"sha": commit, "force": True})

    def _ref(self, branch: str, route: str) -> str:
        """A branch's path in the git database API: read under ``ref/``, updated under ``refs/`` (GitHub's routes)."""
        return f"/repos/{self.repository}/git/{route}/heads/{urllib.parse.quote(branch)}"

    def open_pull_request(self, head: str, base: str, title: str, body: str) -> dict[str, Any]:
        """The open pull request from branch ``head``, its title and body brought up to date, or a new one."""
        owner = self.repository.split("/", 1)[0]
        query = urllib.parse.urlencode({"head": f"{owner}:{head}", "base": base, "state": "open"})
        for found in self._pages(f"/repos/{self.repository}/pulls?{query}"):
            updated: dict[str, Any] = self._json(
                "PATCH", f"/repos/{self.repository}/pulls/{found['number']}", {"title": title, "body": body}
            )
            return updated
        payload = {"title": title, "head": head, "base": base, "body": body}
        created: dict[str, Any] = self._json("POST", f"/repos/{self.repository}/pulls", payload)
        return created

    # Actions

    def workflow_succeeded(self, workflow_file: str, commit: str) -> bool:
        """Whether a run of ``workflow_file`` for ``commit`` succeeded (needs ``actions: read``)."""
        query = urllib.parse.urlencode({"head_sha": commit, "status": "success", "per_page": 1})
        found = self._json("GET", f"/repos/{self.repository}/actions/workflows/{workflow_file}/runs?{query}")
        return any(
            run.get("conclusion") == "success" and run.get("head_sha") == commit for run in found["workflow_runs"]
        )

    # Issues

    def open_issues(self, label: str) -> list[dict[str, Any]]:
        """Open issues (not pull requests) carrying ``label``, oldest first."""
        query = urllib.parse.urlencode({"state": "open", "labels": label, "direction": "asc"})
        found = self._pages(f"/repos/{self.repository}/issues?{query}")
        return [issue for issue in found if "pull_request" not in issue]

    def create_issue(self, title: str, body: str, labels: list[str]) -> dict[str, Any]:
        payload = {"title": title, "body": body, "labels": labels}
        created: dict[str, Any] = self._json("POST", f"/repos/{self.repository}/issues", payload)
        return created

    def update_issue(self, number: int, body: str) -> None:
        self._json("PATCH", f"/repos/{self.repository}/issues/{number}", {"body": body})

    def comment(self, number: int, body: str) -> None:
        self._json("POST", f"/repos/{self.repository}/issues/{number}/comments", {"body": body})

    def comments(self, number: int) -> list[dict[str, Any]]:
        """Every comment of an issue or pull request, oldest first (all pages)."""
        return self._pages(f"/repos/{self.repository}/issues/{number}/comments")

    def delete_comment(self, comment_id: int) -> None:
        self._body("DELETE", f"{self.api_url}/repos/{self.repository}/issues/comments/{comment_id}")

    def pull_request(self, number: int) -> dict[str, Any]:
        found: dict[str, Any] = self._json("GET", f"/repos/{self.repository}/pulls/{number}")
        return found

    # Transport

    def _pages(self, path: str) -> list[dict[str, Any]]:
        """Every item of a listing, following GitHub's ``Link: rel="next"`` headers."""
        separator = "&" if "?" in path else "?"
        url: str | None = f"{self.api_url}{path}{separator}per_page={PAGE_SIZE}"
        items: list[dict[str, Any]] = []
        while url:
            body, link = self._request("GET", url)
            items += json.loads(body)
            found = NEXT_PAGE.search(link)
            url = found.group(1) if found else None
        return items

    def _json(self, method: str, path: str, payload: Any = None, *, missing_ok: bool = False) -> Any:
        data = json.dumps(payload).encode() if payload is not None else None
        try:
            body = self._body(method, self.api_url + path, data, content_type="application/json")
        except GitHubError as error:
            if missing_ok and error.status == 404:
                return None
            raise
        return json.loads(body)

    def _body(self, method: str, url: str, data: bytes | None = None, **headers: str) -> bytes:
        return self._request(method, url, data, **headers)[0]

    def _request(
        self,
        method: str,
        url: str,
        data: bytes | None = None,
        *,
        content_type: str = "application/json",
        accept: str = "application/vnd.github+json",
    ) -> tuple[bytes, str]:
        """The response body and its Link header."""
        headers = {"Authorization": f"Bearer {self.token}", "Accept": accept, "X-GitHub-Api-Version": "2022-11-28"}
        if data is not None:
            headers["Content-Type"] = content_type
        request = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with _OPENER.open(request, timeout=60) as response:
                content: bytes = response.read()
                return content, response.headers.get("Link", "")
        except urllib.error.HTTPError as error:
            detail = error.read()[:500].decode(errors="replace")
            raise GitHubError(
                f"GitHub API {method} {url}: {error.code} {error.reason} {detail}".strip(), error.code
            ) from error
        except urllib.error.URLError as error:
            raise GitHubError(f"GitHub API {method} {url}: {error.reason}", 0) from error
