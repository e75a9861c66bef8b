"""The service's prediction log: every predicted record with its features, id and prediction.

One JSON line per model call, columnar: ``{"logged_at": <unix time>, "columns": {<column>: [values],
...}}`` with the record's features, its id columns as sent, ``prediction_id``, ``model_ms`` (the
model call's duration), the prediction (``prediction_label`` and ``prediction_probability`` of a class, or
``prediction_value``). A request only hands its columns (the arrays the
model already read) to a queue; a background thread serializes them with orjson, which is a copy of
the arrays rather than a dict per record, and appends to a size-rotated file. ``read`` turns these
files back into one row per record (``python -m gitops_ml monitor --current <log>``).

A log that cannot be written at start stops the service with one line naming the path
(``PredictionLogError``); a write that fails later (a full disk) drops that call's records, cuts off
what it wrote of them, counts them (``on_dropped``, the service's ``/metrics``) and logs one warning
per minute, while predictions go on. A line a killed process left half-written is cut off at the next
start, so the file always ends on a whole line. ``python -m gitops_ml show-log`` prints the records
one per line, for jq.

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
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    import pandas as pd

PATH_VARIABLE, DEFAULT_PATH = "GITOPS_ML_PREDICTION_LOG", "prediction-log/predictions.jsonl"
# The columns each record gets beside its features and id columns, by task (serving.answers);
# ``monitor`` reads the prediction back: the probability (binary), label (multiclass) or value.
ID_FIELD, LABEL_FIELD, PROBABILITY_FIELD, VALUE_FIELD, TIME_FIELD = (
    "prediction_id",
    "prediction_label",
    "prediction_probability",
    "prediction_value",
    "logged_at",
)
MODEL_MS_FIELD = "model_ms"  # how long the model call that predicted the record took
WARN_EVERY_SECONDS = 60
WRITE_INTERVAL_SECONDS = 0.05
# Records waiting for the writer, at most: past it (a disk far slower than the traffic), a request's
# records are dropped and counted rather than held in memory without bound.
MAX_BACKLOG_RECORDS = 200_000
logger = logging.getLogger(__name__)


class PredictionLogError(Exception):
    """The log cannot be written where it is configured; the message names the path and the reason."""


class PredictionLog:
    def __init__(
        self, path: Path, max_bytes: int, backups: int, on_dropped: Callable[[int], None] | None = None
    ) -> None:
        self.path, self.max_bytes, self.backups = path, max_bytes, backups
        _open(path).close()
        _cut_partial_line(path)
        self._file = _open(path)
        self._written = self._file.tell()  # the end of the last whole line
        self._on_dropped = on_dropped or (lambda count: None)
        self._last_warning = 0.0
        self._backlog, self._backlog_lock = 0, threading.Lock()
        self._queue: queue.SimpleQueue[tuple[float, int, Mapping[str, Sequence[Any]]] | None] = queue.SimpleQueue()
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

    def add(self, columns: Mapping[str, Sequence[Any]]) -> None:
        """Queue one model call's records: equal-length columns (lists or NumPy arrays) by name."""
        count = len(next(iter(columns.values()), ()))
        with self._backlog_lock:
            behind = self._backlog + count > MAX_BACKLOG_RECORDS
            if not behind:
                self._backlog += count
        if behind:
            self._dropped(count, f"the writer is {self._backlog} records behind")
            return
        self._queue.put((time.time(), count, columns))

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

    def _write_call(self, logged_at: float, count: int, columns: Mapping[str, Sequence[Any]]) -> None:
        try:
            line = orjson.dumps(
                {TIME_FIELD: logged_at, "columns": columns},
                option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_APPEND_NEWLINE,
            )
            self._append(line)
        except (OSError, TypeError, ValueError) as error:
            self._dropped(count, error)
            # A full disk takes part of a line: cut it off, so that the file ends on a whole line.
            with contextlib.suppress(OSError):
                os.ftruncate(self._file.fileno(), self._written)
        finally:
            with self._backlog_lock:
                self._backlog -= count

    def _append(self, line: bytes) -> None:
        if self.max_bytes and self._written and self._written + len(line) > self.max_bytes:
            self._rotate()
        remaining = memoryview(line)
        while remaining:  # unbuffered: nothing is left half-written in a buffer when the disk is full
            remaining = remaining[self._file.write(remaining) :]
        self._written = self._file.tell()

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
        self._written = 0

    def _dropped(self, count: int, reason: object) -> None:
        self._on_dropped(count)
        now = time.monotonic()
        if now - self._last_warning >= WARN_EVERY_SECONDS:
            self._last_warning = now
            logger.warning(
                "prediction log %s: %s records not written: %s "
                "(counted in gitops_ml_prediction_log_dropped_total; warned once a minute)",
                self.path, count, reason,
            )  # fmt: skip


def _cut_partial_line(path: Path) -> None:
    """Cut off a last line without its end, which a process killed mid-write leaves: a line appended after
    it would be joined to it, and the file unreadable from there."""
    size = path.stat().st_size
    if not size:
        return
    with path.open("rb") as file:
        end = size
        while end > 0:
            start = max(0, end - (1 << 20))
            file.seek(start)
            block = file.read(end - start)
            if end == size and block.endswith(b"\n"):
                return
            newline = block.rfind(b"\n")
            if newline >= 0:
                end = start + newline + 1
                break
            end = start
    os.truncate(path, end)
    logger.warning("prediction log %s: cut %s bytes of a record left half-written (a process stopped mid-write)",
                   path, size - end)  # fmt: skip


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


def print_json_lines(path: Path, last: int | None = None) -> None:
    """Print a log's records, one JSON object per line (a file, or a folder's files oldest first).

    ValueError when the path is missing or is not a prediction log."""
    import pandas as pd

    if path.is_dir():
        files = sorted(path.glob(f"*{Path(DEFAULT_PATH).suffix}*"), key=_rotation_age, reverse=True)
        frame = pd.concat([read(file) for file in files], ignore_index=True) if files else pd.DataFrame()
    elif path.is_file():
        frame = read(path)
    else:
        raise ValueError("no such file or folder")
    if last is not None:
        frame = frame.tail(last)
    if len(frame):
        sys.stdout.write(frame.to_json(orient="records", lines=True).rstrip("\n") + "\n")


def _rotation_age(path: Path) -> int:
    """0 for the live file, N for its N-th rotation (older)."""
    suffix = path.suffix[1:]
    return int(suffix) if suffix.isdigit() else 0


def read(path: Path) -> pd.DataFrame:
    """One row per logged record, from a log file (also one record per line, as earlier versions wrote).

    A line cut short (the process was killed mid-write) or that is not JSON raises ValueError naming
    the line, except the file's last line, which a writer may still be finishing: that one is skipped.
    """
    import pandas as pd

    table: dict[str, list[Any]] = {}
    rows = 0
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
        if isinstance(entry.get("columns"), dict):
            batch = entry["columns"]
            count = len(next(iter(batch.values()), []))
            batch = {**batch, TIME_FIELD: [entry.get(TIME_FIELD)] * count}
        else:  # one record per line
            batch, count = {key: [value] for key, value in entry.items()}, 1
        for name, values in batch.items():
            if len(values) != count:
                raise ValueError(f"line {number}: column {name!r} has {len(values)} values, not {count}")
            table.setdefault(name, [None] * rows).extend(values)
        rows += count
        for values in table.values():
            values.extend([None] * (rows - len(values)))
    return pd.DataFrame(table)
