"""Shadow traffic: a copy of every model call's records goes to a candidate service, whose answers are never returned.

The copy is made here, in the champion, rather than by a mesh or an ingress (Istio's ``mirror``,
nginx's ``mirror``): the template needs no mesh, and only the champion knows the ids it gave the
records, which the copy carries (records sent with an id column keep it; the others' generated
ids go as ``X-Request-IDs`` runs), so the candidate logs its predictions under the same ids and
``compare-live`` joins the two logs exactly. A request only puts
the call's records on a bounded backlog; one background thread sends what gathered every
``LINGER_SECONDS`` as ``/predict_batch`` requests over a kept-alive connection, so the copy costs
the champion an append per call and a few requests a second. A slow or failing candidate costs
it nothing but the dropped copies, counted by outcome (``on_outcome``: sent, failed, dropped).

Set by environment: ``GITOPS_ML_SHADOW_URL`` (the candidate's base URL, for example
``http://gitops-ml-shadow``; unset: no copies) and ``GITOPS_ML_SHADOW_TIMEOUT`` (seconds per copy,
default 5). Ships in the Bento.
"""

from __future__ import annotations

import http.client
import logging
import os
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlsplit

import orjson

URL_VARIABLE, TIMEOUT_VARIABLE = "GITOPS_ML_SHADOW_URL", "GITOPS_ML_SHADOW_TIMEOUT"
REQUEST_ID_HEADER = "X-Request-ID"
REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
# The copy of several model calls in one request: `<request id>:<count>,...` names the records in
# order, `<request id>-<position>` within each run, as each call named them.
RUNS_HEADER = "X-Request-IDs"
MAX_RUNS_PER_COPY = 200  # keeps the header under 16 KB, which uvicorn accepts
MAX_PENDING_CALLS = 1_000  # copies waiting for the candidate, at most; past it they are dropped and counted
LINGER_SECONDS = 0.1  # how long the sender gathers calls into one request to the candidate
MAX_RECORDS_PER_COPY = int(os.environ.get("GITOPS_ML_MAX_RECORDS", "1000"))  # what /predict_batch takes
WARN_EVERY_SECONDS = 60
logger = logging.getLogger("bentoml.gitops_ml.shadow")


class ShadowError(ValueError):
    pass


Runs = list[tuple[str, int]]


def parse_runs(sent: str | None, records: int) -> Runs | None:
    """``X-Request-IDs`` as runs, when every run is a plain token and a count and they cover the records."""
    if not sent:
        return None
    runs: Runs = []
    for part in sent.split(",", MAX_RUNS_PER_COPY):
        token, _, count = part.strip().rpartition(":")
        if not REQUEST_ID.match(token) or not count.isdigit() or int(count) < 1:
            return None
        runs.append((token, int(count)))
    return runs if len(runs) <= MAX_RUNS_PER_COPY and sum(c for _, c in runs) == records else None


def expand(runs: Runs) -> list[str]:
    return [f"{token}-{position}" for token, count in runs for position in range(count)]


def request_id(sent: str | None, generated: Callable[[], str]) -> str:
    """The caller's ``X-Request-ID`` when it is a plain token (it prefixes the records' ids), else a new one."""
    return sent if sent is not None and REQUEST_ID.match(sent) else generated()


