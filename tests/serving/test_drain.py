"""The stop after SIGTERM: its policy in numbers, and its handler on a real event loop with a real signal.

The whole server draining under load is tested against ``bentoml serve`` in test_service.py.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from typing import Any

import pytest

from gitops_ml.serving.drain import Drain, DrainPolicy, DrainSettingError


def test_serves_at_least_the_least_time_even_with_no_traffic() -> None:
    policy = DrainPolicy(least=5, quiet=1, most=20)
    assert policy.seconds_left(since_signal=0, since_request=60) == 5
    assert policy.seconds_left(since_signal=4.5, since_request=60) == pytest.approx(0.5)
    assert policy.seconds_left(since_signal=5, since_request=60) == 0


def test_goes_on_while_clients_send_and_stops_after_a_quiet_spell() -> None:
    policy = DrainPolicy(least=1, quiet=1, most=20)
    assert policy.seconds_left(since_signal=3, since_request=0.2) == pytest.approx(0.8)
    assert policy.seconds_left(since_signal=12, since_request=0.0) == 1
    assert policy.seconds_left(since_signal=12, since_request=1.0) == 0


def test_never_serves_past_the_most_whatever_the_traffic() -> None:
    policy = DrainPolicy(least=1, quiet=3, most=20)
    assert policy.seconds_left(since_signal=19, since_request=0) == 1
    assert policy.seconds_left(since_signal=20, since_request=0) == 0


def test_settings_come_from_the_environment_and_bad_ones_are_named() -> None:
    assert DrainPolicy.from_environment({}) == DrainPolicy(least=5, quiet=1, most=20)
    assert DrainPolicy.from_environment({"GITOPS_ML_DRAIN_SECONDS": "1", "GITOPS_ML_DRAIN_QUIET_SECONDS": "0.5"}) == (
        DrainPolicy(least=1, quiet=0.5, most=20)
    )
    # A drain longer than the default most is honoured rather than cut short.
    assert DrainPolicy.from_environment({"GITOPS_ML_DRAIN_SECONDS": "25"}).most == 25
    assert not DrainPolicy.from_environment({"GITOPS_ML_DRAIN_MAX_SECONDS": "0"}).enabled
    with pytest.raises(DrainSettingError, match="GITOPS_ML_DRAIN_QUIET_SECONDS must be a number of seconds, got 'so"):
        DrainPolicy.from_environment({"GITOPS_ML_DRAIN_QUIET_SECONDS": "soon"})
    with pytest.raises(DrainSettingError, match=r"GITOPS_ML_DRAIN_SECONDS must be 0 or more seconds, got -1"):
        DrainPolicy.from_environment({"GITOPS_ML_DRAIN_SECONDS": "-1"})
    with pytest.raises(DrainSettingError, match=r"GITOPS_ML_DRAIN_MAX_SECONDS \(2.0\) must not be below"):
        DrainPolicy.from_environment({"GITOPS_ML_DRAIN_SECONDS": "5", "GITOPS_ML_DRAIN_MAX_SECONDS": "2"})


def drained_after(drain: Drain, client_requests_for: float, path: str = "/predict") -> tuple[float, float, list[str]]:
    """Send this process SIGTERM, keep ``path`` busy for a while on the loop; the seconds from the signal to the
    call of the handler it replaced, and to the last request; what ``draining`` said at each request."""
    stopped: list[float] = []
    seen: list[str] = []
    last = 0.0

    async def serve() -> None:
        nonlocal last
        loop = asyncio.get_running_loop()
        done = loop.create_future()

        def uvicorn_shutdown(signum: int, frame: Any) -> None:
            stopped.append(time.monotonic())
            done.set_result(None)

        signal.signal(signal.SIGTERM, uvicorn_shutdown)
        drain.install()
        os.kill(os.getpid(), signal.SIGTERM)
        signalled = time.monotonic()
        while time.monotonic() - signalled < client_requests_for:
            drain.saw(path)
            last = time.monotonic() - signalled
            seen.append("draining" if drain.draining else "serving")
            await asyncio.sleep(0.01)
        await asyncio.wait_for(done, timeout=30)
        stopped[0] -= signalled

    previous = signal.getsignal(signal.SIGTERM)
    try:
        asyncio.run(serve())
    finally:
        signal.signal(signal.SIGTERM, previous)
    return stopped[0], last, seen


def test_sigterm_waits_for_clients_to_stop_then_hands_over_to_the_servers_shutdown() -> None:
    took, last, seen = drained_after(Drain(DrainPolicy(least=0.2, quiet=0.3, most=10)), client_requests_for=1.0)
    assert last + 0.3 <= took < 5, (last, took)  # the last request, then the quiet spell
    assert seen[-1] == "draining"


def test_probes_do_not_hold_the_stop_back() -> None:
    policy = DrainPolicy(least=0.2, quiet=0.3, most=10)
    took, _, _ = drained_after(Drain(policy), client_requests_for=3.0, path="/readyz")
    assert took < 2.5, took  # counted as client requests, they would have held it past 3.3 s


def test_the_most_ends_the_drain_under_endless_traffic() -> None:
    took, _, _ = drained_after(Drain(DrainPolicy(least=0.1, quiet=0.5, most=0.6)), client_requests_for=3.0)
    assert 0.6 <= took < 2.5, took  # without the most, past 3.5 s
