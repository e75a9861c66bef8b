from __future__ import annotations

import json
import logging
import re
import signal
import subprocess
import sys
import time
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
    log = PredictionLog(tmp_path / "p.arrows", max_bytes=0, backups=0)
    log.add(columns(0, 3))
    log.add({**columns(3, 1), "age": np.array([np.nan])})
    log.close()
    frame = prediction_log.read(tmp_path / "p.arrows")
    assert frame["prediction_id"].tolist() == ["r-0", "r-1", "r-2", "r-3"]
    assert frame["age"].tolist()[:3] == [0.0, 1.0, 2.0] and np.isnan(frame["age"].iloc[3])
    assert frame["plan"].tolist()[:3] == ["basic", None, "premium"]
    assert frame["logged_at"].notna().all()


def test_the_log_rotates_by_size_and_keeps_the_configured_files(tmp_path: Path) -> None:
    path = tmp_path / "p.arrows"
    log = PredictionLog(path, max_bytes=2_000, backups=2)
    for first in range(0, 40, 2):
        log.add(columns(first, 2))
    log.close()
    kept = sorted(p.name for p in tmp_path.iterdir())
    assert kept == ["p.arrows", "p.arrows.1", "p.arrows.2"]
    # Rotated once past the size: by at most one call's records.
    assert all(p.stat().st_size < 2_000 + 1_000 for p in tmp_path.iterdir())
    newest = prediction_log.read(path)["prediction_id"].tolist()
    assert newest[-1] == "r-39"
    rotated = [prediction_log.read(tmp_path / name)["prediction_id"].tolist() for name in kept]
    assert rotated[2][-1] < rotated[1][0] and rotated[1][-1] < rotated[0][0]  # r-... in order, none twice


