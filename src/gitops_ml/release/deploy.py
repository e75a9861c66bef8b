"""Deploy through git: an environment runs the image its overlay pins, and moves only by a change to it.

``deploy/overlays/<environment>/kustomization.yaml`` pins the release image by digest (its tag is
kept beside it for people; Kubernetes pulls by the digest). Argo CD syncs each overlay from
``main``, so no workflow holds cluster credentials: they change the overlay, by a pull request (or
a commit), which ``gitops_ml.release.promotion`` words. The change is made with GitHub's contents
API (no git credentials in the job), on a branch named after the environment and the release, so
a re-run updates the same branch and pull request.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from gitops_ml import NAME
from gitops_ml.core.errors import PipelineError
from gitops_ml.core.github_api import GitHub, GitHubError

ENVIRONMENTS = ("staging", "production")
IMAGE_NAME = NAME  # the logical name deploy/base uses; each overlay's `images:` maps it
IMAGE_FILE = "image.json"  # the release asset naming the pushed image's digest
DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
VERSION = re.compile(
    r"^v\d{4}\.\d{2}\.\d{2}-g?[0-9a-f]{7}$"
)  # a release's tag, as gitops_ml.release.steps names it (before the g: earlier releases)
BASE_BRANCH = "main"
MAX_BODY = 65_536


@dataclass(frozen=True)
class Pin:
    """The image an overlay runs: repository, the release tag (for people) and the digest (what is pulled)."""

    repository: str
    tag: str | None
    digest: str

    @classmethod
    def from_json(cls, text: str | bytes, where: str) -> Pin:
        try:
            found = json.loads(text)
            pin = cls(found["repository"], found["tag"], found["digest"])
        except (ValueError, KeyError, TypeError) as error:
            raise PipelineError(
                f"{where}: not an image record ({error}); expected repository, tag and digest"
            ) from None
        if not DIGEST.match(pin.digest):
            raise PipelineError(f"{where}: digest {pin.digest!r} is not sha256:<64 hex digits>")
        return pin

    def to_json(self) -> str:
        return json.dumps({"repository": self.repository, "tag": self.tag, "digest": self.digest}, indent=2) + "\n"

    @property
    def reference(self) -> str:
        return f"{self.repository}{f':{self.tag}' if self.tag else ''}@{self.digest}"


def overlay(environment: str) -> Path:
    if environment not in ENVIRONMENTS:
        raise PipelineError(f"environment: {environment!r} is not one of {', '.join(ENVIRONMENTS)}")
    return Path("deploy") / "overlays" / environment / "kustomization.yaml"


def read_pin(text: str, where: str) -> Pin:
    """The pin of ``IMAGE_NAME`` in a kustomization."""
    entry = _image_entry(yaml.safe_load(text), where)
    digest = entry.get("digest")
    if not isinstance(digest, str) or not DIGEST.match(digest):
        raise PipelineError(
            f"{where}: images[name={IMAGE_NAME}].digest: expected sha256:<64 hex digits>, got {digest!r}"
        )
    tag = entry.get("newTag")
    return Pin(str(entry.get("newName", IMAGE_NAME)), str(tag) if tag is not None else None, digest)


def pinned(text: str, pin: Pin, where: str) -> str:
    """The kustomization with ``IMAGE_NAME`` pinned to ``pin``; every other line (comments too) as it was."""
    before = yaml.safe_load(text)
    _image_entry(before, where)
    lines = text.splitlines(keepends=True)
    start = next(i for i, line in enumerate(lines) if re.match(r"^images\s*:", line))
    end = next(
        (i for i in range(start + 1, len(lines)) if lines[i].strip() and not lines[i][0].isspace()
         and not lines[i].startswith("- ")),
        len(lines),
    )  # fmt: skip
    others = [e for e in before["images"] if e.get("name") != IMAGE_NAME]
    entries = [{"name": IMAGE_NAME, "newName": pin.repository, **({"newTag": pin.tag} if pin.tag else {}),
                "digest": pin.digest}, *others]  # fmt: skip
    block = yaml.safe_dump({"images": entries}, sort_keys=False, default_flow_style=False)
    block = re.sub(r"(?m)^(- |  )", r"  \1", block)  # kustomize's indentation: the list under the key
    after_text = "".join(lines[:start]) + block + "".join(lines[end:])
    after = yaml.safe_load(after_text)
    if {k: v for k, v in after.items() if k != "images"} != {k: v for k, v in before.items() if k != "images"}:
        raise PipelineError(f"{where}: could not change only `images:`; edit it by hand")
    return after_text


def published(github: GitHub, tag: str, context: str) -> dict[str, Any]:
    """The published release ``tag`` (a draft is not deployable: its assets may be half uploaded)."""
    if not VERSION.match(tag):
        raise PipelineError(f"{context}: {tag!r} is not a release version (like v2026.11.25-g1a2b3c4)")
    release = github.release(tag)
    if release is None or release.get("draft"):
        raise PipelineError(f"{context}: no published release {tag} in {github.repository}")
    return release


def release_pin(github: GitHub, release: dict[str, Any]) -> Pin:
    """The image a release pushed, from its ``image.json`` asset."""
    stored = github.asset(release, IMAGE_FILE)
    if stored is None:
        raise PipelineError(f"release {release['tag_name']} has no {IMAGE_FILE} asset: it was released before images "
                            "were recorded by digest; release again, or pin it by hand")  # fmt: skip
    return Pin.from_json(stored, f"release {release['tag_name']}: {IMAGE_FILE}")


def _image_entry(document: Any, where: str) -> dict[str, Any]:
    images = document.get("images") if isinstance(document, dict) else None
    found = [e for e in images or [] if isinstance(e, dict) and e.get("name") == IMAGE_NAME]
    if len(found) != 1:
        raise PipelineError(f"{where}: expected one `images:` entry named {IMAGE_NAME!r} (deploy/README.md)")
    return found[0]


@dataclass(frozen=True)
class Change:
    """A change of one environment's pin, and the words that go with it."""

    environment: str
    pin: Pin
    branch: str
    title: str
    body: str


