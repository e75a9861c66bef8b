from __future__ import annotations

import json
import logging
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from gitops_ml.serving import prediction_log
from gitops_ml.serving.prediction_log import PredictionLog, PredictionLogError
from tests.support import ROOT


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
    with caplog.at_level(logging.WARNING, logger="gitops_ml.serving.prediction_log"):
        for first in range(0, 30, 3):
            log.add(columns(first, 3))
        log.close()
    assert sum(dropped) == 30
    warnings = [r for r in caplog.records if r.name == "gitops_ml.serving.prediction_log"]
    assert len(warnings) == 1 and "/dev/full: 3 records not written" in warnings[0].getMessage()
    assert "\n" not in warnings[0].getMessage() and warnings[0].exc_info is None


def test_a_line_a_killed_process_left_half_written_is_cut_at_the_next_start(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "p.jsonl"
    log = PredictionLog(path, max_bytes=0, backups=0)
    log.add(columns(0, 2))
    log.close()
    whole = path.stat().st_size
    half_written = b'{"logged_at": 1, "columns": {"age": [1'
    with path.open("ab") as file:
        file.write(half_written)  # killed mid-write
    with caplog.at_level(logging.WARNING, logger="gitops_ml.serving.prediction_log"):
        log = PredictionLog(path, max_bytes=0, backups=0)
    log.add(columns(2, 1))
    log.close()
    assert prediction_log.read(path)["prediction_id"].tolist() == ["r-0", "r-1", "r-2"]
    [warning] = [r.getMessage() for r in caplog.records if r.name == "gitops_ml.serving.prediction_log"]
    assert f"{path}: cut {len(half_written)} bytes" in warning
    assert path.read_bytes().count(b"\n") == 2 and path.stat().st_size > whole


FILLING_DISK = """
import json, resource, signal, sys, time
from pathlib import Path
from gitops_ml.serving import prediction_log
from tests.serving.test_prediction_log import columns

signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails (EFBIG) instead of ending us
path, dropped = Path(sys.argv[1]), []
log = prediction_log.PredictionLog(path, max_bytes=0, backups=0, on_dropped=dropped.append)

def until(done):
    deadline = time.monotonic() + 10
    while not done() and time.monotonic() < deadline:
        time.sleep(0.02)

log.add(columns(0, 2))
until(lambda: path.stat().st_size > 0)
_, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
resource.setrlimit(resource.RLIMIT_FSIZE, (path.stat().st_size + 100, hard))  # the disk fills mid-batch
log.add(columns(2, 3))
log.add(columns(5, 4))
until(lambda: len(dropped) == 2)
resource.setrlimit(resource.RLIMIT_FSIZE, (hard, hard))  # and is freed
log.add(columns(9, 1))
log.close()
ids = prediction_log.read(path)["prediction_id"].tolist()
print(json.dumps({"dropped": dropped, "ids": ids, "whole_lines": path.read_bytes().endswith(b"\\n")}))
"""


@pytest.mark.skipif(not hasattr(signal, "SIGXFSZ"), reason="needs POSIX file size limits to stand for a full disk")
def test_a_disk_that_fills_mid_write_loses_only_the_calls_it_refused(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-c", FILLING_DISK, str(tmp_path / "p.jsonl")],
        capture_output=True, text=True, timeout=60, cwd=ROOT,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    outcome = json.loads(result.stdout)
    assert sum(outcome["dropped"]) == 3 + 4
    # What was written before stays readable, and so is what came after, in the same file.
    assert outcome["ids"] == ["r-0", "r-1", "r-9"] and outcome["whole_lines"]


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


def test_show_log_prints_a_folder_of_rotated_logs_oldest_first_as_json_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from gitops_ml import cli

    log = PredictionLog(tmp_path / "p.jsonl", max_bytes=1, backups=5)  # a file per call
    for first in range(0, 12, 2):
        log.add({**columns(first, 2), "age": np.array([float(first), np.nan])})
    log.close()
    assert len(list(tmp_path.iterdir())) == 6

    assert cli.main(["show-log", str(tmp_path)]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["prediction_id"] for r in records] == [f"r-{i}" for i in range(12)]
    assert records[1]["age"] is None and records[1]["plan"] is None and records[0]["logged_at"] > 0

    assert cli.main(["show-log", str(tmp_path / "p.jsonl"), "--last", "1"]) == 0
    assert [json.loads(line)["prediction_id"] for line in capsys.readouterr().out.splitlines()] == ["r-11"]

    assert cli.main(["show-log", str(tmp_path / "missing")]) == 1
    assert f"show-log: error: {tmp_path / 'missing'}: no such file or folder" in capsys.readouterr().err
