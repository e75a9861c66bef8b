"""Command line: ``python -m gitops_ml <command>``, one command per pipeline stage plus helpers.

Stage modules are imported only when their command runs, so ``check`` answers in a fraction of a
second and no stage pays for another's imports (Great Expectations alone takes seconds).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from pathlib import Path

from gitops_ml import paths
from gitops_ml.errors import PipelineError
from gitops_ml.settings import PARAMS_FILE, Settings, load_settings

STAGES = ("ingest", "validate", "split", "train", "evaluate", "package")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gitops-ml", description="The ML pipeline, one command per DVC stage, plus helpers."
    )
    parser.add_argument("--params", type=Path, default=PARAMS_FILE, help="settings file (default: %(default)s)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for stage in STAGES:
        commands.add_parser(stage, help=f"run the {stage} stage (dvc repro runs them in order)")
    commands.add_parser("check", help="check params.yaml and the files it names, then exit")
    commands.add_parser("restore", help="restore unchanged stages' outputs from DVC's run-cache (after dvc pull)")
    verify = commands.add_parser(
        "check-repro", help="whether the work tree reproduces a commit's results (the cross-machine contract)"
    )
    verify.add_argument("--against", default="HEAD", help="git revision of the results (default: %(default)s)")
    bento = commands.add_parser("bento", help="build the Bento from the packaged model (offline)")
    bento.add_argument("--version", help="Bento version (default: g<commit>, -dirty when the tree differs)")
    serve = commands.add_parser("serve", help="build the Bento when needed and serve it on 127.0.0.1")
    serve.add_argument("--port", type=int, default=3000)
    report = commands.add_parser("report", help="compare this branch's pipeline results with a base branch's")
    report.add_argument("--base", default="origin/main", help="git revision to compare with (default: %(default)s)")
    report.add_argument("--out", type=Path, default=Path("reports/pr"), help="report folder (default: %(default)s)")
    report.add_argument(
        "--repro-outcome", choices=["success", "failure"], default="success", help="how `dvc repro` ended"
    )
    report.add_argument("--repro-log", type=Path, help="dvc repro's output, to name the stage that failed")
    report.add_argument("--pr-number", help="pull request number, written beside the report for the comment job")
    comment = commands.add_parser("pr-comment", help="post a report artifact as its pull request's one comment")
    comment.add_argument("--artifact", type=Path, default=Path("reports/pr"), help="(default: %(default)s)")
    comment.add_argument("--out", type=Path, default=Path("reports/pr-comment"), help="(default: %(default)s)")
    card = commands.add_parser("model-card", help="write the model card of the current model (Markdown)")
    card.add_argument("--out", type=Path, default=Path("reports/model_card.md"), help="(default: %(default)s)")
    card.add_argument("--version", help="release version to name in the card (default: unreleased)")
    release = commands.add_parser("release", help="a release step from main (see make release-*)")
    steps = release.add_subparsers(dest="step", required=True, metavar="STEP")
    steps.add_parser("tested", help="exit 1 unless ci.yml passed on this commit")
    steps.add_parser("gate", help="compare the metrics with the release in production's; exit 1 on a regression")
    for name, text in (("bundle", "build, export and describe the release"),
                       ("image", "build and push the image (:version, :commit)"),
                       ("publish", "create or finish the GitHub release, then publish it as latest"),
                       ("register", "register the model in MLflow (with a tracking server)"),
                       ("promote", "make the release current: MLflow champion, then the :prod image")):  # fmt: skip
        step = steps.add_parser(name, help=text)
        step.add_argument("--dist", type=Path, default=Path("dist"), help="release folder (default: %(default)s)")
    rollback = steps.add_parser("rollback", help="make an earlier release current again (:prod and champion)")
    rollback.add_argument("--tag", required=True, help="the release to return to")
    rollback.add_argument("--reason", required=True, help="why, for the run summary")
    monitor = commands.add_parser("monitor", help="drift report of current data against the training data")
    monitor.add_argument(
        "--current", type=Path, required=True, help="prediction log (.jsonl), a folder of logs, or a CSV/Parquet file"
    )
    monitor.add_argument("--reference", type=Path, default=paths.TRAIN_DATA, help="(default: %(default)s)")
    monitor.add_argument("--out", type=Path, default=paths.MONITORING_DIR, help="(default: %(default)s)")
    show = commands.add_parser("show-log", help="print a prediction log's records as JSON lines (for jq)")
    show.add_argument("path", type=Path, help="a log file (.arrows, rotated .arrows.N) or the folder of them")
    show.add_argument("--last", type=int, help="only the last N records")
    issue = commands.add_parser("drift-issue", help="open or update the GitHub drift issue from a drift report")
    issue.add_argument("--report", type=Path, default=paths.MONITORING_DIR, help="(default: %(default)s)")
    suggest = commands.add_parser("suggest-suite", help="draft an expectation suite from a data file")
    suggest.add_argument("--data", type=Path, required=True, help="CSV or Parquet file to describe")
    suggest.add_argument("--out", type=Path, required=True, help="where to write the suite JSON")
    suggest.add_argument("--margin", type=float, default=0.1, help="widen numeric ranges by this share")
    return parser


def _release(args: argparse.Namespace, settings: Settings) -> int:
    from gitops_ml import release
    from gitops_ml.github_api import GitHub

    summary = Path(os.environ["GITHUB_STEP_SUMMARY"]) if os.environ.get("GITHUB_STEP_SUMMARY") else None
    if args.step == "tested":
        release.tested(GitHub.from_environment())
    elif args.step == "gate":
        return 0 if release.gate(settings, GitHub.from_environment(), summary) else 1
    elif args.step == "bundle":
        release.bundle(settings, args.dist, GitHub.from_environment())
    elif args.step == "image":
        release.push_image(args.dist)
    elif args.step == "publish":
        release.publish(args.dist, GitHub.from_environment())
    elif args.step == "register":
        release.register(settings, args.dist)
    elif args.step == "promote":
        release.promote(release.read_version(args.dist))
    elif args.step == "rollback":
        release.rollback(args.tag, args.reason, GitHub.from_environment(), summary)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command in STAGES:
        return _stage(args)
    if args.command == "show-log":  # wherever the logs are: no params.yaml needed
        return _show_log(args.path, args.last)
    try:
        settings = load_settings(
            args.params,
            check_files=args.command
            not in ("suggest-suite", "report", "monitor", "drift-issue", "check-repro", "pr-comment"),
        )
        if args.command == "check":
            print(f"{args.params}: ok")
        elif args.command == "restore":
            from gitops_ml import restore

            stages = restore.by_inputs()
            print(f"restore: {', '.join(stages)} restored from the run-cache" if stages else "restore: nothing to do")
        elif args.command == "check-repro":
            from gitops_ml import reproducibility

            verdict = reproducibility.check(args.against, settings.reproducibility.metric_tolerance)
            print(verdict.describe(args.against))
            if not verdict.reproduced:
                return 1
        elif args.command == "bento":
            from gitops_ml import bento

            bento.run(settings, args.version)
        elif args.command == "serve":
            from gitops_ml import bento

            bento.serve(settings, args.port)
        elif args.command == "report":
            from gitops_ml import report

            report.run(
                settings,
                args.base,
                args.out,
                repro_succeeded=args.repro_outcome == "success",
                repro_log=args.repro_log,
                pr_number=args.pr_number,
            )
            if args.repro_outcome == "failure":
                print("report: the pipeline failed on this branch; the report says where", file=sys.stderr)
                return 1
        elif args.command == "pr-comment":
            from gitops_ml import pr_comment

            print(f"pr-comment: {pr_comment.run(args.artifact, args.out, pr_comment.CommentJob.from_environment())}")
        elif args.command == "model-card":
            from gitops_ml import model_card

            model_card.run(settings, args.out, args.version)
        elif args.command == "release":
            return _release(args, settings)
        elif args.command == "monitor":
            from gitops_ml import monitor

            if monitor.run(settings, args.reference, args.current, args.out)["drift"]:
                print(f"monitor: drift detected; see {args.out}/drift.md and drift.html", file=sys.stderr)
                return 1
        elif args.command == "drift-issue":
            from gitops_ml import drift_issue
            from gitops_ml.github_api import GitHub

            print(f"drift-issue: {drift_issue.run(args.report, GitHub.from_environment())}")
        elif args.command == "suggest-suite":
            from gitops_ml import suggest_suite

            suggest_suite.run(settings, args.data, args.out, args.margin)
    except PipelineError as exc:
        print(f"{args.command}: error: {exc}", file=sys.stderr)
        return 1
    return 0


def _show_log(path: Path, last: int | None) -> int:
    from gitops_ml import prediction_log

    try:
        prediction_log.print_json_lines(path, last)
    except ValueError as exc:
        print(f"show-log: error: {path}: {exc}", file=sys.stderr)
        return 1
    return 0


def _stage(args: argparse.Namespace) -> int:
    """Run one pipeline stage; when it fails, put back the last good outputs that ``dvc repro`` deleted."""
    try:
        importlib.import_module(f"gitops_ml.{args.command}").run(load_settings(args.params))
    except BaseException as exc:
        from gitops_ml.restore import last_good_outputs

        if isinstance(exc, PipelineError):
            print(f"{args.command}: error: {exc}", file=sys.stderr)
        restored = last_good_outputs(args.command)
        if restored:
            names = ", ".join(str(path) for path in restored)
            print(f"{args.command}: the last good output stays in place: {names} (as in dvc.lock)", file=sys.stderr)
        if not isinstance(exc, PipelineError):
            raise
        return 1
    return 0
