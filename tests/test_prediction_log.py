from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from gitops_ml import prediction_log
from gitops_ml.prediction_log import PredictionLog, PredictionLogError


def request(first: int, count: int) -> tuple[bytes, dict[str, list[object]]]:
    """A request body as a client sends it (pretty-printed: line breaks between tokens) and its predictions."""
    records = [
        {"age": float(i), "plan": None if i % 2 else "basic", "customer id": f"c-{i}"}
        for i in range(first, first + count)
    ]
    body = json.dumps({"records": records if count > 1 else records[0]}, indent=2).encode()
    predictions = {
        "id": [f"c-{i}" for i in range(first, first + count)],
        "label": ["yes"] * count,
        "probability": [0.25] * count,
    }
    return body, predictions


def test_logged_requests_read_back_as_one_row_per_record_as_sent(tmp_path: Path) -> None:
    log = PredictionLog(tmp_path / "p.jsonl", max_bytes=0, backups=0)
    log.add(*request(0, 3))
    log.add(*request(3, 1))  # {"records": {...}}: one record
    log.close()
    assert len((tmp_path / "p.jsonl").read_bytes().splitlines()) == 2  # a line each, line breaks and all
    frame = prediction_log.read(tmp_path / "p.jsonl")
    assert frame["prediction_id"].tolist() == frame["customer id"].tolist() == ["c-0", "c-1", "c-2", "c-3"]
    assert frame["age"].tolist() == [0.0, 1.0, 2.0, 3.0]
    assert frame["plan"].tolist() == ["basic", None, "basic", None]
    assert frame["prediction_probability"].tolist() == [0.25] * 4
    assert frame["logged_at"].notna().all()


def test_the_log_rotates_by_size_and_keeps_the_configured_files(tmp_path: Path) -> None:
    path = tmp_path / "p.jsonl"
    log = PredictionLog(path, max_bytes=1_000, backups=2)
    for first in range(0, 40, 2):
        log.add(*request(first, 2))
    log.close()
    kept = sorted(p.name for p in tmp_path.iterdir())
    assert kept == ["p.jsonl", "p.jsonl.1", "p.jsonl.2"]
    assert all(p.stat().st_size <= 1_000 for p in tmp_path.iterdir())
    assert prediction_log.read(path)["prediction_id"].tolist()[-1] == "c-39"


def test_records_that_do_not_match_their_predictions_are_named(tmp_path: Path) -> None:
    path = tmp_path / "p.jsonl"
    body, predictions = request(0, 2)
    line = {"logged_at": 1.0, "prediction": {**predictions, "label": ["yes"]}, "request": json.loads(body)}
    path.write_text(json.dumps(line) + "\n" + json.dumps(line) + "\n")
    with pytest.raises(ValueError, match="line 1: the request's records and the predictions do not match"):
        prediction_log.read(path)


def test_a_line_cut_short_at_the_end_is_skipped_and_one_in_the_middle_is_named(tmp_path: Path) -> None:
    path = tmp_path / "p.jsonl"
    log = PredictionLog(path, max_bytes=0, backups=0)
    log.add(*request(0, 2))
    log.close()
    with path.open("ab") as file:
        file.write(b'{"logged_at": 1, "prediction": {"id": [1')
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
            log.add(*request(first, 3))
        log.close()
    assert sum(dropped) == 30
    warnings = [r for r in caplog.records if r.name == "gitops_ml.prediction_log"]
    assert len(warnings) == 1 and "/dev/full: 3 records not written" in warnings[0].getMessage()
    assert "\n" not in warnings[0].getMessage() and warnings[0].exc_info is None
