"""``python -m gitops_ml release ...``: the steps of a release from main, each a make target in CI.

- ``tested``: the commit's ``ci.yml`` run passed (a release ships only tested commits).
- ``gate``: compare the pipeline's test metrics with those stored in the release production runs
  (the one ``deploy/overlays/production`` pins: its ``metrics.json`` asset, not recomputed); a
  regression beyond ``compare.thresholds`` stops here.
- ``bundle``: build the Bento under the release version, export it, and write the model card,
  ``metrics.json``, ``params.json``, the model file and the release notes into ``dist/``.
- ``image``: build the image from the exported Bento, push ``:version`` and ``:commit``, and record
  the pushed digest (``image.json``, a release asset: what the environments pin).
- ``publish``: the GitHub release, as a draft until every asset is up, then published as latest.
- ``register``: the model as an MLflow model version tagged with the release (with a tracking server).

Moving the environments is ``gitops_ml.release.promotion``'s: pull requests against ``deploy/``.
Every step finds what an earlier, interrupted run of it did and finishes the job, so re-running a
failed workflow completes the release. The version is ``v<commit date>-<short commit>``
(``v2026.11.25-g1a2b3c4``): the same string tags the release, the image and the Bento, sorts by
date and names the commit.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gitops_ml import NAME
from gitops_ml.core import markdown, paths
from gitops_ml.core.errors import PipelineError
from gitops_ml.core.files import write_json, write_text
from gitops_ml.core.git import git
from gitops_ml.core.github_api import GitHub
from gitops_ml.core.settings import Settings, changed_params, training_params
from gitops_ml.core.target import recorded
from gitops_ml.pipeline.package import MODEL_NAME, model_tag
from gitops_ml.quality.compare import MetricChange, compare
from gitops_ml.release import bento, deploy, model_card, registry
from gitops_ml.release.model_card import raw_data_md5

DIST = Path("dist")
CI_WORKFLOW = "ci.yml"
MODEL_FILE = "model.joblib"
ASSET_TYPES = {".bento": "application/octet-stream", ".json": "application/json", ".md": "text/markdown"}
NOT_ASSETS = {"notes.md"}
MAX_LISTED_COMMITS = 50
PUSHED_DIGEST = re.compile(r"digest: (sha256:[0-9a-f]{64})")


@dataclass(frozen=True)
class Baseline:
    """The release in production, which a new one is judged against."""

    tag: str
    metrics: dict[str, float]
    params: dict[str, Any] | None


def version() -> str:
    """The commit's date and short hash, the hash after a `g` as git describe writes it: never a PEP 440 version
    (``-1234567`` alone would read as a post-release), so Copier never takes a model release for a release of the
    template when both live in one repository (docs/adopt.md)."""
    date = git("show", "-s", "--format=%cd", "--date=format-local:%Y.%m.%d", "HEAD")
    return f"v{date}-g{git('rev-parse', '--short=7', 'HEAD')}"


def image_repository() -> str:
    """The image's repository on GitHub's container registry (whose names are lower case)."""
    return f"ghcr.io/{os.environ.get('GITHUB_REPOSITORY', f'local/{NAME}').lower()}"


def image(tag: str) -> str:
    return f"{image_repository()}:{tag}"


def tested(github: GitHub) -> None:
    """Stop unless this commit's ``ci.yml`` run (lint and the whole suite) succeeded."""
    commit = git("rev-parse", "HEAD")
    if not github.workflow_succeeded(CI_WORKFLOW, commit):
        raise PipelineError(
            f"commit {commit[:7]} has no successful {CI_WORKFLOW} run: only tested commits are released"
        )
    print(f"release: {CI_WORKFLOW} passed on {commit[:7]}")


def baseline(github: GitHub) -> Baseline | None:
    """The release production runs (as this commit's production overlay pins it); None before the first."""
    where = deploy.overlay("production")
    tag = deploy.read_pin(where.read_text(), str(where)).tag
    if tag is None:
        return None
    release = deploy.published(github, tag, f"{where} pins {tag}")
    stored = github.asset(release, "metrics.json")
    if stored is None:
        raise PipelineError(f"release {tag} has no metrics.json asset to compare with")
    params = github.asset(release, "params.json")
    return Baseline(tag, json.loads(stored)["test"], json.loads(params) if params else None)


def gate(settings: Settings, github: GitHub, summary: Path | None) -> bool:
    """Whether the model may be released; the reason goes to the job summary (and stdout)."""
    current = json.loads(paths.METRICS.read_text())["test"]
    previous = baseline(github)
    if previous is None:
        text = "### Promotion gate: nothing to compare with\n\nNo other release is in production; nothing to gate."
        passed = True
    else:
        thresholds = settings.compare.deciding(recorded().task)
        changes = compare(previous.metrics, current, list(thresholds), thresholds)
        worse = [c for c in changes if c.verdict == "worse"]
        passed = not worse
        title = "passed" if passed else "stopped: " + ", ".join(_regression(c) for c in worse)
        text = (
            f"### Promotion gate {title}\n\nAgainst release `{previous.tag}` (its stored `metrics.json`):\n\n"
            + metrics_table(changes, show_threshold=True)
        )
    _say(text, summary)
    return passed


