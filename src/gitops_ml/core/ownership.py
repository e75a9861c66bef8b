"""Whose each file of a project is: the team's (its data, settings and results) or the platform's (the rest).

A project started from the template holds both. The difference decides three things:

- what a pull request must run: a change to the team's files alone runs the project checks and the
  fast platform tests; a change to any platform file runs the whole suite (``python -m gitops_ml changes``);
- what the template brings and what ``copier update`` leaves alone (``copier.yml``, which a test of the
  template repository holds to these lists);
- what a platform test's project is made of: the platform's files, never the team's
  (``tests/support.py``), so the suite passes whatever table the team brings.

Patterns are gitignore's, relative to the project's root, written so that Copier's matcher and pathspec's
``GitIgnoreSpec`` agree on them (a file's folder is not matched alone: ``/models/**``, not ``/models``).
"""

from __future__ import annotations

from collections.abc import Iterable

import pathspec

# The team's data, results and texts: no template carries them and no platform test reads them.
PROJECT_STATE = (
    "/dvc.lock",
    "/data/*/**",
    "!/data/expectations/README.md",
    "!/data/external/README.md",
    "/models/**",
    "/reports/evaluation/**",
    "/reports/validation/**",
    "/docs/intended-use.md",
    "/.copier-answers.yml",
)
# Written from the team's answers when the project starts, then the team's to edit; the template's later
# changes to them merge in (copier update), line by line.
PROJECT_SETTINGS = ("/params.yaml", "/README.md", "/.dvc/config")
# What each environment runs: the pins that release, promotion and rollback move.
DEPLOYED = ("/deploy/overlays/*/kustomization.yaml",)


def _spec(patterns: Iterable[str]) -> pathspec.GitIgnoreSpec:
    return pathspec.GitIgnoreSpec.from_lines(patterns)


_THE_TEAMS = _spec(PROJECT_STATE + PROJECT_SETTINGS)
_A_PROJECT_CHANGE = _spec(PROJECT_STATE + PROJECT_SETTINGS + DEPLOYED)


def is_platform_file(path: str) -> bool:
    """Whether ``path`` (relative, with ``/``) is the platform's: what a platform test's project is made of."""
    return not _THE_TEAMS.match_file(path)


def platform_changes(paths: Iterable[str]) -> list[str]:
    """Of the changed ``paths``, those that change the platform rather than the project's data, settings,
    results or deployed versions."""
    return sorted(path for path in paths if not _A_PROJECT_CHANGE.match_file(path))
