"""The service's prediction log: every predicted record with its features, id and prediction.

An Arrow IPC stream (``.arrows``): one record batch per model call, with ``logged_at``, the records'
features, their id columns as sent, and ``prediction_id``, ``prediction_label`` and
``prediction_probability``. A request only hands its columns (the arrays the model already read) to a
queue; a background thread wraps them as Arrow arrays (NumPy's without a copy) and appends them to a
size-rotated file, the write itself outside the GIL. Serializing JSON instead cost a tenth of the
service's batch throughput. ``read`` gives one row per record (``python -m gitops_ml monitor --current
<log>``); pandas, Polars and DuckDB read the files too (``pyarrow.ipc.open_stream``).

A log that cannot be written at start stops the service with one line naming the path
(``PredictionLogError``); a write that fails later (a full disk) drops that call's records, counts
them (``on_dropped``, the service's ``/metrics``) and logs one warning per minute, while predictions
go on. A file left unfinished by a killed process is set aside as a rotated file, never appended to.

Set by environment: ``GITOPS_ML_PREDICTION_LOG`` (the file; ``off`` turns logging off; a relative
path is under BentoML's home folder, by default ``prediction-log/predictions.arrows``; ``make serve``
logs into the project's ``prediction-log/``, the container image onto its declared volume),
``GITOPS_ML_PREDICTION_LOG_MAX_MB`` (size past which the file rotates, default 50) and
``GITOPS_ML_PREDICTION_LOG_FILES`` (rotated files kept, default 5). Ships in the Bento.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import queue
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.ipc

if TYPE_CHECKING:
    import pandas as pd

PATH_VARIABLE, DEFAULT_PATH = "GITOPS_ML_PREDICTION_LOG", "prediction-log/predictions.arrows"
# The columns each record gets beside its features and id columns; ``monitor`` reads the probability.
ID_FIELD, LABEL_FIELD, PROBABILITY_FIELD, TIME_FIELD = (
    "prediction_id",
    "prediction_label",
    "prediction_probability",
    "logged_at",
)
WARN_EVERY_SECONDS = 60
WRITE_INTERVAL_SECONDS = 0.05
# Records waiting for the writer, at most: past it (a disk far slower than the traffic), a request's
# records are dropped and counted rather than held in memory without bound.
MAX_BACKLOG_RECORDS = 200_000
TIME_TYPE = pa.timestamp("ms", tz="UTC")
# Every Arrow IPC message starts with it (the end-of-stream marker too): how a log file is told from JSON lines.
_CONTINUATION = b"\xff\xff\xff\xff"
_END_OF_STREAM = _CONTINUATION + b"\x00\x00\x00\x00"
logger = logging.getLogger("gitops_ml.prediction_log")


class PredictionLogError(Exception):
    """The log cannot be written where it is configured; the message names the path and the reason."""


class PredictionLog:
    def __init__(
        self, path: Path, max_bytes: int, backups: int, on_dropped: Callable[[int], None] | None = None
    ) -> None:
        self.path, self.max_bytes, self.backups = path, max_bytes, backups
        _open(path).close()
        if _ending(path) != "closed":
            # A process killed mid-write left a stream without its end (or part of a message): a new
            # stream appended after it would be unreadable, so that file is set aside whole, as a rotation.
            self._rotate()
        self._file = _open(path)
        self._size = os.fstat(self._file.fileno()).st_size
        self._schema: pa.Schema | None = None  # the schema of the file's open stream, if one is open
        self._on_dropped = on_dropped or (lambda count: None)
        self._last_warning = 0.0
        self._backlog, self._backlog_lock = 0, threading.Lock()
        self._queue: queue.SimpleQueue[pa.RecordBatch | None] = queue.SimpleQueue()
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
        """Queue one model call's records: equal-length columns (lists or NumPy arrays) by name.

        The Arrow batch is made here, on the caller's thread, while its arrays are still in the CPU's
        cache: made on the writer's thread, the same work cost several times as much and slowed the
        requests running beside it. A column that cannot be made drops the call's records, never the call.
        """
        count = len(next(iter(columns.values()), ()))
        with self._backlog_lock:
            behind = self._backlog + count > MAX_BACKLOG_RECORDS
            if not behind:
                self._backlog += count
        if behind:
            self._dropped(count, f"the writer is {self._backlog} records behind")
            return
        try:
            batch = _record_batch(time.time(), columns)
        except (pa.ArrowException, TypeError, ValueError, OverflowError) as error:
            self._done(count)
            self._dropped(count, error)
            return
        self._queue.put(batch)

    def close(self) -> None:
        """Write what is queued, end the stream, then stop."""
        self._queue.put(None)
        self._thread.join(timeout=30)
        with contextlib.suppress(OSError):
            if self._schema is not None:
                self._file.write(_END_OF_STREAM)
        self._file.close()

    def _write(self) -> None:
        while True:
            batches = [self._queue.get()]
            with contextlib.suppress(queue.Empty):
                while True:
                    batches.append(self._queue.get_nowait())
            stop = any(batch is None for batch in batches)
            self._write_batches([batch for batch in batches if batch is not None])
            if stop:
                return
            # Woken once per interval, not once per request: a thread switch per request cost more than the
            # writing. A process killed outright loses at most this much; SIGTERM writes everything.
            time.sleep(WRITE_INTERVAL_SECONDS)

    def _write_batches(self, batches: list[pa.RecordBatch]) -> None:
        """Append the batches with one write per file: the stream's messages, framed by Arrow, written by us."""
        schema_before, size, records = self._schema, 0, 0
        messages: list[Any] = []
        for batch in batches:
            if self.max_bytes and self._size + size >= self.max_bytes:  # past the size: the next call opens a file
                self._flush(messages, records, schema_before)
                self._next_file()
                schema_before, messages, size, records = None, [], 0, 0
            for message in self._messages(batch):
                messages.append(message)
                size += len(message) if isinstance(message, bytes) else message.size
            records += batch.num_rows
        self._flush(messages, records, schema_before)

    def _messages(self, batch: pa.RecordBatch) -> list[Any]:
        """The batch as stream messages: after the end of the open stream and a schema when it opens a new one."""
        messages: list[Any] = []
        if self._schema is not None and not batch.schema.equals(self._schema):
            conformed = _conformed(batch, self._schema)
            if conformed is None:  # columns or types changed: a new stream, with its own schema
                messages.append(_END_OF_STREAM)
                self._schema = None
            else:
                batch = conformed
        if self._schema is None:
            messages.append(batch.schema.serialize())
            self._schema = batch.schema
        messages.append(batch.serialize())
        return messages

    def _flush(self, messages: list[Any], records: int, schema_before: pa.Schema | None) -> None:
        if not messages:
            return
        try:
            self._size += _write_all(self._file.fileno(), messages)
        except OSError as error:
            # A full disk: what was written of these batches is cut off, so that the file ends on a whole one.
            self._schema = schema_before
            with contextlib.suppress(OSError):
                os.ftruncate(self._file.fileno(), self._size)
            self._dropped(records, error)
        finally:
            self._done(records)

    def _next_file(self) -> None:
        with contextlib.suppress(OSError):
            if self._schema is not None:
                self._file.write(_END_OF_STREAM)
        self._file.close()
        self._rotate()
        self._file, self._size, self._schema = _open(self.path), 0, None

    def _rotate(self) -> None:
        if not self.path.exists() or not self.path.stat().st_size:
            return
        if self.backups:
            for index in range(self.backups - 1, 0, -1):
                older = self.path.with_name(f"{self.path.name}.{index}")
                if older.exists():
                    older.replace(self.path.with_name(f"{self.path.name}.{index + 1}"))
            self.path.replace(self.path.with_name(f"{self.path.name}.1"))
        else:
            self.path.unlink(missing_ok=True)

    def _done(self, count: int) -> None:
        with self._backlog_lock:
            self._backlog -= count

    def _dropped(self, count: int, reason: object) -> None:
        self._on_dropped(count)
        now = time.monotonic()
        if now - self._last_warning >= WARN_EVERY_SECONDS:
            self._last_warning = now
            logger.warning(
                "prediction log %s: %s records not written: %s "
                "(counted in gitops_ml_prediction_log_dropped_total; warned once a minute)",
                self.path, count, str(reason).splitlines()[0] if str(reason) else type(reason).__name__,
            )  # fmt: skip


