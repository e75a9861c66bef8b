"""The few GitHub REST calls of the release and drift workflows, with the run's token (standard library only).

``GITHUB_API_URL``, ``GITHUB_REPOSITORY`` and ``GITHUB_TOKEN`` come from GitHub Actions; the tests
point ``GITHUB_API_URL`` at a loopback stand-in.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gitops_ml.errors import PipelineError


class GitHubError(PipelineError):
    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


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

    def latest_release(self) -> dict[str, Any] | None:
        """The newest published release, or None before the first one."""
        latest: dict[str, Any] | None = self._json("GET", f"/repos/{self.repository}/releases/latest", missing_ok=True)
        return latest

    def release(self, tag: str) -> dict[str, Any] | None:
        found: dict[str, Any] | None = self._json(
            "GET", f"/repos/{self.repository}/releases/tags/{tag}", missing_ok=True
        )
        return found

    def asset(self, release: dict[str, Any], name: str) -> bytes | None:
        """The content of the release's asset called ``name``, or None if it has none."""
        for asset in release.get("assets", []):
            if asset["name"] == name:
                return self._call("GET", asset["url"], accept="application/octet-stream")
        return None

    def create_release(self, tag: str, commit: str, name: str, body: str) -> dict[str, Any]:
        payload = {"tag_name": tag, "target_commitish": commit, "name": name, "body": body, "make_latest": "true"}
        created: dict[str, Any] = self._json("POST", f"/repos/{self.repository}/releases", payload)
        return created

    def upload_asset(self, release: dict[str, Any], path: Path, content_type: str) -> None:
        upload_url = release["upload_url"].split("{", 1)[0]  # a URI template: {?name,label}
        self._call("POST", f"{upload_url}?name={path.name}", path.read_bytes(), content_type=content_type)

    def open_issues(self, label: str) -> list[dict[str, Any]]:
        """Open issues (not pull requests) carrying ``label``, newest first (the first 100)."""
        found = self._json("GET", f"/repos/{self.repository}/issues?state=open&labels={label}&per_page=100")
        return [issue for issue in found or [] if "pull_request" not in issue]

    def create_issue(self, title: str, body: str, labels: list[str]) -> dict[str, Any]:
        payload = {"title": title, "body": body, "labels": labels}
        created: dict[str, Any] = self._json("POST", f"/repos/{self.repository}/issues", payload)
        return created

    def update_issue(self, number: int, body: str) -> None:
        self._json("PATCH", f"/repos/{self.repository}/issues/{number}", {"body": body})

    def comment(self, number: int, body: str) -> None:
        self._json("POST", f"/repos/{self.repository}/issues/{number}/comments", {"body": body})

    def _json(self, method: str, path: str, payload: Any = None, *, missing_ok: bool = False) -> Any:
        data = json.dumps(payload).encode() if payload is not None else None
        try:
            body = self._call(method, self.api_url + path, data, content_type="application/json")
        except GitHubError as error:
            if missing_ok and error.status == 404:
                return None
            raise
        return json.loads(body)

    def _call(
        self,
        method: str,
        url: str,
        data: bytes | None = None,
        *,
        content_type: str = "application/json",
        accept: str = "application/vnd.github+json",
    ) -> bytes:
        headers = {"Authorization": f"Bearer {self.token}", "Accept": accept, "X-GitHub-Api-Version": "2022-11-28"}
        if data is not None:
            headers["Content-Type"] = content_type
        request = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                content: bytes = response.read()
                return content
        except urllib.error.HTTPError as error:
            raise GitHubError(f"GitHub API {method} {url}: {error.code} {error.reason}", error.code) from error
        except urllib.error.URLError as error:
            raise GitHubError(f"GitHub API {method} {url}: {error.reason}", 0) from error