def _regression(change: MetricChange) -> str:
    return f"{change.metric} fell by {abs(change.delta or 0):.4f} (more than {change.threshold:g})"


def bundle(settings: Settings, out: Path, github: GitHub) -> str:
    """Build and export the Bento under the release version; write the notes, card, metrics and model beside it."""
    tag = version()
    out.mkdir(parents=True, exist_ok=True)
    bento_tag = bento.run(settings, tag)
    exported = out / f"{MODEL_NAME}-{tag}.bento"
    exported.unlink(missing_ok=True)
    # BentoML reads a relative destination as relative to the file system root: pass it absolute.
    result = subprocess.run(["bentoml", "export", bento_tag, str(exported.resolve())], capture_output=True, text=True)
    if result.returncode != 0:
        raise PipelineError(f"bentoml export {bento_tag} failed: {result.stderr.strip()[-2000:]}")
    shutil.copy(paths.METRICS, out / "metrics.json")
    shutil.copy(paths.MODEL, out / MODEL_FILE)  # for the registry, in a job that has no DVC outputs
    write_json(out / "params.json", training_params(settings))
    model_card.run(settings, out / "model_card.md", tag)
    write_text(out / "notes.md", notes(settings, tag, baseline(github)))
    write_text(out / "version.txt", tag + "\n")
    print(f"release: {tag} bundled in {out}")
    return tag


def notes(settings: Settings, tag: str, previous: Baseline | None) -> str:
    current = json.loads(paths.METRICS.read_text())["test"]
    commit = git("rev-parse", "HEAD")
    lines = [
        f"## {tag}",
        "",
        f"- Image: `{image(tag)}` (also `:{commit[:7]}`; `:prod` follows production)",
        f"- Commit: `{commit}`",
        f"- Model: `{model_tag()}` (`{settings.train.model}`)",
        f"- Data: `{raw_data_md5()}` (md5 of `{paths.RAW_DATA}`, from `dvc.lock`)",
        "",
    ]
    task = recorded().task
    shown, thresholds = list(settings.compare.listed(task)), settings.compare.deciding(task)
    if previous is None:
        lines += ["### Metrics (test set; first release)", "", metrics_table(compare({}, current, shown, thresholds))]
    else:
        lines += [f"### Metrics (test set), change since `{previous.tag}`", ""]
        lines += [metrics_table(compare(previous.metrics, current, shown, thresholds))]
        lines += ["", f"### Merged since `{previous.tag}`", "", _merged_since(previous.tag)]
    params = training_params(settings)
    if previous is not None and previous.params is not None:
        changed = changed_params(previous.params, params)
        lines += ["", "### Parameters changed since the previous release", ""]
        lines += [f"- `{key}`: `{before}` -> `{after}`" for key, before, after in changed] or ["- none"]
    lines += ["", "### Parameters", ""] + [f"- `{key}`: `{value}`" for key, value in sorted(params.items())]
    lines += ["", "Assets: the exported Bento (`bentoml import`), `metrics.json`, `params.json` and the model card."]
    return "\n".join(lines) + "\n"


def _merged_since(previous: str) -> str:
    """Every commit this release ships that the previous one did not: a merge whose own run was superseded
    by a newer one (one release runs at a time) is released here, and listed."""
    listed = git("log", "--format=- %h %s", f"{previous}..HEAD", check=False)
    if not listed and not git("rev-parse", "--verify", "--quiet", f"{previous}^{{commit}}", check=False):
        return f"- (the tag {previous} is not in this clone's history)"
    lines = listed.splitlines()
    more = len(lines) - MAX_LISTED_COMMITS
    return "\n".join(lines[:MAX_LISTED_COMMITS] + ([f"- ... and {more} more"] if more > 0 else [])) or "- none"


def publish(dist: Path, github: GitHub) -> dict[str, Any]:
    """Create (or find) the draft release, upload this run's files in place of any earlier ones, then publish it."""
    tag, commit = read_version(dist), git("rev-parse", "HEAD")
    release = github.release(tag)
    if release is not None and release.get("target_commitish") != commit:
        raise PipelineError(f"release {tag} exists for commit {release.get('target_commitish')}, not {commit}")
    if release is not None and not release.get("draft"):
        print(f"release: {tag} is published already")
        return release
    release = release or github.create_release(tag, commit, (dist / "notes.md").read_text())
    uploaded = {asset["name"]: asset for asset in release.get("assets", [])}
    for path in sorted(dist.iterdir()):
        if path.suffix not in ASSET_TYPES or path.name in NOT_ASSETS:
            continue
        earlier = uploaded.get(path.name)
        if earlier is not None:
            # An earlier run's upload, whole or half done: this run's file replaces it. The same name and
            # size do not make the same bytes (a rebuilt Bento differs in its timestamps).
            github.delete_asset(earlier)
        github.upload_asset(release, path, ASSET_TYPES[path.suffix])
    published = github.update_release(release, draft=False, make_latest="true")
    print(f"release: published {tag}")
    return published