def _write_all(fd: int, messages: list[Any]) -> int:
    """Write the messages in order, with as few system calls as the kernel allows: the bytes written."""
    total = 0
    views = [memoryview(message) for message in messages]
    for start in range(0, len(views), 512):  # below any system's IOV_MAX
        chunk = views[start : start + 512]
        expected = sum(view.nbytes for view in chunk)
        written = os.writev(fd, chunk)
        while written < expected:  # a file writes short when it is full: the next write raises why
            more = os.write(fd, b"".join(chunk)[written:])
            if not more:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            written += more
        total += expected
    return total


def _record_batch(logged_at: float, columns: Mapping[str, Sequence[Any]]) -> pa.RecordBatch:
    count = len(next(iter(columns.values()), ()))
    stamps = np.full(count, int(logged_at * 1000), dtype=np.int64)
    arrays = [pa.Array.from_buffers(TIME_TYPE, count, [None, pa.py_buffer(stamps)])]
    arrays += [_array(values) for values in columns.values()]
    types = tuple(array.type for array in arrays)
    schema = _SCHEMAS.get((*columns, *types))
    if schema is None:
        if len(_SCHEMAS) > 64:
            _SCHEMAS.clear()
        schema = _SCHEMAS.setdefault((*columns, *types), pa.schema(zip((TIME_FIELD, *columns), types, strict=True)))
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


