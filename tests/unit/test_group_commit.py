"""The group-commit writer on its own: batching, the batch size, fallback, requests that gave up, closing."""

from __future__ import annotations

import asyncio
from typing import Any

from civicvoice.core.group_commit import FALLBACK, GroupCommit


class _Session:
    """Enough of an AsyncSession for the writer: it only commits or rolls back."""

    def __init__(self, log: list[str]) -> None:
        self.log = log

    async def __aenter__(self) -> _Session:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def commit(self) -> None:
        self.log.append("commit")

    async def rollback(self) -> None:
        self.log.append("rollback")


class _Sessions:
    def __init__(self) -> None:
        self.log: list[str] = []

    def __call__(self) -> _Session:
        return _Session(self.log)


def _group(write: Any, **options: Any) -> tuple[GroupCommit[Any, Any], _Sessions]:
    sessions = _Sessions()
    return GroupCommit(sessions, write, name="test-writer", **options), sessions  # type: ignore[arg-type]


async def test_concurrent_items_are_written_in_one_batch_with_one_outcome_each_in_order() -> None:
    batches: list[list[int]] = []

    async def write(_session: object, items: list[int]) -> list[int]:
        batches.append(items)
        return [item * 10 for item in items]

    group, sessions = _group(write)
    try:
        outcomes = await asyncio.gather(*(group.submit(n) for n in range(5)))
    finally:
        await group.aclose()
    assert outcomes == [0, 10, 20, 30, 40]
    assert batches == [[0, 1, 2, 3, 4]]
    assert sessions.log == ["commit"]
    assert group.batches == 1


async def test_a_batch_never_exceeds_max_batch() -> None:
    sizes: list[int] = []

    async def write(_session: object, items: list[int]) -> list[int]:
        sizes.append(len(items))
        return items

    group, _ = _group(write, max_batch=3)
    try:
        assert await asyncio.gather(*(group.submit(n) for n in range(8))) == list(range(8))
    finally:
        await group.aclose()
    assert max(sizes) == 3 and sum(sizes) == 8


async def test_a_failed_batch_is_rolled_back_and_every_item_falls_back() -> None:
    async def write(_session: object, items: list[int]) -> list[int]:
        raise RuntimeError("the database said no")

    group, sessions = _group(write)
    try:
        outcomes = await asyncio.gather(*(group.submit(n) for n in range(3)))
    finally:
        await group.aclose()
    assert outcomes == [FALLBACK] * 3
    assert sessions.log == ["rollback"]
    assert group.fallbacks == 1 and group.batches == 0
    assert isinstance(group.last_error, RuntimeError)


async def test_a_write_with_the_wrong_number_of_outcomes_falls_back() -> None:
    async def write(_session: object, items: list[int]) -> list[int]:
        return items[:-1]

    group, _ = _group(write)
    try:
        assert await asyncio.gather(group.submit(1), group.submit(2)) == [FALLBACK, FALLBACK]
    finally:
        await group.aclose()


async def test_a_request_that_gave_up_is_not_written() -> None:
    release = asyncio.Event()
    written: list[int] = []

    async def write(_session: object, items: list[int]) -> list[int]:
        await release.wait()
        written.extend(items)
        return items

    group, _ = _group(write)
    try:
        first = asyncio.ensure_future(group.submit(1))
        await asyncio.sleep(0.01)  # the writer holds item 1
        gave_up = asyncio.ensure_future(group.submit(2))
        await asyncio.sleep(0)
        gave_up.cancel()
        kept = asyncio.ensure_future(group.submit(3))
        await asyncio.sleep(0)
        release.set()
        assert await first == 1 and await kept == 3
    finally:
        await group.aclose()
    assert written == [1, 3]


async def test_closing_settles_waiting_items_with_fallback() -> None:
    started = asyncio.Event()

    async def write(_session: object, items: list[int]) -> list[int]:
        started.set()
        await asyncio.sleep(3600)
        return items

    group, _ = _group(write)
    held = asyncio.ensure_future(group.submit(1))
    await started.wait()
    waiting = asyncio.ensure_future(group.submit(2))
    await asyncio.sleep(0)
    await group.aclose()
    assert await held is FALLBACK
    assert await waiting is FALLBACK
