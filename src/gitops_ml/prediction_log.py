"""The service's prediction log: each record's features and prediction, one JSON line each.

Requests only hand their records to a queue; a background thread serializes them and appends to a
size-rotated file (``logging.handlers.RotatingFileHandler``), so logging adds almost nothing to a
request's latency. ``python -m gitops_ml monitor --current <log>`` reads these files back.

Set by environment: ``GITOPS_ML_PREDICTION_LOG`` (the file; ``off`` turns logging off; default
``prediction-log/predictions.jsonl`` under the working directory), ``GITOPS_ML_PREDICTION_LOG_MAX_MB``
(size at which the file rotates, default 50) and ``GITOPS_ML_PREDICTION_LOG_FILES`` (rotated files
kept, default 5). Ships in the Bento: standard library only.
"""

from __future__ import annotations

import json
import logging
import logging.handlers
import os
import queue
import threading
import time
from pathlib import Path
from typing import Any

DEFAULT_PATH = "prediction-log/predictions.jsonl"
# The fields each line adds to the record's features; ``monitor`` reads the probability back.
LABEL_FIELD, PROBABILITY_FIELD, TIME_FIELD = "prediction_label", "prediction_probability", "logged_at"


class PredictionLog:
    def __init__(self, path: Path, max_bytes: int, backups: int) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._handler = logging.handlers.RotatingFileHandler(path, maxBytes=max_bytes, backupCount=backups)
        self._handler.setFormatter(logging.Formatter("%(message)s"))
        self._queue: queue.SimpleQueue[tuple[float, list[Any], list[Any]] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._write, name="prediction-log", daemon=True)
        self._thread.start()

    @classmethod
    def from_environment(cls) -> PredictionLog | None:
        """The log the environment asks for, or None when it is turned off."""
        path = os.environ.get("GITOPS_ML_PREDICTION_LOG", DEFAULT_PATH)
        if path.strip().lower() in ("", "off", "false", "0"):
            return None
        max_bytes = int(float(os.environ.get("GITOPS_ML_PREDICTION_LOG_MAX_MB", "50")) * 1_000_000)
        return cls(Path(path), max_bytes, int(os.environ.get("GITOPS_ML_PREDICTION_LOG_FILES", "5")))

    def add(self, records: list[Any], predictions: list[Any]) -> None:
        """Queue one request's records (pydantic models, fields aliased by column) and predictions."""
        self._queue.put((time.time(), records, predictions))

    def close(self) -> None:
        """Write what is queued, then stop."""
        self._queue.put(None)
        self._thread.join(timeout=30)
        self._handler.close()

    def _write(self) -> None:
        while (item := self._queue.get()) is not None:
            logged_at, records, predictions = item
            for record, prediction in zip(records, predictions, strict=True):
                entry = record.model_dump(by_alias=True)
                entry |= {
                    LABEL_FIELD: prediction.label,
                    PROBABILITY_FIELD: prediction.probability,
                    TIME_FIELD: logged_at,
                }
                self._handler.emit(logging.makeLogRecord({"msg": json.dumps(entry), "levelno": logging.INFO}))
