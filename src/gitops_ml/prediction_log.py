"""The service's prediction log: every predicted request as it was sent, with its predictions.

One JSON line per request: ``{"logged_at": <unix time>, "prediction": {"id": [...], "label": [...],
"probability": [...]}, "request": <the request body as sent>}``. The body passed validation, so it
is JSON holding exactly the records (features, id columns as sent) and nothing else. Logging it as
it came costs no serialization: a request hands its body and predictions to a queue, and a
background thread joins them into a line and appends it to a size-rotated file, without holding
the GIL while it writes. ``read`` turns these files back into one row per record, with
``prediction_id``, ``prediction_label``, ``prediction_probability`` and ``logged_at``
(``python -m gitops_ml monitor --current <log>``).

A log that cannot be written at start stops the service with one line naming the path
(``PredictionLogError``); a write that fails later (a full disk) drops that request's records,
counts them (``on_dropped``, the service's ``/metrics``) and logs one warning per minute, while
predictions go on.

Set by environment: ``GITOPS_ML_PREDICTION_LOG`` (the file; ``off`` turns logging off; a relative
path is under BentoML's home folder, by default ``prediction-log/predictions.jsonl``; ``make serve``
logs into the project's ``prediction-log/``, the container image onto its declared volume),
``GITOPS_ML_PREDICTION_LOG_MAX_MB`` (size at which the file rotates, default 50) and
``GITOPS_ML_PREDICTION_LOG_FILES`` (rotated files kept, default 5). Ships in the Bento.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    import pandas as pd

PATH_VARIABLE, DEFAULT_PATH = "GITOPS_ML_PREDICTION_LOG", "prediction-log/predictions.jsonl"
# The columns ``read`` gives each record beside its features and id columns; ``monitor`` reads the probability.
ID_FIELD, LABEL_FIELD, PROBABILITY_FIELD, TIME_FIELD = (
    "prediction_id",
    "prediction_label",
    "prediction_probability",
    "logged_at",
)
WARN_EVERY_SECONDS = 60
WRITE_INTERVAL_SECONDS = 0.05
logger = logging.getLogger("gitops_ml.prediction_log")


class PredictionLogError(Exception):
    """The log cannot be written where it is configured; the message names the path and the reason."""


class PredictionLog:
    def __init__(
        self, path: Path, max_bytes: int, backups: int, on_dropped: Callable[[int], None] | None = None
    ) -> None:
        self.path, self.max_bytes, self.backups = path, max_bytes, backups
        self._file = _open(path)
        self._on_dropped = on_dropped or (lambda count: None)
        self._last_warning = 0.0
        self._queue: queue.SimpleQueue[tuple[float, bytes, Mapping[str, Sequence[Any]]] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._write, name="prediction-log", daemon=True)
        self._thread.start()

    @classmethod
    def from_environment(cls, on_dropped: Callable[[int], None] | None = None) -> PredictionLog | None:
        """The log the environment asks for, or None when it is turned off; PredictionLogError if unwritable."""
        path = configured_path()
        if path is None:
            return None
        max_bytes = int(float(os.environ.get("GITOPS_ML_PREDICTION_LOG_MAX_MB", "50")) * 1_000_000)
        return cls(path, max_bytes, int(os.environ.get("GITOPS_ML_PREDICTION_LOG_FILES", "5")), on_dropped)

    def add(self, request: bytes, predictions: Mapping[str, Sequence[Any]]) -> None:
        """Queue one request: its body (a JSON object holding ``records``) and its predictions by field."""
        self._queue.put((time.time(), request, predictions))

    def close(self) -> None:
        """Write what is queued, then stop."""
        self._queue.put(None)
        self._thread.join(timeout=30)
        self._file.close()

    def _write(self) -> None:
        while True:
            calls = [self._queue.get()]
            with contextlib.suppress(queue.Empty):
                while True:
                    calls.append(self._queue.get_nowait())
            for call in calls:
                if call is None:
                    return
                self._write_call(*call)
            # Woken once per interval, not once per request: a thread switch per request cost more than the
            # writing. A process killed outright loses at most this much; SIGTERM writes everything.
            time.sleep(WRITE_INTERVAL_SECONDS)

    def _write_call(self, logged_at: float, request: bytes, predictions: Mapping[str, Sequence[Any]]) -> None:
        try:
            if b"\n" in request or b"\r" in request:  # JSON allows line breaks between tokens only
                request = request.replace(b"\r", b" ").replace(b"\n", b" ")
            head = orjson.dumps({TIME_FIELD: logged_at, "prediction": predictions})
            self._append(b"".join((head[:-1], b',"request":', request, b"}\n")))
        except (OSError, TypeError, ValueError) as error:
            self._dropped(len(next(iter(predictions.values()), ())), error)

    def _append(self, line: bytes) -> None:
        if self.max_bytes and self._file.tell() and self._file.tell() + len(line) > self.max_bytes:
            self._rotate()
        remaining = memoryview(line)
        while remaining:  # unbuffered: nothing is left half-written in a buffer when the disk is full
            remaining = remaining[self._file.write(remaining) :]

    def _rotate(self) -> None:
        self._file.close()
        if self.backups:
            for index in range(self.backups - 1, 0, -1):
                older = self.path.with_name(f"{self.path.name}.{index}")
                if older.exists():
                    older.replace(self.path.with_name(f"{self.path.name}.{index + 1}"))
            self.path.replace(self.path.with_name(f"{self.path.name}.1"))
        else:
            self.path.unlink(missing_ok=True)
        self._file = _open(self.path)

    def _dropped(self, count: int, error: Exception) -> None:
        self._on_dropped(count)
        with_reason = f"prediction log {self.path}: {count} records not written: {error}"
        now = time.monotonic()
        if now - self._last_warning >= WARN_EVERY_SECONDS:
            self._last_warning = now
            logger.warning("%s (counted in gitops_ml_prediction_log_dropped_total; warned once a minute)", with_reason)
        # A failed write may leave part of a line: start the next one on a line of its own.
        with contextlib.suppress(OSError):
            self._file.write(b"\n")


def configured_path() -> Path | None:
    """The log file GITOPS_ML_PREDICTION_LOG names (the service takes a relative one under BentoML's home)."""
    chosen = os.environ.get(PATH_VARIABLE, DEFAULT_PATH)
    return None if chosen.strip().lower() in ("", "off", "false", "0") else Path(chosen)


def check_writable(path: Path) -> None:
    """Raise PredictionLogError naming the path unless the log can be created or appended to there."""
    _open(path).close()


def _open(path: Path) -> Any:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return path.open("ab", buffering=0)
    except OSError as error:
        blocking = next((p for p in (path.parent, *path.parent.parents) if p.exists()), None)
        reason = error.strerror or type(error).__name__
        if blocking is not None and not blocking.is_dir():
            reason = f"{blocking} is a file, not a folder"
        raise PredictionLogError(f"prediction log {path} cannot be written: {reason}") from None


def read(path: Path) -> pd.DataFrame:
    """One row per logged record, from a log file (also one record per line, as earlier versions wrote).

    A line cut short (the process was killed mid-write) or that is not JSON raises ValueError naming
    the line, except the file's last line, which a writer may still be finishing: that one is skipped.
    """
    import pandas as pd

    rows: list[dict[str, Any]] = []
    lines = path.read_bytes().splitlines()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            entry = orjson.loads(line)
        except orjson.JSONDecodeError as error:
            if number == len(lines):
                break
            raise ValueError(f"line {number} is not JSON ({error})") from None
        if not isinstance(entry, dict):
            raise ValueError(f"line {number} is not a JSON object")
        rows.extend(_records(entry, number))
    return pd.DataFrame(rows)


def _records(entry: dict[str, Any], number: int) -> list[dict[str, Any]]:
    if "request" not in entry:  # one record per line
        return [entry]
    records = entry["request"].get("records") if isinstance(entry["request"], dict) else None
    records = [records] if isinstance(records, dict) else records
    prediction = entry.get("prediction") or {}
    fields = {ID_FIELD: "id", LABEL_FIELD: "label", PROBABILITY_FIELD: "probability"}
    if not isinstance(records, list) or any(len(prediction.get(f, ())) != len(records) for f in fields.values()):
        raise ValueError(f"line {number}: the request's records and the predictions do not match")
    return [
        {**record, **{column: prediction[f][i] for column, f in fields.items()}, TIME_FIELD: entry.get(TIME_FIELD)}
        for i, record in enumerate(records)
    ]
