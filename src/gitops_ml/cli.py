"""Command line: ``python -m gitops_ml <command>``, one command per pipeline stage plus helpers.

Each command is one handler below, registered with its name, help and arguments where it is
defined. Modules are imported only when their command runs, so ``check`` answers in a fraction of
a second and no command pays for another's imports (Great Expectations alone takes seconds).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gitops_ml.core import paths
from gitops_ml.core.errors import DataError, DataValidationError, PipelineError
from gitops_ml.core.settings import PARAMS_FILE, Settings, check_stage_keys, load_settings

STAGES = ("ingest", "validate", "split", "train", "evaluate", "package")


@dataclass(frozen=True)
class Argument:
    flags: tuple[str, ...]
    options: dict[str, Any]


def arg(*flags: str, **options: Any) -> Argument:
    return Argument(flags, options)


@dataclass(frozen=True)
class Command:
    help: str
    run: Callable[[argparse.Namespace], int | None]
    configure: Callable[[argparse.ArgumentParser], None]


COMMANDS: dict[str, Command] = {}


def command(
    name: str, help: str, *arguments: Argument, configure: Callable[[argparse.ArgumentParser], None] | None = None
) -> Callable[[Callable[[argparse.Namespace], int | None]], Callable[[argparse.Namespace], int | None]]:
    """Register the decorated handler as ``name``; it returns the exit code (None: 0)."""

    def add_arguments(parser: argparse.ArgumentParser) -> None:
        for argument in arguments:
            parser.add_argument(*argument.flags, **argument.options)
        if configure is not None:
            configure(parser)

    def register(run: Callable[[argparse.Namespace], int | None]) -> Callable[[argparse.Namespace], int | None]:
        COMMANDS[name] = Command(help, run, add_arguments)
        return run

    return register


def settings(args: argparse.Namespace, *, check_files: bool = True) -> Settings:
    """params.yaml (``--params``), checked; ``check_files`` also checks that the files it names exist."""
    return load_settings(args.params, check_files=check_files)


def _stage(args: argparse.Namespace) -> int:
    """Run one pipeline stage; when it fails, put back the last good outputs that ``dvc repro`` deleted."""
    try:
        importlib.import_module(f"gitops_ml.pipeline.{args.command}").run(settings(args))
    except BaseException as exc:
        from gitops_ml.pipeline.restore import last_good_outputs

        if isinstance(exc, PipelineError):
            print(f"{args.command}: error: {exc}", file=sys.stderr)
        restored = last_good_outputs(args.command, only_missing=isinstance(exc, DataValidationError))
        if restored:
            names = ", ".join(str(path) for path in restored)
            print(f"{args.command}: the last good output stays in place: {names} (as in dvc.lock)", file=sys.stderr)
        if not isinstance(exc, PipelineError):
            raise
        return 1
    return 0


for _name in STAGES:
    command(_name, f"run the {_name} stage (dvc repro runs them in order)")(_stage)


@command(
    "check",
    "check params.yaml, the keys the stages read and the files it names, then exit",
    arg("--no-data", action="store_true", help="a data file DVC tracks may be absent (not pulled)"),
)
def _check(args: argparse.Namespace) -> None:
    load_settings(args.params, pulled=not args.no_data)
    check_stage_keys(args.params)
    print(f"{args.params}: ok")


@command("check-results", "whether the results in the work tree follow from its params, code, suites and data versions")
def _check_results(args: argparse.Namespace) -> int:
    from gitops_ml.pipeline.status import stale_results

    stale = stale_results()
    if stale:
        print(f"the results do not follow from the inputs ({len(stale)} changes since they were made):")
        print("\n".join(f"  - {line}" for line in stale))
        print("Run `make repro` and commit dvc.lock and the results it changed.")
        return 1
    print("the results follow from the inputs: params, code, suites and data versions.")
    return 0


@command(
    "init",
    "after copier copy: the data file in place, tracked by DVC, and its expectation suite drafted",
    arg("--data-file", type=Path, help="the table to copy to data.path (a project that has it there: omit)"),
)
def _init(args: argparse.Namespace) -> None:
    from gitops_ml.adoption.start import start

    for line in start(settings(args, check_files=False), args.data_file):
        print(f"init: {line}")
    print("init: ready; next: git add -A && git commit, then make repro")


@command(
    "changes",
    "whether the changes since BASE touch the platform (first word: platform) or only the project's data, "
    "params, results and deployed versions (project): what a pull request's tests must cover",
    arg("--base", default="origin/main", help="the branch the changes go to (default: %(default)s)"),
)
def _changes(args: argparse.Namespace) -> None:
    from gitops_ml.core.git import changed_since
    from gitops_ml.core.ownership import platform_changes

    try:
        changed = changed_since(args.base)
    except PipelineError as error:
        print(f"platform: cannot tell the changes from {args.base} ({error}), so all of them count")
        return
    platform = platform_changes(changed)
    shown = ", ".join(platform[:5]) + (f" and {len(platform) - 5} more" if len(platform) > 5 else "")
    print(f"platform: {shown}" if platform else f"project: {', '.join(changed[:5]) or 'nothing changed'}")


@command(
    "template-update",
    "bring the template's newest release (copier update): a pull request with GITHUB_TOKEN, else in the work tree",
)
def _template_update(args: argparse.Namespace) -> None:
    from gitops_ml.adoption import update
    from gitops_ml.core.github_api import GitHub

    print(update.run(GitHub.from_environment() if os.environ.get("GITHUB_TOKEN") else None))


@command(
    "adopt",
    'turn a copy made with GitHub\'s "Use this template" into an adopted project (copier copy over it)',
    arg("--template", required=True, help="the template's address, as copier takes it (gh:owner/name, a URL)"),
    arg("copier_args", nargs=argparse.REMAINDER, help="more options for copier copy (--vcs-ref, --defaults, --data)"),
)
def _adopt(args: argparse.Namespace) -> None:
    from gitops_ml.adoption.adopt import adopt

    removed = adopt(args.template, [a for a in args.copier_args if a != "--"])
    print(f"adopt: the template's own files removed ({len(removed)}), the project staged in git; next: git commit, "
          "then make repro")  # fmt: skip


@command("restore", "restore unchanged stages' outputs from DVC's run-cache (after dvc pull)")
def _restore(args: argparse.Namespace) -> None:
    from gitops_ml.pipeline import restore

    settings(args)
    stages = restore.by_inputs()
    print(f"restore: {', '.join(stages)} restored from the run-cache" if stages else "restore: nothing to do")


@command(
    "check-repro",
    "whether the work tree reproduces a commit's results (the cross-machine contract)",
    arg("--against", default="HEAD", help="git revision of the results (default: %(default)s)"),
)
def _check_repro(args: argparse.Namespace) -> int:
    from gitops_ml.pipeline import reproducibility

    verdict = reproducibility.check(args.against, settings(args, check_files=False).reproducibility.metric_tolerance)
    print(verdict.describe(args.against))
    return 0 if verdict.reproduced else 1


@command(
    "bento",
    "build the Bento from the packaged model (offline)",
    arg("--version", help="Bento version (default: g<commit>, -dirty when the tree differs)"),
)
def _bento(args: argparse.Namespace) -> None:
    from gitops_ml.release import bento

    bento.run(settings(args), args.version)


@command("serve", "build the Bento when needed and serve it on 127.0.0.1", arg("--port", type=int, default=3000))
def _serve(args: argparse.Namespace) -> None:
    from gitops_ml.release import bento

    bento.serve(settings(args), args.port)


@command(
    "report",
    "compare this branch's pipeline results with a base branch's",
    arg("--base", default="origin/main", help="git revision to compare with (default: %(default)s)"),
    arg("--out", type=Path, default=Path("reports/pr"), help="report folder (default: %(default)s)"),
    arg("--repro-outcome", choices=["success", "failure"], default="success", help="how `dvc repro` ended"),
    arg("--repro-log", type=Path, help="dvc repro's output, to name the stage that failed"),
    arg("--pr-number", help="pull request number, written beside the report for the comment job"),
)
def _report(args: argparse.Namespace) -> int:
    from gitops_ml.report import build

    build.run(
        settings(args, check_files=False),
        args.base,
        args.out,
        repro_succeeded=args.repro_outcome == "success",
        repro_log=args.repro_log,
        pr_number=args.pr_number,
    )
    if args.repro_outcome == "failure":
        print("report: the pipeline failed on this branch; the report says where", file=sys.stderr)
        return 1
    return 0


@command(
    "pr-comment",
    "post a report artifact as its pull request's one comment",
    arg("--artifact", type=Path, default=Path("reports/pr"), help="(default: %(default)s)"),
    arg("--out", type=Path, default=Path("reports/pr-comment"), help="(default: %(default)s)"),
)
def _pr_comment(args: argparse.Namespace) -> None:
    from gitops_ml.report import comment

    settings(args, check_files=False)
    print(f"pr-comment: {comment.run(args.artifact, args.out, comment.CommentJob.from_environment())}")


@command(
    "model-card",
    "write the model card of the current model (Markdown)",
    arg("--out", type=Path, default=Path("reports/model_card.md"), help="(default: %(default)s)"),
    arg("--version", help="release version to name in the card (default: unreleased)"),
)
def _model_card(args: argparse.Namespace) -> None:
    from gitops_ml.release import model_card

    model_card.run(settings(args), args.out, args.version)


def _release_steps(parser: argparse.ArgumentParser) -> None:
    steps = parser.add_subparsers(dest="step", required=True, metavar="STEP")
    steps.add_parser("tested", help="exit 1 unless ci.yml passed on this commit")
    steps.add_parser("gate", help="compare the metrics with the release in production's; exit 1 on a regression")
    for name, text in (("bundle", "build, export and describe the release"),
                       ("image", "build and push the image (:version, :commit)"),
                       ("publish", "create or finish the GitHub release, then publish it as latest"),
                       ("register", "register the model in MLflow (with a tracking server)")):  # fmt: skip
        step = steps.add_parser(name, help=text)
        step.add_argument("--dist", type=Path, default=Path("dist"), help="release folder (default: %(default)s)")


@command("release", "a release step from main (see make release-*)", configure=_release_steps)
def _release(args: argparse.Namespace) -> int:
    from gitops_ml.core.github_api import GitHub
    from gitops_ml.release import steps

    chosen = settings(args)
    summary = Path(os.environ["GITHUB_STEP_SUMMARY"]) if os.environ.get("GITHUB_STEP_SUMMARY") else None
    actions: dict[str, Callable[[], object]] = {
        "tested": lambda: steps.tested(GitHub.from_environment()),
        "gate": lambda: steps.gate(chosen, GitHub.from_environment(), summary),
        "bundle": lambda: steps.bundle(chosen, args.dist, GitHub.from_environment()),
        "image": lambda: steps.push_image(args.dist),
        "publish": lambda: steps.publish(args.dist, GitHub.from_environment()),
        "register": lambda: steps.register(chosen, args.dist),
    }
    passed = actions[args.step]()
    return 1 if args.step == "gate" and not passed else 0


def _deploy_actions(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    stage = actions.add_parser("stage", help="move staging to the release in --dist (pull request, or commit)")
    stage.add_argument("--dist", type=Path, default=Path("dist"), help="release folder (default: %(default)s)")
    stage.add_argument("--commit", action="store_true", help="commit to main instead of opening a pull request")
    promote = actions.add_parser("promote", help="open the pull request moving production to a release")
    promote.add_argument("--tag", required=True, help="the release (like v2026.11.25-g1a2b3c4)")
    promote.add_argument("--live", type=Path, help="Markdown of compare-live to add to the pull request")
    rollback = actions.add_parser("rollback", help="open the pull request moving production back to a release")
    rollback.add_argument("--tag", required=True, help="the release to return to")
    rollback.add_argument("--reason", required=True, help="why, for the pull request")
    actions.add_parser("follow", help="make what production pins the MLflow champion and :prod")


@command("deploy", "move an environment through git (see make promote, rollback)", configure=_deploy_actions)
def _deploy(args: argparse.Namespace) -> None:
    from gitops_ml.core.github_api import GitHub
    from gitops_ml.release import promotion

    github = GitHub.from_environment()
    if args.action == "stage":
        promotion.stage(args.dist, github, commit_directly=args.commit)
    elif args.action == "promote":
        promotion.promote(settings(args, check_files=False), args.tag, github, args.live)
    elif args.action == "rollback":
        promotion.rollback(settings(args, check_files=False), args.tag, args.reason, github)
    else:
        promotion.follow(github)


@command(
    "team-stack",
    "run the team's servers here until Ctrl-C: PostgreSQL, S3 (moto) and mlflow server on them (docs/team.md)",
    arg("--dir", type=Path, default=Path(".team-stack"), help="logs and the env file to source (default: %(default)s)"),
)
def _team_stack(args: argparse.Namespace) -> None:
    from gitops_ml.team import stack

    stack.serve(args.dir)


@command(
    "compare-live",
    "compare a shadow candidate with the champion on their prediction logs, joined by record id (Markdown)",
    arg("--champion", type=Path, required=True, help="the champion's prediction log (.jsonl, or a folder of logs)"),
    arg("--candidate", type=Path, required=True, help="the candidate's prediction log, fed by the shadow copy"),
    arg("--outcomes", type=Path, help="CSV or Parquet with the id columns and the target, as outcomes arrive"),
    arg("--out", type=Path, help="also write the Markdown here (for deploy promote --live)"),
)
def _compare_live(args: argparse.Namespace) -> None:
    from gitops_ml.core.files import write_text
    from gitops_ml.monitoring import compare_live

    chosen = settings(args, check_files=False)
    outcomes = None
    if args.outcomes is not None:
        outcomes = compare_live.read_outcomes(args.outcomes, list(chosen.data.id_columns), chosen.data.target)
    text = compare_live.report(compare_live.join(args.champion, args.candidate), outcomes)
    print(text, end="")
    if args.out is not None:
        write_text(args.out, text)


@command(
    "monitor",
    "drift report of current data against the training data",
    arg("--current", type=Path, required=True, help="prediction log (.jsonl), a folder of logs, or a CSV/Parquet file"),
    arg("--reference", type=Path, default=paths.TRAIN_DATA, help="(default: %(default)s)"),
    arg("--out", type=Path, default=paths.MONITORING_DIR, help="(default: %(default)s)"),
)
def _monitor(args: argparse.Namespace) -> int:
    from gitops_ml.monitoring import drift

    if drift.run(settings(args, check_files=False), args.reference, args.current, args.out)["drift"]:
        print(f"monitor: drift detected; see {args.out}/drift.md and drift.html", file=sys.stderr)
        return 1
    return 0


@command(
    "show-log",
    "print a prediction log's records as JSON lines (for jq)",
    arg("path", type=Path, help="a log file (.jsonl, rotated .jsonl.N) or the folder of them"),
    arg("--last", type=int, help="only the last N records"),
)
def _show_log(args: argparse.Namespace) -> None:
    from gitops_ml.serving import prediction_log

    try:  # wherever the logs are: no params.yaml needed
        prediction_log.print_json_lines(args.path, args.last)
    except ValueError as exc:
        raise DataError(f"{args.path}: {exc}") from None


@command("params-reference", "print the parameter reference (docs/parameters.md) from the settings model")
def _params_reference(args: argparse.Namespace) -> None:
    from gitops_ml.core import params_reference

    print(params_reference.render())


@command(
    "drift-issue",
    "open or update the GitHub drift issue from a drift report",
    arg("--report", type=Path, default=paths.MONITORING_DIR, help="(default: %(default)s)"),
)
def _drift_issue(args: argparse.Namespace) -> None:
    from gitops_ml.core.github_api import GitHub
    from gitops_ml.monitoring import drift_issue

    settings(args, check_files=False)
    print(f"drift-issue: {drift_issue.run(args.report, GitHub.from_environment())}")


@command(
    "suggest-suite",
    "draft an expectation suite from a data file",
    arg("--data", type=Path, required=True, help="CSV or Parquet file to describe"),
    arg("--out", type=Path, required=True, help="where to write the suite JSON"),
    arg("--margin", type=float, default=0.1, help="widen numeric ranges by this share"),
)
def _suggest_suite(args: argparse.Namespace) -> None:
    from gitops_ml.pipeline import suggest_suite

    suggest_suite.run(settings(args, check_files=False), args.data, args.out, args.margin)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gitops-ml", description="The ML pipeline, one command per DVC stage, plus helpers."
    )
    parser.add_argument("--params", type=Path, default=PARAMS_FILE, help="settings file (default: %(default)s)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, registered in COMMANDS.items():
        registered.configure(commands.add_parser(name, help=registered.help))
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command].run(args) or 0
    except PipelineError as exc:
        print(f"{args.command}: error: {exc}", file=sys.stderr)
        return 1
