"""``python -m gitops_ml release ...``: the steps of a release from main, each a make target in CI.

- ``gate``: compare the pipeline's test metrics with those stored in the latest GitHub release (its
  ``metrics.json`` asset, not recomputed); a regression beyond ``compare.thresholds`` stops here.
- ``bundle``: build the Bento under the release version, export it, and write the model card,
  ``metrics.json`` and the release notes into ``dist/``.
- ``publish``: create the GitHub release with those notes and assets.
- ``register``: register the model version in MLflow and point the alias ``champion`` at it.
- ``image``: build the image from the exported Bento and push it (``:version``, ``:commit``, ``:prod``).
- ``rollback``: make an earlier release current again (``:prod`` and ``champion``), saying why.

The version is ``v<commit date>-<short commit>`` (``v2026.11.25-1a2b3c4``): the same string tags the
release, the image and the Bento, sorts by date and names the commit.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any, cast

from gitops_ml import bento, model_card, paths
from gitops_ml.compare import MetricChange, compare
from gitops_ml.errors import PipelineError
from gitops_ml.files import write_text
from gitops_ml.git import git
from gitops_ml.github_api import GitHub
from gitops_ml.model_card import raw_data_md5
from gitops_ml.report import changed_params
from gitops_ml.settings import Settings, training_params

DIST = Path("dist")
VERSION = re.compile(r"^v\d{4}\.\d{2}\.\d{2}-[0-9a-f]{7}$")
MODEL_NAME = "gitops-ml-classifier"
ASSET_TYPES = {".bento": "application/octet-stream", ".json": "application/json", ".md": "text/markdown"}


def version() -> str:
    date = git("show", "-s", "--format=%cd", "--date=format-local:%Y.%m.%d", "HEAD")
    return f"v{date}-{git('rev-parse', '--short=7', 'HEAD')}"


def image(tag: str) -> str:
    """The image reference on GitHub's container registry (whose names are lower case)."""
    return f"ghcr.io/{os.environ.get('GITHUB_REPOSITORY', 'local/gitops-ml').lower()}:{tag}"


def previous_metrics(github: GitHub) -> tuple[str, dict[str, float]] | None:
    """The latest release's tag and stored test metrics; None before the first release."""
    latest = github.latest_release()
    if latest is None:
        return None
    stored = github.asset(latest, "metrics.json")
    if stored is None:
        raise PipelineError(f"release {latest['tag_name']} has no metrics.json asset to compare with")
    return latest["tag_name"], json.loads(stored)["test"]


def gate(settings: Settings, github: GitHub, summary: Path | None) -> bool:
    """Whether the model may be released; the reason goes to the job summary (and stdout)."""
    current = json.loads(paths.METRICS.read_text())["test"]
    previous = previous_metrics(github)
    if previous is None:
        text = "### Promotion gate: first release\n\nNo earlier release to compare with; nothing to gate."
        passed = True
    else:
        tag, stored = previous
        thresholds = cast(dict[str, float], settings.compare.thresholds)
        changes = compare(stored, current, list(thresholds), thresholds)
        worse = [c for c in changes if c.verdict == "worse"]
        passed = not worse
        title = "passed" if passed else "stopped: " + ", ".join(_regression(c) for c in worse)
        text = f"### Promotion gate {title}\n\nAgainst release `{tag}` (its stored `metrics.json`):\n\n" + _table(
            changes, show_threshold=True
        )
    print(text)
    if summary is not None:
        with summary.open("a") as out:
            out.write(text + "\n")
    return passed


def _regression(change: MetricChange) -> str:
    return f"{change.metric} fell by {abs(change.delta or 0):.4f} (more than {change.threshold:g})"


