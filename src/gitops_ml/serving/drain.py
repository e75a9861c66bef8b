"""A graceful stop on SIGTERM: not ready at once, serving for as long as clients still send, then stopping.

Kubernetes sends SIGTERM and removes the pod from its Service's endpoints at the same time, and
every kube-proxy, ingress and client learns of the removal on its own schedule: under load that
takes longer than any fixed window (a busy client saw ``/readyz`` fail more than a second late).
Uvicorn's own shutdown closes every connection whose request it has not read yet, so stopping
while requests still arrive resets them. The service therefore keeps serving after SIGTERM:

- at least ``GITOPS_ML_DRAIN_SECONDS`` (routing updates take that long even with no traffic);
- then until no request has arrived for ``GITOPS_ML_DRAIN_QUIET_SECONDS`` (clients have stopped);
- at most ``GITOPS_ML_DRAIN_MAX_SECONDS`` after the signal, whatever the traffic, so that it ends
  within the pod's grace period (``terminationGracePeriodSeconds``), leaving time for the requests in
  flight and the prediction log's last write.

Probes and scrapes (``/readyz``, ``/livez``, ``/healthz``, ``/metrics``) are not requests from clients.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

logger = logging.getLogger("bentoml.gitops_ml")

NOT_CLIENT_PATHS = frozenset({"/readyz", "/livez", "/healthz", "/metrics"})
# How often a draining server looks at the clock: the stop comes at most this late.
TICK_SECONDS = 0.05


class DrainSettingError(ValueError):
    """A drain variable that is not a number of seconds, or limits that contradict each other."""


@dataclass(frozen=True)
class DrainPolicy:
    """When a server that got SIGTERM stops, in seconds (see the module's docstring)."""

    least: float = 5.0
    quiet: float = 1.0
    most: float = 20.0

    VARIABLES: ClassVar[dict[str, str]] = {"least": "GITOPS_ML_DRAIN_SECONDS", "quiet": "GITOPS_ML_DRAIN_QUIET_SECONDS",
                 "most": "GITOPS_ML_DRAIN_MAX_SECONDS"}  # fmt: skip

    def __post_init__(self) -> None:
        for field, variable in self.VARIABLES.items():
            if getattr(self, field) < 0:
                raise DrainSettingError(f"{variable} must be 0 or more seconds, got {getattr(self, field)}")
        if 0 < self.most < self.least:  # 0 turns draining off, whatever the least
            raise DrainSettingError(
                f"GITOPS_ML_DRAIN_MAX_SECONDS ({self.most}) must not be below GITOPS_ML_DRAIN_SECONDS ({self.least})"
            )

    @classmethod
    def from_environment(cls, environ: dict[str, str] | None = None) -> DrainPolicy:
        environ = dict(os.environ if environ is None else environ)
        values: dict[str, float] = {}
        for field, variable in cls.VARIABLES.items():
            text = environ.get(variable, "").strip()
            if not text:
                continue
            try:
                values[field] = float(text)
            except ValueError:
                raise DrainSettingError(f"{variable} must be a number of seconds, got {text!r}") from None
        # A drain set longer than the default most: the most follows it, rather than refusing to start.
        if "most" not in values and values.get("least", 0.0) > cls.most:
            values["most"] = values["least"]
        return cls(**values)

    @property
    def enabled(self) -> bool:
        return self.most > 0

    def seconds_left(self, since_signal: float, since_request: float) -> float:
        """How long to go on serving, given the time since SIGTERM and since the last client request; 0 stops."""
        wait = max(self.least - since_signal, self.quiet - since_request)
        return max(0.0, min(wait, self.most - since_signal))

    def describe(self) -> str:
        return f"at least {self.least} s, until no request for {self.quiet} s, at most {self.most} s"


class Drain:
    """The server's draining state: set by SIGTERM, read by the readiness route, fed by every client request."""

    def __init__(self, policy: DrainPolicy, clock: Callable[[], float] = time.monotonic) -> None:
        self.policy, self.clock = policy, clock
        self.started = threading.Event()
        self.last_request = clock()

    @property
    def draining(self) -> bool:
        return self.started.is_set()

    def saw(self, path: str) -> None:
        """A request arrived on ``path``: a client's request delays the stop, a probe's does not."""
        if path not in NOT_CLIENT_PATHS:
            self.last_request = self.clock()

    def install(self) -> None:
        """Take SIGTERM over from uvicorn (whose handler is installed before the service starts): drain, then
        call uvicorn's handler. Must run on the server's event loop."""
        loop = asyncio.get_running_loop()
        shutdown = signal.getsignal(signal.SIGTERM)
        if not callable(shutdown) or not self.policy.enabled:
            return

        def on_sigterm(signum: int, frame: Any) -> None:
            if self.started.is_set():
                return
            self.started.set()
            signalled = self.clock()
            logger.info("SIGTERM: not ready; serving on (%s), then stopping", self.policy.describe())

            def check() -> None:
                now = self.clock()
                left = self.policy.seconds_left(now - signalled, now - self.last_request)
                if left > 0:
                    loop.call_later(min(left, TICK_SECONDS), check)
                    return
                logger.info(
                    "drained: stopping %.1f s after SIGTERM, %.1f s after the last request",
                    now - signalled,
                    now - self.last_request,
                )
                shutdown(signum, frame)

            loop.call_soon_threadsafe(check)

        signal.signal(signal.SIGTERM, on_sigterm)
