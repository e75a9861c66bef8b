"""Which user a bearer token acts as on the team's MLflow server (the server itself: tests/team/test_stack.py)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gitops_ml.team import tracking_auth


def test_a_token_acts_as_its_user_and_the_file_is_read_again_when_it_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tokens = tmp_path / "tokens"
    tokens.write_text(
        "# user sha256\n" + tracking_auth.token_line("ci", "t-ci") + tracking_auth.token_line("ana", "t-a")
    )
    monkeypatch.setenv(tracking_auth.TOKENS_ENV, str(tokens))
    assert [tracking_auth.user_of(token) for token in ("t-ci", "t-a", "t-other", "")] == ["ci", "ana", None, None]
    assert "t-ci" not in tokens.read_text()  # the server holds digests only

    # Revoked: the line is gone, and the next request already knows it.
    tokens.write_text(tracking_auth.token_line("ana", "t-a"))
    os.utime(tokens, ns=(1, 1))
    assert [tracking_auth.user_of(token) for token in ("t-ci", "t-a")] == [None, "ana"]


def test_without_a_tokens_file_no_token_is_accepted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(tracking_auth.TOKENS_ENV, str(tmp_path / "absent"))
    assert tracking_auth.user_of("anything") is None
    monkeypatch.delenv(tracking_auth.TOKENS_ENV)
    assert tracking_auth.user_of("anything") is None
