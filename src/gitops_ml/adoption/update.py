"""The template's newer releases, brought to a project as one pull request, as Dependabot brings dependencies.

``copier update`` re-renders the project from the template's newest release and merges the change in, three
ways: a platform file takes the template's new lines wherever the team left it alone, and where both changed
the same lines it keeps both between conflict markers (Copier's ``<<<<<<< before updating``). The team's own
files (data, results, suites, the intended use) are no template's, and ``params.yaml``'s values and the README
are the team's edits on the template's lines: Copier merges into them, it never writes over them.

In CI (``GITHUB_TOKEN`` set) the change becomes one commit on the branch ``template-update`` and one pull
request, updated by the next run and left alone when the project is up to date; conflicts are named in its
body, and its checks fail until they are resolved. Without a token the work tree is updated in place.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from packaging.version import InvalidVersion, Version

from gitops_ml.core.errors import PipelineError
from gitops_ml.core.git import git
from gitops_ml.core.github_api import GitHub, GitHubError

ANSWERS = Path(".copier-answers.yml")
# A template on GitHub, as Copier takes its address: gh:owner/name, or its https or ssh URL.
GITHUB_SOURCE = re.compile(
    r"^(?:gh:|https://github\.com/|git@github\.com:)(?P<repository>[\w.-]+/[\w.-]+?)(?:\.git)?/?$"
)
BRANCH = "template-update"
BASE = "main"
WORKFLOWS = ".github/workflows/"


@dataclass(frozen=True)
class Update:
    """What ``copier update`` did to the work tree: from which release to which, the files it changed (deleted ones
    included) and those where the team's lines and the template's meet (conflict markers left in)."""

    source: str
    before: str
    after: str
    changed: tuple[str, ...]
    conflicts: tuple[str, ...]

    def title(self) -> str:
        return f"Template update: {self.before} -> {self.after}"

    def body(self) -> str:
        lines = [
            f"Brings the template ({self.source}) from {self.before} to {self.after} with `copier update`: "
            f"{len(self.changed)} files changed. The project's data, results, suites and intended use are not the "
            "template's and stay as they are; `params.yaml` and the README keep the team's values and text, the "
            "template's changes merged in around them.",
            "",
        ]
        if self.conflicts:
            lines += [
                f"**{len(self.conflicts)} files need a decision**: the team and the template changed the same lines. "
                "Each holds both versions between `<<<<<<< before updating` and `>>>>>>> after updating`; keep what "
                "is right, remove the markers and push to this branch. The checks fail until then.",
                "",
                *(f"- `{path}`" for path in self.conflicts),
                "",
            ]
        lines += ["Changed files:", "", *(f"- `{path}`" for path in self.changed[:200])]
        if len(self.changed) > 200:
            lines.append(f"- and {len(self.changed) - 200} more")
        github = GITHUB_SOURCE.match(self.source)
        if github:
            url = f"https://github.com/{github['repository']}"
            lines += ["", f"What changed: [the release notes]({url}/releases/tag/{self.after}), "
                          f"[every commit]({url}/compare/{self.before}...{self.after})."]  # fmt: skip
        return "\n".join(lines)


def answers() -> dict[str, Any]:
    """The project's ``.copier-answers.yml`` (where it came from and at which release), or an empty mapping."""
    if not ANSWERS.is_file():
        return {}
    found = yaml.safe_load(ANSWERS.read_text()) or {}
    return found if isinstance(found, dict) else {}


def release_of(ref: str) -> Version | None:
    """The release a recorded ``_commit`` stands for: ``v1.2.0``, or ``v1.2.0-3-g1a2b3c4`` (3 commits past it)."""
    try:
        return Version(ref.split("-", 1)[0])
    except InvalidVersion:
        return None


