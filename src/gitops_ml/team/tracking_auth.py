"""Tokens for the team's MLflow server: CI and scripts send ``Authorization: Bearer <token>``.

MLflow's client sends ``MLFLOW_TRACKING_TOKEN`` as a bearer token, but MLflow's ``basic-auth`` app
(3.x) checks only user names and passwords. It takes its check from its config file, so this module
plugs in there (``authorization_function = gitops_ml.team.tracking_auth:authenticate``):

- a bearer token is hashed and looked up in the file that ``GITOPS_ML_TRACKING_TOKENS`` names, one
  line per token, ``<user> <sha256 hex of the token>``: the server never holds a token itself, and
  a line added or removed counts from the next request. The request then acts as that user, whose
  permissions in MLflow's auth database apply (the user must exist there);
- anything else goes to MLflow's own check: people sign in to the UI with their name and password.

It imports only Flask, Werkzeug and MLflow, so a server image may carry this one file instead of the
project (``authorization_function = tracking_auth:authenticate`` with the file on ``PYTHONPATH``).
"""

from __future__ import annotations

import hashlib
import hmac
import os
from pathlib import Path
from typing import Any

TOKENS_ENV = "GITOPS_ML_TRACKING_TOKENS"

_cache: dict[str, Any] = {"key": None, "entries": []}


def token_line(user: str, token: str) -> str:
    """The tokens file's line for ``user``'s ``token``."""
    return f"{user} {hashlib.sha256(token.encode()).hexdigest()}\n"


def authenticate() -> Any:
    """MLflow's auth hook: an ``Authorization`` naming the user, or a 401 response saying what was wrong."""
    from flask import request

    scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        from mlflow.server.auth import authenticate_request_basic_auth

        return authenticate_request_basic_auth()
    user = user_of(presented.strip())
    if user is None:
        return _unauthorized("The bearer token is not one of this server's (MLFLOW_TRACKING_TOKEN).")
    from werkzeug.datastructures import Authorization

    return Authorization("bearer", {"username": user}, token=presented.strip())


def user_of(token: str) -> str | None:
    """The user whose token this is; None for an unknown or empty token, or without a tokens file."""
    if not token:
        return None
    digest = hashlib.sha256(token.encode()).hexdigest()
    found = None
    for user, known in _entries():
        # Every entry is compared, in constant time: how long an answer takes says nothing about a token.
        if hmac.compare_digest(digest, known):
            found = user
    return found


def _entries() -> list[tuple[str, str]]:
    """The tokens file's (user, digest) lines, read again when the file changes."""
    path = Path(os.environ.get(TOKENS_ENV, ""))
    try:
        stat = path.stat() if path.name else None
    except OSError:
        stat = None
    key = (str(path), stat.st_mtime_ns, stat.st_size) if stat else None
    if key != _cache["key"]:
        lines = path.read_text().splitlines() if stat is not None else []
        entries = [(f[0], f[1].lower()) for f in map(str.split, lines) if len(f) == 2 and not f[0].startswith("#")]
        _cache.update(key=key, entries=entries)
    return list(_cache["entries"])


def _unauthorized(message: str) -> Any:
    from flask import make_response

    response = make_response(message, 401)
    response.headers["WWW-Authenticate"] = 'Bearer realm="mlflow"'
    return response