def open_change(github: GitHub, change: Change, *, commit_directly: bool = False) -> str:
    """Open (or update) the pull request making ``change``, or commit it to main; return its URL or commit."""
    path = str(overlay(change.environment))
    current, blob = github.file(path, BASE_BRANCH)
    new_text = pinned(current, change.pin, f"{BASE_BRANCH}:{path}")
    if commit_directly:
        if new_text == current:
            print(f"deploy: {change.environment} pins {change.pin.reference} already")
            return BASE_BRANCH
        commit = github.put_file(path, new_text, blob, BASE_BRANCH, change.title)
        print(f"deploy: committed {change.title} to {BASE_BRANCH} ({commit[:7]})")
        return commit
    if new_text == current:
        raise PipelineError(f"{change.environment} runs {change.pin.reference} already: nothing to change")
    # The branch is this tool's: it starts again from main's head at every run, so that the change never
    # conflicts with what main holds by then (an earlier run's branch may be behind a rollback merged since).
    head = github.branch_head(BASE_BRANCH)
    if github.branch_exists(change.branch):
        github.move_branch(change.branch, head)
    else:
        github.create_branch(change.branch, head)
    github.put_file(path, new_text, blob, change.branch, change.title)
    try:
        pull = github.open_pull_request(change.branch, BASE_BRANCH, change.title, _fitted(change.body))
    except GitHubError as error:
        if error.status != 403:
            raise
        raise PipelineError(
            f"{error} The change is on branch {change.branch}. Let the workflow open pull requests: Settings > "
            "Actions > General > Workflow permissions > 'Allow GitHub Actions to create and approve pull requests' "
            "(docs/releases.md)"
        ) from None
    print(f"deploy: {pull['html_url']} ({change.title})")
    return str(pull["html_url"])


def _fitted(body: str) -> str:
    """GitHub refuses a pull request body over 65,536 characters."""
    if len(body) <= MAX_BODY:
        return body
    cut = "\n\n(cut: the rest is in the workflow run's log)\n"
    return body[: MAX_BODY - len(cut)] + cut