def newest_release(source: str) -> str | None:
    """The template's newest release, as Copier picks one: its highest PEP 440 tag that is no pre-release."""
    listed = git("ls-remote", "--tags", "--refs", "--", source).splitlines()
    releases = []
    for line in listed:
        tag = line.split("\t", 1)[-1].removeprefix("refs/tags/")
        try:
            version = Version(tag)
        except InvalidVersion:
            continue  # a model release (v2026.12.07-g1a2b3c4) or any other tag
        if not version.is_prerelease:
            releases.append((version, tag))
    return max(releases)[1] if releases else None


def update(to: str) -> Update:
    """``copier update`` of the work tree to release ``to``: the template's tasks are skipped (they run once, on
    copy), conflicts are left inline for a person to decide.

    Copier asks for ``--trust`` whenever a template has tasks, even skipped ones; what the template could still
    run (a migration of a later release) runs without the job's tokens and keys in its environment."""
    recorded = answers()
    done = subprocess.run(
        [sys.executable, "-m", "copier", "update", "--trust", "--defaults", "--skip-tasks", "--conflict", "inline",
         "--vcs-ref", to],
        capture_output=True, text=True, check=False, env=_without_secrets(os.environ),
    )  # fmt: skip
    if done.returncode != 0:
        raise PipelineError(f"copier update to {to}: {(done.stderr or done.stdout).strip()[-2000:]}")
    status = git("status", "--porcelain", "--untracked-files=all").splitlines()
    changed = sorted({line[3:].split(" -> ")[-1].strip('"') for line in status})
    conflicts = sorted(set(git("diff", "--name-only", "--diff-filter=U").splitlines()))
    return Update(str(recorded.get("_src_path")), str(recorded.get("_commit")), to, tuple(changed), tuple(conflicts))


def _without_secrets(environ: Any) -> dict[str, str]:
    secret = ("TOKEN", "SECRET", "PASSWORD", "KEY")
    return {name: value for name, value in environ.items() if not any(word in name.upper() for word in secret)}


def propose(github: GitHub, done: Update) -> dict[str, Any]:
    """The update as one commit on ``template-update`` (made afresh on main's head) and its one pull request."""
    base = github.branch_head(BASE)
    changes = {path: _file(Path(path)) for path in done.changed}
    try:
        commit = github.commit(base, changes, done.title())
    except GitHubError as error:
        workflows = [path for path in done.changed if path.startswith(WORKFLOWS)]
        if error.status in (403, 404) and workflows:
            raise PipelineError(
                f"the update changes {', '.join(workflows)}: GITHUB_TOKEN may not write workflow files; give the "
                "Template update workflow a TEMPLATE_UPDATE_TOKEN that may (docs/adopt.md)"
            ) from error
        raise
    if github.branch_exists(BRANCH):
        github.move_branch(BRANCH, commit)
    else:
        github.create_branch(BRANCH, commit)
    return github.open_pull_request(BRANCH, BASE, done.title(), done.body())


def _file(path: Path) -> tuple[str, bytes] | None:
    """A changed file as git stores it (its mode and bytes), or None when the update deleted it."""
    if not path.is_file():
        return None
    return ("100755" if os.access(path, os.X_OK) else "100644"), path.read_bytes()


def run(github: GitHub | None) -> str:
    """Bring the template's newest release, if the project lacks it: a pull request with ``github``, else in place."""
    recorded = answers()
    if "_src_path" not in recorded:
        return f"template-update: no {ANSWERS} with the template's address: this project was not made by copier copy"
    source, before = str(recorded["_src_path"]), str(recorded.get("_commit", ""))
    newest = newest_release(source)
    current = release_of(before)
    if newest is None:
        return f"template-update: {source} has no release tag"
    if current is not None and Version(newest) <= current:
        return f"template-update: up to date with {source} {newest}"
    done = update(newest)
    if not done.changed:
        return f"template-update: {newest} changes nothing here"
    if github is None:
        named = f"; conflicts to resolve in {', '.join(done.conflicts)}" if done.conflicts else ""
        return f"template-update: {before} -> {newest} in the work tree, {len(done.changed)} files{named}"
    pull = propose(github, done)
    return f"template-update: {done.title()}: pull request #{pull['number']} ({len(done.conflicts)} conflicts)"