# The schemas batches had, by names and types: most calls have the same, and making it cost more than the batch.
_SCHEMAS: dict[tuple[Any, ...], pa.Schema] = {}


def _array(values: Sequence[Any]) -> pa.Array:
    """A column by its values' type; numbers and text mixed (ids) as text. Missing: null, or NaN for numbers."""
    if isinstance(values, np.ndarray) and values.dtype == np.float64 and values.flags.c_contiguous:
        return pa.Array.from_buffers(pa.float64(), len(values), [None, pa.py_buffer(values)])  # the features
    if isinstance(values, np.ndarray) and values.dtype.kind in "fiub":
        return pa.array(values)  # without a copy
    if isinstance(values, list) and values.count(None) == len(values):
        return pa.nulls(len(values))  # an id column no request sent
    try:
        return pa.array(values, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        return pa.array([None if value is None else str(value) for value in values], type=pa.string())


def _conformed(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch | None:
    """The batch in the stream's schema if it differs only by columns with no values at all, else None."""
    if batch.schema.names != schema.names:
        return None
    differing = [i for i, field in enumerate(batch.schema) if not field.type.equals(schema.field(i).type)]
    if any(batch.schema.field(i).type != pa.null() for i in differing):
        return None
    return batch.cast(schema)


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
    """One row per logged record, from one log file (also the JSON lines earlier versions wrote).

    A file's last message cut short (a writer still finishing it, or killed mid-write) is skipped with
    a warning naming the bytes left out; a file that is no prediction log raises ValueError.
    """
    import pandas as pd

    with path.open("rb") as file:
        head = file.read(len(_CONTINUATION))
    if not head:
        return pd.DataFrame()
    if head != _CONTINUATION:
        return _read_json_lines(path)
    tables, ending, readable = _streams(path)
    if ending == "damaged":
        logger.warning(
            "prediction log %s: bytes %s to %s cannot be read (a write cut short) and are left out",
            path, readable, path.stat().st_size,
        )  # fmt: skip
    frames = [table.to_pandas() for table in tables if table.num_rows]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def print_json_lines(path: Path, last: int | None = None) -> None:
    """Print a log's records (a file, or a folder's files oldest first) as JSON lines, for jq and grep.

    ValueError when the path is missing or is not a prediction log."""
    import pandas as pd

    if path.is_dir():
        files = sorted(path.glob("*.arrows*"), key=_rotation_age, reverse=True)
        frame = pd.concat([read(file) for file in files], ignore_index=True) if files else pd.DataFrame()
    elif path.is_file():
        frame = read(path)
    else:
        raise ValueError("no such file or folder")
    if last is not None:
        frame = frame.tail(last)
    if len(frame):
        sys.stdout.write(frame.to_json(orient="records", lines=True, date_format="iso").rstrip("\n") + "\n")


def _rotation_age(path: Path) -> int:
    """0 for the live file, N for its N-th rotation (older)."""
    suffix = path.suffix[1:]
    return int(suffix) if suffix.isdigit() else 0


def _ending(path: Path) -> str:
    """How a log file ends: "closed" (every stream ended, or empty), "open" (killed between writes), "damaged"."""
    if not path.is_file() or not path.stat().st_size:
        return "closed"
    with path.open("rb") as file:
        if file.read(len(_CONTINUATION)) != _CONTINUATION:
            return "damaged"  # not ours (an earlier version's JSON lines): set aside whole
    return _streams(path)[1]


def _streams(path: Path) -> tuple[list[pa.Table], str, int]:
    """The file's streams as tables, how it ends, and the offset up to which it could be read."""
    tables: list[pa.Table] = []
    source = pa.BufferReader(path.read_bytes())
    readable = 0
    while source.tell() < source.size():
        batches: list[pa.RecordBatch] = []
        try:
            reader = pa.ipc.open_stream(source)
            readable = source.tell()  # the schema
            for batch in reader:
                batches.append(batch)
                readable = source.tell()
        except (OSError, pa.ArrowException):
            if batches:
                tables.append(pa.Table.from_batches(batches))
            return tables, "damaged", readable
        tables.append(pa.Table.from_batches(batches, schema=reader.schema))
        if source.tell() == readable:
            return tables, "open", readable  # the file ends where the end-of-stream marker belongs
        readable = source.tell()
    return tables, "closed", readable


def _read_json_lines(path: Path) -> pd.DataFrame:
    """Earlier versions' log: a JSON object per line, one record or a model call's columns."""
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