def test_a_message_cut_short_is_left_out_with_a_warning_naming_the_bytes(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "p.arrows"
    log = PredictionLog(path, max_bytes=0, backups=0)
    log.add(columns(0, 2))
    log.add(columns(2, 2))
    log.close()
    whole = path.read_bytes()
    path.write_bytes(whole[:-40])  # the last call's batch cut short, as a process killed mid-write leaves it
    with caplog.at_level(logging.WARNING, logger="gitops_ml.prediction_log"):
        assert prediction_log.read(path)["prediction_id"].tolist() == ["r-0", "r-1"]
    [warning] = [r.getMessage() for r in caplog.records if r.name == "gitops_ml.prediction_log"]
    assert f"{path}: bytes " in warning and f" to {len(whole) - 40} cannot be read" in warning


def test_a_file_a_killed_process_left_is_set_aside_and_read_whole(tmp_path: Path) -> None:
    path = tmp_path / "p.arrows"
    log = PredictionLog(path, max_bytes=0, backups=3)
    log.add(columns(0, 2))
    deadline = time.monotonic() + 10
    while not path.stat().st_size and time.monotonic() < deadline:
        time.sleep(0.05)
    # Killed before close: its stream has no end. The next start writes to a new file beside it.
    log = PredictionLog(path, max_bytes=0, backups=3)
    log.add(columns(2, 1))
    log.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.arrows", "p.arrows.1"]
    assert prediction_log.read(path.with_name("p.arrows.1"))["prediction_id"].tolist() == ["r-0", "r-1"]
    assert prediction_log.read(path)["prediction_id"].tolist() == ["r-2"]
    # A clean stop: the next start appends to the same file.
    log = PredictionLog(path, max_bytes=0, backups=3)
    log.add(columns(3, 1))
    log.close()
    assert prediction_log.read(path)["prediction_id"].tolist() == ["r-2", "r-3"]


def test_ids_keep_their_type_and_a_column_without_values_keeps_the_stream(tmp_path: Path) -> None:
    path = tmp_path / "p.arrows"
    log = PredictionLog(path, max_bytes=0, backups=0)
    log.add({**columns(0, 2), "customer_id": [7, 8]})
    log.add({**columns(2, 2), "customer_id": [None, None]})  # no ids sent
    log.add({**columns(4, 2), "customer_id": [9, "c-10"]})  # numbers and text in one call: text
    log.add({**columns(6, 1), "customer_id": ["c-11"]})
    log.close()
    frame = prediction_log.read(path)
    assert frame["customer_id"].tolist()[:2] == [7, 8] and frame["customer_id"].iloc[2:4].isna().all()
    assert frame["customer_id"].tolist()[4:] == ["9", "c-10", "c-11"]
    ids_as_numbers, ids_as_text = 1, 1  # one stream for each type of the id column
    assert len(prediction_log._streams(path)[0]) == ids_as_numbers + ids_as_text


def test_the_json_lines_of_earlier_versions_are_still_read(tmp_path: Path) -> None:
    path = tmp_path / "predictions.jsonl"
    path.write_text('{"age": 3.0, "prediction_id": "a"}\n{"logged_at": 1, "columns": {"age": [4.0, null]}}\n')
    frame = prediction_log.read(path)
    assert frame["age"].tolist()[:2] == [3.0, 4.0] and frame["prediction_id"].tolist()[0] == "a" and len(frame) == 3


@pytest.mark.skipif(not Path("/sys/kernel").is_dir(), reason="needs Linux's /sys, unwritable even for root")
def test_an_unwritable_folder_is_an_error_naming_the_path() -> None:
    with pytest.raises(PredictionLogError, match=r"prediction log /sys/gitops-ml/p.arrows cannot be written: "):
        prediction_log.check_writable(Path("/sys/gitops-ml/p.arrows"))


def test_a_file_where_the_folder_should_be_is_an_error_naming_the_path(tmp_path: Path) -> None:
    (tmp_path / "logs").write_text("not a folder")
    with pytest.raises(
        PredictionLogError, match=r"prediction log .*/logs/p.arrows cannot be written: .*/logs is a file, not a folder"
    ):
        prediction_log.check_writable(tmp_path / "logs" / "p.arrows")


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
    assert len(warnings) == 1 and re.search(r"/dev/full: \d+ records not written", warnings[0].getMessage())
    assert "\n" not in warnings[0].getMessage() and warnings[0].exc_info is None


FILLING_DISK = """
import json, resource, signal, sys, time
from pathlib import Path
from gitops_ml import prediction_log
from tests.test_prediction_log import columns

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
tables, ending, _ = prediction_log._streams(path)
ids = prediction_log.read(path)["prediction_id"].tolist()
print(json.dumps({"dropped": dropped, "ids": ids, "ending": ending}))
"""


@pytest.mark.skipif(not hasattr(signal, "SIGXFSZ"), reason="needs POSIX file size limits to stand for a full disk")
def test_a_disk_that_fills_mid_write_loses_only_the_calls_it_refused(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-c", FILLING_DISK, str(tmp_path / "p.arrows")],
        capture_output=True, text=True, timeout=60, cwd=Path(__file__).parents[1],
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    outcome = json.loads(result.stdout)
    assert sum(outcome["dropped"]) == 3 + 4
    # What was written before stays readable, and so is what came after, in the same file.
    assert outcome["ids"] == ["r-0", "r-1", "r-9"] and outcome["ending"] == "closed"


def test_a_writer_far_behind_drops_and_counts_records_instead_of_holding_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    monkeypatch.setattr(prediction_log, "MAX_BACKLOG_RECORDS", 5)
    stuck = threading.Event()
    original = PredictionLog._write_batches

    def slow_disk(self: PredictionLog, batches: list[object]) -> None:
        stuck.wait(timeout=30)
        original(self, batches)

    monkeypatch.setattr(PredictionLog, "_write_batches", slow_disk)
    dropped: list[int] = []
    log = PredictionLog(tmp_path / "p.arrows", max_bytes=0, backups=0, on_dropped=dropped.append)
    for first in range(0, 12, 3):
        log.add(columns(first, 3))
    stuck.set()
    log.close()
    assert dropped == [3, 3, 3]  # the first call waits for the disk; the others would pass the limit
    assert prediction_log.read(tmp_path / "p.arrows")["prediction_id"].tolist() == ["r-0", "r-1", "r-2"]


def test_show_log_prints_a_folder_of_rotated_logs_oldest_first_as_json_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from gitops_ml import cli

    log = PredictionLog(tmp_path / "p.arrows", max_bytes=1, backups=5)  # a file per call
    for first in range(0, 12, 2):
        log.add({**columns(first, 2), "age": np.array([float(first), np.nan])})
    log.close()
    assert len(list(tmp_path.iterdir())) == 6

    assert cli.main(["show-log", str(tmp_path)]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["prediction_id"] for r in records] == [f"r-{i}" for i in range(12)]
    assert records[1]["age"] is None and records[1]["plan"] is None and records[0]["logged_at"].endswith("Z")

    assert cli.main(["show-log", str(tmp_path / "p.arrows"), "--last", "1"]) == 0
    assert [json.loads(line)["prediction_id"] for line in capsys.readouterr().out.splitlines()] == ["r-11"]

    assert cli.main(["show-log", str(tmp_path / "missing")]) == 1
    assert f"show-log: error: {tmp_path / 'missing'}: no such file or folder" in capsys.readouterr().err