def bundle(settings: Settings, out: Path, github: GitHub) -> str:
    """Build and export the Bento under the release version; write the notes, card and metrics beside it."""
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
    model_card.run(settings, out / "model_card.md", tag)
    write_text(out / "notes.md", notes(settings, tag, previous_metrics(github), _previous_params(github)))
    write_text(out / "version.txt", tag + "\n")
    print(f"release: {tag} bundled in {out}")
    return tag


def notes(
    settings: Settings,
    tag: str,
    previous: tuple[str, dict[str, float]] | None,
    previous_params: dict[str, Any] | None,
) -> str:
    current = json.loads(paths.METRICS.read_text())["test"]
    metadata = json.loads(paths.BENTO_METADATA.read_text())
    commit = git("rev-parse", "HEAD")
    lines = [
        f"## {tag}",
        "",
        f"- Image: `{image(tag)}` (also `:{commit[:7]}`; `:prod` points at the newest release)",
        f"- Commit: `{commit}`",
        f"- Model: `{MODEL_NAME}:{metadata['model_md5'][:20]}` (`{settings.train.model}`)",
        f"- Data: `{raw_data_md5()}` (md5 of `{paths.RAW_DATA}`, from `dvc.lock`)",
        "",
    ]
    shown = list(settings.compare.shown)
    thresholds = cast(dict[str, float], settings.compare.thresholds)
    if previous is None:
        lines += ["### Metrics (test set; first release)", "", _table(compare({}, current, shown, thresholds))]
    else:
        lines += [f"### Metrics (test set), change since `{previous[0]}`", ""]
        lines += [_table(compare(previous[1], current, shown, thresholds))]
    params = training_params(settings)
    if previous_params is not None:
        changed = changed_params(previous_params, params)
        lines += ["", "### Parameters changed since the previous release", ""]
        lines += [f"- `{key}`: `{before}` -> `{after}`" for key, before, after in changed] or ["- none"]
    lines += ["", "### Parameters", ""] + [f"- `{key}`: `{value}`" for key, value in sorted(params.items())]
    lines += ["", "Assets: the exported Bento (`bentoml import`), `metrics.json` and the model card."]
    return "\n".join(lines) + "\n"


def _previous_params(github: GitHub) -> dict[str, Any] | None:
    latest = github.latest_release()
    stored = github.asset(latest, "params.json") if latest else None
    return json.loads(stored) if stored else None


def publish(settings: Settings, dist: Path, github: GitHub) -> dict[str, Any]:
    tag = _read_version(dist)
    if github.release(tag) is not None:
        raise PipelineError(f"release {tag} exists already: a commit is released once")
    write_text(dist / "params.json", json.dumps(training_params(settings), indent=2, sort_keys=True) + "\n")
    release = github.create_release(tag, git("rev-parse", "HEAD"), tag, (dist / "notes.md").read_text())
    for asset in sorted(dist.iterdir()):
        if asset.suffix in ASSET_TYPES and asset.name not in ("notes.md",):
            github.upload_asset(release, asset, ASSET_TYPES[asset.suffix])
    print(f"release: published {tag}")
    return release


def register(settings: Settings, dist: Path) -> str | None:
    """Register this model in MLflow under the release version and make it the ``champion``."""
    uri = os.environ.get("MLFLOW_TRACKING_URI", "")
    if not uri:
        print("release: no MLFLOW_TRACKING_URI; model registry skipped")
        return None
    import mlflow
    from mlflow import MlflowClient

    from gitops_ml.lineage import file_md5
    from gitops_ml.tracking import newest_model_run_id

    tag = _read_version(dist)
    run_id = newest_model_run_id(settings.tracking, file_md5(paths.MODEL))
    if run_id is None:
        raise PipelineError(f"MLflow at {uri} has no run for this model; was tracking enabled when it was trained?")
    logged = mlflow.search_logged_models(filter_string=f"source_run_id = '{run_id}'", output_format="list")
    registered = mlflow.register_model(f"models:/{logged[0].model_id}", MODEL_NAME, tags={"release": tag})
    MlflowClient().set_registered_model_alias(MODEL_NAME, "champion", registered.version)
    print(f"release: {MODEL_NAME} version {registered.version} is champion ({tag})")
    return str(registered.version)