def register(settings: Settings, dist: Path) -> str | None:
    return registry.register(
        settings, read_version(dist), dist / MODEL_FILE, dist / "metrics.json", dist / "params.json"
    )


def push_image(dist: Path) -> deploy.Pin:
    """Build the image (``build_image``), push it as :version and :commit, and record the digest the
    registry gave it in ``dist/image.json``.

    Logs in to the registry with the workflow's token (``REGISTRY_TOKEN``): no long-lived password.
    """
    tag = read_version(dist)
    _docker_login()
    tags = build_image(dist)
    digests = {_pushed_digest(_docker("push", pushed), pushed) for pushed in tags}
    if len(digests) != 1:
        raise PipelineError(f"the registry gave {', '.join(tags)} different digests: {', '.join(sorted(digests))}")
    pin = deploy.Pin(image_repository(), tag, digests.pop())
    write_text(dist / deploy.IMAGE_FILE, pin.to_json())
    print(f"release: pushed {', '.join(tags)} as {pin.digest}")
    return pin


def build_image(dist: Path) -> list[str]:
    """Build the image from the exported Bento in ``dist`` (its own Dockerfile, the Bento with its model as the
    context), tagged :version and :commit; return the tags."""
    import tarfile

    tag = read_version(dist)
    context = dist / "bento"
    shutil.rmtree(context, ignore_errors=True)
    with tarfile.open(dist / f"{MODEL_NAME}-{tag}.bento") as archive:
        archive.extractall(context, filter="data")
    tags = [image(tag), image(git("rev-parse", "--short=7", "HEAD"))]
    dockerfile = context / "env" / "docker" / "Dockerfile"
    _docker("build", "--file", str(dockerfile), *(f"--tag={t}" for t in tags), str(context))
    return tags


def _pushed_digest(output: str, pushed: str) -> str:
    """The digest from ``docker push``'s last line (``<tag>: digest: sha256:<hex> size: <n>``), else as inspected."""
    found: list[str] = PUSHED_DIGEST.findall(output)
    if found:
        return found[-1]
    listed: list[str] = json.loads(_docker("image", "inspect", "--format", "{{json .RepoDigests}}", pushed) or "[]")
    repository = pushed.rsplit(":", 1)[0]
    matching = [entry.split("@", 1)[1] for entry in listed if entry.startswith(f"{repository}@")]
    if not matching:
        raise PipelineError(f"pushed {pushed}, but neither the push nor the image's RepoDigests name its digest")
    return matching[0]


def make_current(pin: deploy.Pin) -> None:
    """What production pins becomes current beyond the cluster: MLflow's ``champion``, then ``:prod``."""
    if pin.tag is None:
        raise PipelineError(f"production pins {pin.reference}, which names no release")
    registry.make_champion(pin.tag)
    _docker_login()
    pinned, prod = f"{pin.repository}@{pin.digest}", f"{pin.repository}:prod"
    _docker("pull", pinned)
    _docker("tag", pinned, prod)
    _docker("push", prod)
    print(f"release: {prod} is {pin.tag} ({pin.digest})")


def _say(text: str, summary: Path | None) -> None:
    """Print, and add to the job summary in GitHub Actions."""
    print(text)
    if summary is not None:
        with summary.open("a") as out:
            out.write(text + "\n")


def _docker_login() -> None:
    token = os.environ.get("REGISTRY_TOKEN", "")
    if not token:
        raise PipelineError("REGISTRY_TOKEN: not set (the workflow passes its GITHUB_TOKEN, with packages: write)")
    user = os.environ.get("GITHUB_ACTOR", "github-actions")
    _docker("login", "ghcr.io", "--username", user, "--password-stdin", stdin=token)


def _docker(*args: str, stdin: str | None = None) -> str:
    """Run the container engine's CLI (``DOCKER``: docker, or podman); return its output."""
    command = [*os.environ.get("DOCKER", "docker").split(), *args]
    result = subprocess.run(command, input=stdin, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise PipelineError(f"docker {args[0]} failed: {result.stderr.strip() or result.stdout.strip()}")
    return result.stdout


def read_version(dist: Path) -> str:
    tag = (dist / "version.txt").read_text().strip() if (dist / "version.txt").is_file() else ""
    if not deploy.VERSION.match(tag):
        raise PipelineError(f"{dist / 'version.txt'}: {tag!r} is not a release version; run the bundle step first")
    return tag


def metrics_table(
    changes: list[MetricChange], *, show_threshold: bool = False, compared: tuple[str, str] = ("Before", "Now")
) -> str:
    rows = []
    for c in changes:
        cells = [c.metric, _number(c.base), _number(c.new), "n/a" if c.delta is None else f"{c.delta:+.4f}"]
        if show_threshold:
            cells.append(f"{c.threshold:g}" if c.threshold is not None else "")
        rows.append(cells)
    headers = ["Metric", *compared, "Change", *(["Threshold"] if show_threshold else [])]
    return markdown.table(headers, rows, align="lrrrr")


def _number(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"
