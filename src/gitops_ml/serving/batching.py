"""Joining concurrent requests into one model call, without making any request wait for others.

BentoML's adaptive batcher holds a request back while it expects more to come, from the mean wait of
recent batches; one large request or a burst raised that mean, and lone requests then waited seconds
each for minutes. Here nothing waits on a clock: a call is made as soon as one turn of the event loop
adds no request to it (at most ``MAX_TURNS`` turns). Under load, requests pile up while the model runs
and reach the batcher over the next turns; alone, a request goes to the model one turn after it came.
Ships in the Bento.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

MAX_TURNS = 8
Item = TypeVar("Item")
Result = TypeVar("Result")


class Batcher(Generic[Item, Result]):
    """``await batcher(items)`` returns ``run(items)``, computed in one call with other requests' items.

    ``run`` takes a list and returns one result per item, in order. A call gets at most ``max_items``
    items unless one request alone has more. ``on_batch(requests, items)`` is told of each call.
    """

    def __init__(
        self,
        run: Callable[[list[Item]], Sequence[Result]],
        max_items: int,
        on_batch: Callable[[int, int], None] = lambda requests, items: None,
    ) -> None:
        self._run, self._max_items, self._on_batch = run, max_items, on_batch
        self._pending: list[tuple[list[Item], asyncio.Future[list[Result]]]] = []
        self._scheduled = False
        self._seen, self._turns = 0, 0

    async def __call__(self, items: list[Item]) -> list[Result]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[list[Result]] = loop.create_future()
        self._pending.append((items, future))
        if not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._run_due)
        return await future

    def _full(self) -> bool:
        return sum(len(items) for items, _ in self._pending) >= self._max_items

    def _run_due(self) -> None:
        loop = asyncio.get_running_loop()
        if len(self._pending) > self._seen and self._turns < MAX_TURNS and not self._full():
            # Requests came in during the last turn: more may be one turn away (parsed, validated).
            self._seen, self._turns = len(self._pending), self._turns + 1
            loop.call_soon(self._run_due)
            return
        self._scheduled, self._seen, self._turns = False, 0, 0
        taken, count = 0, 0
        while taken < len(self._pending) and (taken == 0 or count + len(self._pending[taken][0]) <= self._max_items):
            count += len(self._pending[taken][0])
            taken += 1
        batch, self._pending = self._pending[:taken], self._pending[taken:]
        if self._pending:  # the rest in the next turn, after other callbacks (health checks) had theirs
            self._scheduled = True
            loop.call_soon(self._run_due)
        live = [(items, future) for items, future in batch if not future.cancelled()]  # clients gone
        if not live:
            return
        try:
            results = list(self._run([item for items, _ in live for item in items]))
        except Exception as error:  # the model's fault: every request of the call gets it
            for _, future in live:
                future.set_exception(error)
            return
        self._on_batch(len(live), len(results))
        start = 0
        for items, future in live:
            future.set_result(results[start : start + len(items)])
            start += len(items)
