from __future__ import annotations

import asyncio

import pytest

from gitops_ml.serving.batching import Batcher


def recording_batcher(max_items: int = 100) -> tuple[Batcher[int, int], list[list[int]], list[tuple[int, int]]]:
    calls: list[list[int]] = []
    told: list[tuple[int, int]] = []

    def double(items: list[int]) -> list[int]:
        calls.append(items)
        return [2 * item for item in items]

    return Batcher(double, max_items, lambda requests, items: told.append((requests, items))), calls, told


def test_concurrent_requests_share_one_call_and_each_gets_its_own_results() -> None:
    batcher, calls, told = recording_batcher()

    async def main() -> list[list[int]]:
        return await asyncio.gather(batcher([1]), batcher([2, 3]), batcher([4]))

    assert asyncio.run(main()) == [[2], [4, 6], [8]]
    assert calls == [[1, 2, 3, 4]] and told == [(3, 4)]


def test_a_lone_request_is_run_in_the_next_turn_without_waiting() -> None:
    batcher, calls, _ = recording_batcher()

    async def main() -> float:
        loop = asyncio.get_running_loop()
        started = loop.time()
        assert await batcher([5]) == [10]
        return loop.time() - started

    assert asyncio.run(main()) < 0.01
    assert calls == [[5]]


def test_calls_hold_at_most_max_items_unless_one_request_has_more() -> None:
    batcher, calls, _ = recording_batcher(max_items=3)

    async def main() -> list[list[int]]:
        return await asyncio.gather(batcher([1, 2]), batcher([3, 4]), batcher([5, 6, 7, 8, 9]), batcher([10]))

    assert asyncio.run(main()) == [[2, 4], [6, 8], [10, 12, 14, 16, 18], [20]]
    assert calls == [[1, 2], [3, 4], [5, 6, 7, 8, 9], [10]]


def test_a_failing_call_fails_its_requests_and_the_next_call_runs() -> None:
    def run(items: list[int]) -> list[int]:
        if 0 in items:
            raise ValueError("model fault")
        return items

    batcher: Batcher[int, int] = Batcher(run, max_items=2)

    async def main() -> list[object]:
        return await asyncio.gather(batcher([0]), batcher([1]), batcher([2]), return_exceptions=True)

    first, second, third = asyncio.run(main())
    assert isinstance(first, ValueError) and isinstance(second, ValueError)
    assert third == [2]


def test_a_request_whose_client_left_is_not_computed() -> None:
    batcher, calls, _ = recording_batcher()

    async def main() -> list[int]:
        gone = asyncio.ensure_future(batcher([1]))
        stays = asyncio.ensure_future(batcher([2]))
        await asyncio.sleep(0)  # both queued
        gone.cancel()
        with pytest.raises(asyncio.CancelledError):
            await gone
        return await stays

    assert asyncio.run(main()) == [4]
    assert calls == [[2]]
