"""``python -m gitops_ml deploy ...``: move an environment to a release by a change to ``deploy/``.

- ``stage``: after a release, move ``staging`` to it (a pull request; a commit to ``main`` with the
  repository variable ``STAGING_AUTO_COMMIT=true``).
- ``promote --tag``: the pull request moving ``production`` to a release. Its body is the model
  card's summary and the release's metrics against those of the release production runs now.
- ``rollback --tag --reason``: the pull request moving ``production`` back to an earlier release.
- ``follow``: after a merge moved ``production``, what it pins becomes current beyond the cluster:
  the MLflow ``champion`` and the ``:prod`` image, for people who run the image with Docker.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from gitops_ml.core.errors import PipelineError
from gitops_ml.core.github_api import GitHub
from gitops_ml.core.settings import Settings
from gitops_ml.quality.compare import compare
from gitops_ml.quality.metrics import task_of
from gitops_ml.release import deploy, steps

PRODUCTION = "production"


def stage(dist: Path, github: GitHub, *, commit_directly: bool) -> str:
    """Move staging to the release just published (its pushed digest, from ``dist/image.json``)."""
    where = dist / deploy.IMAGE_FILE
    if not where.is_file():
        raise PipelineError(f"{where}: missing; run the image step first (it records the pushed digest)")
    pin = deploy.Pin.from_json(where.read_text(), str(where))
    body = (
        f"Moves `staging` to release {pin.tag}: `{pin.reference}`.\n\n"
        "Argo CD syncs `deploy/overlays/staging` once this is merged. To production: run the Promote workflow "
        f"with `{pin.tag}`."
    )
    change = deploy.Change("staging", pin, f"deploy/staging-{pin.tag}", f"Deploy {pin.tag} to staging", body)
    return deploy.open_change(github, change, commit_directly=commit_directly)


def promote(settings: Settings, tag: str, github: GitHub, live: Path | None = None) -> str:
    """Open the pull request that moves production to release ``tag``."""
    if live is not None and not live.is_file():
        raise PipelineError(f"--live: {live} does not exist (the Markdown `compare-live --out` writes)")
    release, pin, current = _move_to(github, tag)
    lines = [
        f"## Promote {tag} to production",
        "",
        f"Merging this moves `production` to `{pin.reference}`. Argo CD syncs it; Argo Rollouts sends part of the "
        "traffic to it first and aborts on its own when the analysis on Prometheus fails "
        "(`deploy/overlays/production/rollout.yaml`). The Deployed workflow then moves `:prod` and the MLflow "
        "`champion` to it.",
        "",
        *_metrics_section(settings, github, release, current),
        "",
        "### Model card (summary)",
        "",
        card_summary(_asset_text(github, release, "model_card.md")),
        "",
        f"The whole card, the notes and the metrics: release [{tag}]({release.get('html_url', tag)}).",
    ]
    if live is not None:
        lines += ["", live.read_text().strip()]
    change = deploy.Change(
        PRODUCTION, pin, f"deploy/production-{tag}", f"Promote {tag} to production", "\n".join(lines)
    )
    return deploy.open_change(github, change)


def rollback(settings: Settings, tag: str, reason: str, github: GitHub) -> str:
    """Open the pull request that moves production back to the earlier release ``tag``."""
    if not reason.strip():
        raise PipelineError("--reason: say why, for the pull request and the audit trail")
    release, pin, current = _move_to(github, tag)
    now = f"`{current[0].tag}`" if current is not None else "what it runs now"
    lines = [
        f"## Roll production back to {tag}",
        "",
        "Reason given:",
        "",
        *(f"> {line}" for line in reason.strip().splitlines()),
        "",
        f"Merging this moves `production` from {now} to `{pin.reference}`. Argo Rollouts goes back to a "
        "recent revision at once, without the canary steps (`rollbackWindow`); the Deployed workflow then moves "
        "`:prod` and the MLflow `champion` to it.",
        "",
        *_metrics_section(settings, github, release, current),
    ]
    title = f"Roll production back to {tag}"
    change = deploy.Change(PRODUCTION, pin, f"rollback/production-{tag}", title, "\n".join(lines))
    return deploy.open_change(github, change)


def follow(github: GitHub) -> None:
    """Make what the production overlay of this checkout pins current: MLflow's champion, then ``:prod``."""
    where = deploy.overlay(PRODUCTION)
    pin = deploy.read_pin(where.read_text(), str(where))
    if pin.tag is None:
        print(f"deploy: {where} pins {pin.reference}, no release yet; nothing to follow")
        return
    recorded = deploy.release_pin(github, deploy.published(github, pin.tag, f"{where} pins {pin.tag}"))
    if (recorded.repository, recorded.digest) != (pin.repository, pin.digest):
        raise PipelineError(
            f"{where} pins {pin.reference}, but release {pin.tag} pushed {recorded.reference}: "
            "pin the release's own digest (the Promote and Rollback workflows do)"
        )
    steps.make_current(pin)


def _move_to(github: GitHub, tag: str) -> tuple[dict[str, Any], deploy.Pin, tuple[deploy.Pin, dict[str, Any]] | None]:
    """Release ``tag``, the image it pushed, and what production runs now (refused when that is the same image)."""
    release = deploy.published(github, tag, "--tag")
    pin = deploy.release_pin(github, release)
    current = _production(github)
    if current is not None and current[0].digest == pin.digest:
        raise PipelineError(f"--tag: production runs {tag} already ({pin.digest})")
    return release, pin, current


def _production(github: GitHub) -> tuple[deploy.Pin, dict[str, Any]] | None:
    """What main's production overlay pins, and its release; None while it pins no release."""
    path = str(deploy.overlay(PRODUCTION))
    pin = deploy.read_pin(github.file(path, deploy.BASE_BRANCH)[0], f"{deploy.BASE_BRANCH}:{path}")
    if pin.tag is None:
        return None
    return pin, deploy.published(github, pin.tag, f"{deploy.BASE_BRANCH}:{path} pins {pin.tag}")


def _metrics_section(
    settings: Settings,
    github: GitHub,
    release: dict[str, Any],
    current: tuple[deploy.Pin, dict[str, Any]] | None,
) -> list[str]:
    candidate = json.loads(_asset_text(github, release, "metrics.json"))["test"]
    task = task_of(candidate)
    if task is None:
        raise PipelineError(f"release {release['tag_name']}: metrics.json names no task's metrics: {sorted(candidate)}")
    running = json.loads(_asset_text(github, current[1], "metrics.json"))["test"] if current is not None else {}
    shown, thresholds = list(settings.compare.listed(task)), settings.compare.deciding(task)
    against = f"against production's `{current[0].tag}`" if current is not None else "(nothing in production yet)"
    changes = compare(running, candidate, shown, thresholds)
    worse = [c.metric for c in changes if c.verdict == "worse"]
    verdict = [f"**Worse than production on {', '.join(worse)}** beyond its threshold.", ""] if worse else []
    return [
        f"### Metrics (test set) {against}",
        "",
        *verdict,
        steps.metrics_table(changes, show_threshold=True, compared=("Production", "Candidate")),
    ]


def card_summary(card: str) -> str:
    """The model card's first table (version, commit, family, what it predicts)."""
    details = re.search(r"(?m)^## Model details\n\n((?:\|.*\n?)+)", card)
    return details.group(1).strip() if details else "(the model card has no Model details section)"


def _asset_text(github: GitHub, release: dict[str, Any], name: str) -> str:
    stored = github.asset(release, name)
    if stored is None:
        raise PipelineError(f"release {release['tag_name']} has no {name} asset")
    return stored.decode()
