"""A copy of the template made with GitHub's "Use this template", turned into an adopted project in place.

Such a copy is the template repository as it was, with one fresh commit: the runnable example, the template's
own files (``copier.yml``, the ``.jinja`` files, its tests) and the example's results, and no record of where it
came from, so ``copier update`` could never reach it. ``copier copy --overwrite`` from the template's address
into the copy writes the project as a fresh ``copier copy`` would (and records where it came from); what such a
copy leaves out (``copier.yml``'s ``_exclude``, and the ``.jinja`` sources it renders) is then removed, so the
two ways of starting end in the same files. (The files a project writes once, such as its intended use, are
still the example's in such a copy: they are written afresh.)
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pathspec
import yaml

from gitops_ml.core.errors import PipelineError
from gitops_ml.core.git import git

TEMPLATE_CONFIG = Path("copier.yml")


def adopt(template: str, copier_args: list[str]) -> list[str]:
    """Render the project from ``template`` over this copy of it, then remove the template's own files; those
    files, as git names them."""
    if not TEMPLATE_CONFIG.is_file():
        raise PipelineError(f"no {TEMPLATE_CONFIG} here: this is not a copy of the template (an adopted project "
                            "takes the template's releases with `make template-update`)")  # fmt: skip
    if git("status", "--porcelain"):
        raise PipelineError("the work tree has changes: commit or stash them first (copier writes over files)")
    config = yaml.safe_load(TEMPLATE_CONFIG.read_text()) or {}
    left_out = pathspec.GitIgnoreSpec.from_lines(config.get("_exclude", []))
    tracked = git("ls-files").splitlines()
    templates_own = [name for name in tracked if left_out.match_file(name) or name.endswith(".jinja")]
    # What a project writes once and keeps (the intended use) is still the example's here: written afresh.
    examples = [name for name in config.get("_skip_if_exists", []) if name in tracked]
    for name in examples:
        Path(name).unlink()
    done = subprocess.run([sys.executable, "-m", "copier", "copy", "--trust", "--overwrite", *copier_args,
                           template, "."], check=False)  # fmt: skip
    if done.returncode != 0:
        git("checkout", "--", ".")
        raise PipelineError(f"copier copy from {template} failed (exit {done.returncode}); nothing was removed")
    for name in templates_own:
        Path(name).unlink(missing_ok=True)
    git("add", "-A")
    return templates_own