class Shadow:
    def __init__(self, url: str, timeout: float, on_outcome: Callable[[str, int], None]) -> None:
        parts = urlsplit(url)
        self.endpoint = url.rstrip("/") + "/predict_batch"
        self.target = (parts.scheme, parts.netloc, parts.path.rstrip("/") + "/predict_batch")
        self.timeout = timeout
        self.on_outcome = on_outcome
        # Calls waiting for the sender: a deque, so that a request's copy is an append, with no lock to take and
        # no thread to wake (a queue's notify per call cost the champion's answers a tenth of their time).
        self.pending: deque[tuple[Sequence[dict[str, Any]], Runs]] = deque()
        self.stopping = threading.Event()
        self.warned_at = 0.0
        self.thread = threading.Thread(target=self._send_all, name="gitops-ml-shadow", daemon=True)
        self.thread.start()

    @classmethod
    def from_environment(cls, on_outcome: Callable[[str, int], None]) -> Shadow | None:
        url = os.environ.get(URL_VARIABLE, "").strip()
        if not url:
            return None
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
            raise ShadowError(f"{URL_VARIABLE}: {url!r} is not an http(s) base URL like http://gitops-ml-shadow")
        try:
            timeout = float(os.environ.get(TIMEOUT_VARIABLE, "5"))
        except ValueError:
            timeout = -1.0
        if not 0 < timeout <= 60:
            raise ShadowError(
                f"{TIMEOUT_VARIABLE}: expected seconds between 0 and 60, got {os.environ[TIMEOUT_VARIABLE]!r}"
            )
        logger.info("shadow: copying every model call to %s", url)
        return cls(url, timeout, on_outcome)

    def copy(self, records: Sequence[dict[str, Any]], runs: Runs) -> None:
        """Keep a copy of one model call's records and the runs naming them; never waits, never wakes the sender
        (a full backlog drops it)."""
        if len(self.pending) >= MAX_PENDING_CALLS:
            self._failed("dropped", len(records), "the candidate is slower than the traffic")
        else:
            self.pending.append((records, runs))  # atomic: the sender takes from the other end

    def close(self, timeout: float = 5.0) -> None:
        """Send what is kept (for at most ``timeout`` seconds), then stop."""
        self.stopping.set()
        self.thread.join(timeout)

    def _send_all(self) -> None:
        """Every ``LINGER_SECONDS``, send what gathered, in copies of at most ``MAX_RECORDS_PER_COPY`` records."""
        connection: http.client.HTTPConnection | None = None
        while True:
            stopping = self.stopping.wait(LINGER_SECONDS)
            records: list[dict[str, Any]] = []
            runs: Runs = []
            while self.pending:
                call_records, call_runs = self.pending.popleft()
                if records and (
                    len(records) + len(call_records) > MAX_RECORDS_PER_COPY
                    or len(runs) + len(call_runs) > MAX_RUNS_PER_COPY
                ):
                    connection = self._send(connection, records, runs)
                    records, runs = [], []
                records += call_records
                runs += call_runs
            if records:
                connection = self._send(connection, records, runs)
            if stopping:
                return

    def _send(
        self, connection: http.client.HTTPConnection | None, records: list[dict[str, Any]], runs: Runs
    ) -> http.client.HTTPConnection | None:
        """Post one copy; return the connection to reuse (None after a failure: the next copy reconnects)."""
        scheme, host, path = self.target
        body = orjson.dumps({"records": records})
        named = ",".join(f"{token}:{count}" for token, count in runs)
        headers = {"Content-Type": "application/json", RUNS_HEADER: named}
        try:
            if connection is None:
                kind = http.client.HTTPSConnection if scheme == "https" else http.client.HTTPConnection
                connection = kind(host, timeout=self.timeout)
            connection.request("POST", path, body, headers)
            answer = connection.getresponse()
            answer.read()
            outcome = "sent" if answer.status < 400 else f"answered {answer.status}"
        except (OSError, http.client.HTTPException) as error:
            outcome = f"{type(error).__name__} {error}"
        if outcome == "sent":
            self.on_outcome("sent", len(records))
            return connection
        if connection is not None:
            connection.close()
        self._failed("failed", len(records), outcome)
        return None

    def _failed(self, outcome: str, count: int, reason: str) -> None:
        self.on_outcome(outcome, count)
        now = time.monotonic()
        if now - self.warned_at >= WARN_EVERY_SECONDS:
            self.warned_at = now
            logger.warning(
                "shadow: %s %d records for %s: %s (counted in /metrics)", outcome, count, self.endpoint, reason
            )