def point_champion_at(tag: str) -> None:
    """Move the MLflow alias ``champion`` back to the model version registered for release ``tag``."""
    uri = os.environ.get("MLFLOW_TRACKING_URI", "")
    if not uri:
        print("rollback: no MLFLOW_TRACKING_URI; model registry skipped")
        return
    from mlflow import MlflowClient

    client = MlflowClient(uri)
    versions = client.search_model_versions(f"name = '{MODEL_NAME}' and tags.release = '{tag}'")
    if not versions:
        raise PipelineError(f"MLflow has no {MODEL_NAME} version tagged release={tag}")
    client.set_registered_model_alias(MODEL_NAME, "champion", versions[0].version)
    print(f"rollback: {MODEL_NAME} version {versions[0].version} is champion again ({tag})")


def push_image(dist: Path) -> list[str]:
    """Build the image from the exported Bento (its own Dockerfile) and push it as :version, :commit, :prod.

    Logs in to the registry with the workflow's token (``REGISTRY_TOKEN``): no long-lived password.
    """
    import tarfile

    tag = _read_version(dist)
    context = dist / "bento"
    shutil.rmtree(context, ignore_errors=True)
    with tarfile.open(dist / f"{MODEL_NAME}-{tag}.bento") as archive:
        archive.extractall(context, filter="data")
    tags = [image(tag), image(git("rev-parse", "--short=7", "HEAD")), image("prod")]
    _docker_login()
    _docker(
        "build", "--file", str(context / "env" / "docker" / "Dockerfile"), *(f"--tag={t}" for t in tags), str(context)
    )
    for pushed in tags:
        _docker("push", pushed)
    print(f"release: pushed {', '.join(tags)}")
    return tags


def rollback(tag: str, reason: str, github: GitHub, summary: Path | None) -> None:
    """Make release ``tag`` current again: its image becomes :prod and its model the MLflow champion."""
    if not VERSION.match(tag):
        raise PipelineError(f"--tag: {tag!r} is not a release version (like v2026.11.25-1a2b3c4)")
    if not reason.strip():
        raise PipelineError("--reason: say why, for the audit trail")
    if github.release(tag) is None:
        raise PipelineError(f"--tag: no release {tag} in {github.repository}")
    _docker_login()
    _docker("pull", image(tag))
    _docker("tag", image(tag), image("prod"))
    _docker("push", image("prod"))
    point_champion_at(tag)
    text = f"### Rolled back to {tag}\n\n`{image('prod')}` now points at `{image(tag)}`.\n\nReason: {reason.strip()}"
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


def _docker(*args: str, stdin: str | None = None) -> None:
    command = [*os.environ.get("DOCKER", "docker").split(), *args]
    result = subprocess.run(command, input=stdin, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise PipelineError(f"docker {args[0]} failed: {result.stderr.strip() or result.stdout.strip()}")


def _read_version(dist: Path) -> str:
    tag = (dist / "version.txt").read_text().strip() if (dist / "version.txt").is_file() else ""
    if not VERSION.match(tag):
        raise PipelineError(f"{dist / 'version.txt'}: {tag!r} is not a release version; run the bundle step first")
    return tag


def _table(changes: list[MetricChange], *, show_threshold: bool = False) -> str:
    header = "| Metric | Before | Now | Change |" + (" Threshold |" if show_threshold else "")
    lines = [header, "|---|---:|---:|---:|" + ("---:|" if show_threshold else "")]
    for c in changes:
        cells = [c.metric, _number(c.base), _number(c.new), "n/a" if c.delta is None else f"{c.delta:+.4f}"]
        if show_threshold:
            cells.append(f"{c.threshold:g}" if c.threshold is not None else "")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _number(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"
