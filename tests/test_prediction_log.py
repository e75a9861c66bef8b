from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from gitops_ml import prediction_log
from gitops_ml.prediction_log import PredictionLog, PredictionLogError


def columns(first: int, count: int) -> dict[str, object]:
    return {
        "age": np.array([float(i) for i in range(first, first + count)]),
        "plan": ["basic", None][:count] + ["premium"] * max(0, count - 2),
        "prediction_id": [f"r-{i}" for i in range(first, first + count)],
        "prediction_probability": [0.25] * count,
    }


def test_logged_calls_read_back_as_one_row_per_record_with_missing_values(tmp_path: Path) -> None:
    log = PredictionLog(tmp_path / "p.jsonl", max_bytes=0, backups=0)
    log.add(columns(0, 3))
    log.add({**columns(3, 1), "age": np.array([np.nan])})
    log.close()
    frame = prediction_log.read(tmp_path / "p.jsonl")
    assert frame["prediction_id"].tolist() == ["r-0", "r-1", "r-2", "r-3"]
    assert frame["age"].tolist()[:3] == [0.0, 1.0, 2.0] and np.isnan(frame["age"].iloc[3])
    assert frame["plan"].tolist()[:3] == ["basic", None, "premium"]
    assert frame["logged_at"].notna().all()


def test_the_log_rotates_by_size_and_keeps_the_configured_files(tmp_path: Path) -> None:
    path = tmp_path / "p.jsonl"
    log = PredictionLog(path, max_bytes=400, backups=2)
    for first in range(0, 40, 2):
        log.add(columns(first, 2))
    log.close()
    kept = sorted(p.name for p in tmp_path.iterdir())
    assert kept == ["p.jsonl", "p.jsonl.1", "p.jsonl.2"]
    assert all(p.stat().st_size <= 400 for p in tmp_path.iterdir())
    newest = prediction_log.read(path)["prediction_id"].tolist()
    assert newest[-1] == "r-39"


def test_a_line_cut_short_at_the_end_is_skipped_and_one_in_the_middle_is_named(tmp_path: Path) -> None:
    path = tmp_path / "p.jsonl"
    log = PredictionLog(path, max_bytes=0, backups=0)
    log.add(columns(0, 2))
    log.close()
    with path.open("ab") as file:
        file.write(b'{"logged_at": 1, "columns": {"age": [1')
    assert len(prediction_log.read(path)) == 2
    with path.open("ab") as file:
        file.write(b"\n" + path.read_bytes().splitlines()[0] + b"\n")
    with pytest.raises(ValueError, match="line 2 is not JSON"):
        prediction_log.read(path)


@pytest.mark.skipif(not Path("/sys/kernel").is_dir(), reason="needs Linux's /sys, unwritable even for root")
def test_an_unwritable_folder_is_an_error_naming_the_path() -> None:
    with pytest.raises(PredictionLogError, match=r"prediction log /sys/gitops-ml/p.jsonl cannot be written: "):
        prediction_log.check_writable(Path("/sys/gitops-ml/p.jsonl"))


def test_a_file_where_the_folder_should_be_is_an_error_naming_the_path(tmp_path: Path) -> None:
    (tmp_path / "logs").write_text("not a folder")
    with pytest.raises(
        PredictionLogError, match=r"prediction log .*/logs/p.jsonl cannot be written: .*/logs is a file, not a folder"
    ):
        prediction_log.check_writable(tmp_path / "logs" / "p.jsonl")


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full (Linux) to stand for a full disk")
def test_a_full_disk_drops_and_counts_records_and_warns_once(caplog: pytest.LogCaptureFixture) -> None:
    dropped: list[int] = []
    log = PredictionLog(Path("/dev/full"), max_bytes=0, backups=0, on_dropped=dropped.append)
    with caplog.at_level(logging.WARNING, logger="gitops_ml.prediction_log"):
        for first in range(0, 30, 3):
            log.add(columns(first, 3))
        log.close()
    assert sum(dropped) == 30
    warnings = [r for r in caplog.records if r.name == "gitops_ml.prediction_log"]
    assert len(warnings) == 1 and "/dev/full: 3 records not written" in warnings[0].getMessage()
    assert "\n" not in warnings[0].getMessage() and warnings[0].exc_info is None


def test_a_writer_far_behind_drops_and_counts_records_instead_of_holding_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    monkeypatch.setattr(prediction_log, "MAX_BACKLOG_RECORDS", 5)
    stuck = threading.Event()
    original = PredictionLog._append

    def slow_disk(self: PredictionLog, line: bytes) -> None:
        stuck.wait(timeout=30)
        original(self, line)

    monkeypatch.setattr(PredictionLog, "_append", slow_disk)
    dropped: list[int] = []
    log = PredictionLog(tmp_path / "p.jsonl", max_bytes=0, backups=0, on_dropped=dropped.append)
    for first in range(0, 12, 3):
        log.add(columns(first, 3))
    stuck.set()
    log.close()
    assert dropped == [3, 3, 3]  # the first call waits for the disk; the others would pass the limit
    assert prediction_log.read(tmp_path / "p.jsonl")["prediction_id"].tolist() == ["r-0", "r-1", "r-2"]
