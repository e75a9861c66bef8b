"""The shadow copy's settings and its bounds, without a server (tests/serving/test_service.py runs it between
two real services)."""

from __future__ import annotations

import socket
import threading
import time
from collections import Counter

import pytest

from gitops_ml.serving import shadow


@pytest.mark.parametrize(
    ("sent", "kept"),
    [("checkout-7", True), ("a.b_c-D9", True), ("x" * 64, True), ("x" * 65, False), ("../etc", False),
     ("two words", False), ("", False), (None, False)],
)  # fmt: skip
def test_a_request_id_is_kept_only_when_it_is_a_plain_token(sent: str | None, kept: bool) -> None:
    assert shadow.request_id(sent, lambda: "generated") == (sent if kept else "generated")


@pytest.mark.parametrize(
    ("sent", "records", "runs"),
    [("a:2,b.c:1", 3, [("a", 2), ("b.c", 1)]), ("a:2", 3, None), ("a:0,b:3", 3, None), ("../x:3", 3, None),
     ("a:-1,b:4", 3, None), ("a:x", 1, None), ("", 1, None), (",".join(["t:1"] * 201), 201, None)],
)  # fmt: skip
def test_runs_name_several_calls_records_only_when_they_cover_them_exactly(
    sent: str, records: int, runs: list[tuple[str, int]] | None
) -> None:
    assert shadow.parse_runs(sent, records) == runs
    if runs is not None:
        assert shadow.expand(runs) == ["a-0", "a-1", "b.c-0"]


@pytest.mark.parametrize(
    ("url", "timeout", "message"),
    [("gitops-ml-shadow:3000", "5", "is not an http"), ("ftp://host", "5", "is not an http"),
     ("http://host/?a=1", "5", "is not an http"), ("http://host", "0", "GITOPS_ML_SHADOW_TIMEOUT: expected seconds"),
     ("http://host", "soon", "got 'soon'")],
)  # fmt: skip
def test_a_bad_setting_is_refused_naming_the_variable(
    url: str, timeout: str, message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(shadow.URL_VARIABLE, url)
    monkeypatch.setenv(shadow.TIMEOUT_VARIABLE, timeout)
    with pytest.raises(shadow.ShadowError, match=message):
        shadow.Shadow.from_environment(lambda outcome, count: None)


def test_no_url_no_copies(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(shadow.URL_VARIABLE, raising=False)
    assert shadow.Shadow.from_environment(lambda outcome, count: None) is None


def test_a_candidate_that_never_answers_fills_the_queue_and_the_rest_is_dropped_and_counted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    listener = socket.create_server(("127.0.0.1", 0))  # accepts, never answers
    monkeypatch.setattr(shadow, "MAX_PENDING_CALLS", 2)
    counts: Counter[str] = Counter()
    lock = threading.Lock()

    def count(outcome: str, records: int) -> None:
        with lock:
            counts[outcome] += records

    copier = shadow.Shadow(f"http://127.0.0.1:{listener.getsockname()[1]}", 0.5, count)
    copier.copy([{"x": 1}, {"x": 2}], [("first", 2)])
    held, _ = listener.accept()  # the sender waits on the candidate's answer now
    started = time.monotonic()
    for call in range(5):
        copier.copy([{"x": 1}, {"x": 2}], [(f"call-{call}", 2)])
    assert time.monotonic() - started < 0.1  # the request path never waits for the candidate
    assert counts == Counter({"dropped": 6})  # two calls queued, three dropped
    deadline = time.monotonic() + 10
    while sum(counts.values()) < 12 and time.monotonic() < deadline:
        time.sleep(0.05)
    copier.close()
    held.close()
    listener.close()
    assert counts == Counter({"dropped": 6, "failed": 6})  # the first copy and the two queued ones timed out
