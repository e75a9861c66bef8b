"""``python -m gitops_ml pr-comment``: post the pull-request report as the one report comment of its pull request.

It runs in the comment job: the base repository's code, with a token that writes comments, on an
artifact that the pull request's code wrote (a fork's, possibly). So it trusts nothing in it:

- the pull request number must be digits, and that pull request's head must be the commit the run
  tested (``HEAD_SHA``, from the ``workflow_run`` event), or nothing is posted;
- the comment is rendered here, by ``report.render``, from ``report.json`` read strictly
  (``report.data``); no Markdown from the artifact is posted;
- images are only the known plot files, regular PNG files under a size limit, copied into a fresh
  folder beside the rendered Markdown, which is all CML is handed (CML uploads every local file a
  link names, wherever it is); links are only the workflow run's, from the event.

One report comment per pull request, at any comment count. CML 0.20.6's ``comment update`` reads
only the first page (30) of comments and edits the newest one holding its watermark, whoever wrote
it. So this lists every comment first: CML updates in place only when the comment it will pick is
the newest report comment the bot wrote; otherwise CML posts a new one, and the bot's older report
comments are deleted after it posted.

Images are published through CML's asset host (public) for a public repository and kept in the
artifact for a private one, unless ``REPORT_IMAGES`` says otherwise. When the upload fails CML posts
nothing: the report is then posted without images, saying where they are.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gitops_ml import NAME
from gitops_ml.core.errors import PipelineError
from gitops_ml.core.github_api import GitHub
from gitops_ml.report import data
from gitops_ml.report.data import PR_NUMBER_FILE, REPORT_DATA
from gitops_ml.report.figures import FIGURES
from gitops_ml.report.render import render

CML_FIRST_PAGE = 30  # CML lists the first page of comments only (GitHub's default page size)
MAX_IMAGE_BYTES = 5 * 1024 * 1024
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
RUN_LINK = "Workflow run, with the report and plots as the `pr-report` artifact"


@dataclass(frozen=True)
class CommentJob:
    """The comment job's environment (see the workflow): who posts where, and how."""

    github: GitHub
    head_sha: str
    images: str  # publish | artifact
    cml: list[str]
    watermark: str
    author: str
    run_url: str | None

    @classmethod
    def from_environment(cls) -> CommentJob:
        missing = [name for name in ("REPO_TOKEN", "GITHUB_REPOSITORY", "HEAD_SHA") if not os.environ.get(name)]
        if missing:
            raise PipelineError(f"{', '.join(missing)}: not set (the comment workflow passes them)")
        images = os.environ.get("REPORT_IMAGES", "")
        if not images:
            # Unknown visibility counts as private: images are never sent to a public host by default.
            images = "publish" if os.environ.get("REPOSITORY_PRIVATE") == "false" else "artifact"
        if images not in ("publish", "artifact"):
            raise PipelineError(f"REPORT_IMAGES must be publish or artifact, not {images!r}")
        server = os.environ.get("GITHUB_SERVER_URL", "https://github.com")
        run_url = os.environ.get("PR_RUN_URL", "")
        api_url = os.environ.get("GITHUB_API_URL", "https://api.github.com").rstrip("/")
        return cls(
            github=GitHub(api_url, os.environ["GITHUB_REPOSITORY"], os.environ["REPO_TOKEN"]),
            head_sha=os.environ["HEAD_SHA"],
            images=images,
            cml=shlex.split(os.environ.get("CML", "cml")),
            watermark=os.environ.get("WATERMARK") or f"Model report ({NAME})",
            author=os.environ.get("COMMENT_AUTHOR", "github-actions[bot]"),
            run_url=run_url if run_url.startswith(server + "/") else None,
        )


def run(artifact: Path, out: Path, settings: CommentJob) -> str:
    """Post or update the report comment; return what was done."""
    number = pull_request_number(artifact)
    head = settings.github.pull_request(number)["head"]["sha"]
    if head != settings.head_sha:
        raise PipelineError(f"pull request #{number} is at {head}, not at the tested commit {settings.head_sha}")
    summary = data.load(artifact / REPORT_DATA)
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    figures = copy_figures(artifact, out) if settings.images == "publish" else []
    links = [(RUN_LINK, settings.run_url)] if settings.run_url else []
    where = f"the run's `pr-report` artifact ({settings.run_url})" if settings.run_url else "the run's artifact"
    with_images = out / "comment.md"
    with_images.write_text(render(summary, figures, plots_elsewhere=where, links=links))

    comments = settings.github.comments(number)
    ours = [c for c in comments if _is_report(c, settings.watermark) and c["user"]["login"] == settings.author]
    picked = [c for c in comments[:CML_FIRST_PAGE] if _is_report(c, settings.watermark)]
    in_place = bool(ours) and bool(picked) and picked[-1]["id"] == ours[-1]["id"]
    command = "update" if in_place else "create"

    posted = _cml(settings, command, number, with_images, publish=bool(figures))
    if posted.returncode != 0 and figures:
        failed = posted.stderr.strip()[-500:]
        without = out / "comment-no-images.md"
        elsewhere = f"{where}: uploading them to CML's asset host failed"
        without.write_text(render(summary, [], plots_elsewhere=elsewhere, links=links))
        posted = _cml(settings, command, number, without, publish=False)
        if posted.returncode == 0:
            print(f"pr-comment: image upload failed ({failed}); posted without images")
    if posted.returncode != 0:
        raise PipelineError(f"cml comment {command} failed: {posted.stderr.strip()[-2000:] or posted.stdout.strip()}")
    stale = ours[:-1] if in_place else ours
    for comment in stale:
        settings.github.delete_comment(comment["id"])
    done = "updated" if in_place else "posted"
    return f"{done} the report comment of pull request #{number} (images: {settings.images})" + (
        f"; removed {len(stale)} older report comment(s)" if stale else ""
    )


def pull_request_number(artifact: Path) -> int:
    text = (artifact / PR_NUMBER_FILE).read_text().strip() if (artifact / PR_NUMBER_FILE).is_file() else ""
    if not text.isdigit() or len(text) > 10:
        raise PipelineError(f"{artifact / PR_NUMBER_FILE} holds no pull request number: not posting")
    return int(text)


def copy_figures(artifact: Path, out: Path) -> list[tuple[str, str]]:
    """The known plots the artifact holds, checked and copied beside the comment; (caption, file name) pairs."""
    figures = []
    for name, caption in FIGURES.items():
        source = artifact / name
        if source.is_symlink() or not source.is_file() or source.stat().st_size > MAX_IMAGE_BYTES:
            continue
        content = source.read_bytes()
        if content.startswith(PNG_MAGIC):
            (out / name).write_bytes(content)
            figures.append((caption, name))
    return figures


def _is_report(comment: dict[str, Any], watermark: str) -> bool:
    return f'"CML watermark {watermark}")' in (comment.get("body") or "")


def _cml(
    settings: CommentJob, command: str, number: int, markdown: Path, *, publish: bool
) -> subprocess.CompletedProcess[str]:
    arguments = [*settings.cml, "comment", command, f"--target=pr/{number}", f"--watermark-title={settings.watermark}"]
    arguments += [] if publish else ["--no-publish"]
    return subprocess.run(
        [*arguments, str(markdown)],
        env={**os.environ, "REPO_TOKEN": settings.github.token},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
