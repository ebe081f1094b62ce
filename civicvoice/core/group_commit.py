"""Group commit: many requests' writes stored in one transaction by one writer task per process.

A request prepares its item in its own coroutine (so bad input is refused to that request alone), hands it to
the writer and awaits the outcome. The writer takes whatever is queued (up to ``max_batch``), runs the feature's
``write(session, items)`` in one session, which returns one outcome per item in order, and commits once. Should
the batch fail (a race with another process, SQLite busy, anything unexpected) it is rolled back and every item's
outcome is `FALLBACK`: the request then stores its item on the feature's ordinary one-at-a-time path, in its own
session, so behaviour and error isolation are that path's.

Why: with SQLite's single writer, and with PostgreSQL's per-commit cost, a handful of statements and one commit
for a whole batch is what lets a busy intake keep up; each request still gets its own answer.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final, Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker


class _Fallback:
    def __repr__(self) -> str:
        return "FALLBACK"


FALLBACK: Final = _Fallback()  # the batch failed: the request stores its item on the one-at-a-time path

ItemT = TypeVar("ItemT")
OutcomeT = TypeVar("OutcomeT")


@dataclass
class _Queued(Generic[ItemT, OutcomeT]):
    item: ItemT
    future: asyncio.Future[OutcomeT | _Fallback]


class GroupCommit(Generic[ItemT, OutcomeT]):
    """One writer task for the running event loop; `submit` an item, get its outcome or `FALLBACK`."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        write: Callable[[AsyncSession, list[ItemT]], Awaitable[list[OutcomeT]]],
        *,
        name: str,
        max_batch: int = 64,
    ) -> None:
        self.sessions = sessions
        self.write = write
        self.name = name
        self.max_batch = max_batch
        self._queue: asyncio.Queue[_Queued[ItemT, OutcomeT]] | None = None
        self._writer: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.batches = 0  # batches committed (for tests and metrics)
        self.fallbacks = 0  # batches that took the one-at-a-time path
        self.last_error: Exception | None = None  # why the last one did (type only in logs: it may quote data)

    async def submit(self, item: ItemT) -> OutcomeT | _Fallback:
        queued: _Queued[ItemT, OutcomeT] = _Queued(item, asyncio.get_running_loop().create_future())
        self._ensure_writer().put_nowait(queued)
        return await queued.future

    def _ensure_writer(self) -> asyncio.Queue[_Queued[ItemT, OutcomeT]]:
        loop = asyncio.get_running_loop()
        if self._queue is None or self._loop is not loop or self._writer is None or self._writer.done():
            self._loop = loop
            self._queue = asyncio.Queue()
            self._writer = loop.create_task(self._run(self._queue), name=self.name)
        return self._queue

    async def aclose(self) -> None:
        """Stop the writer; items still queued take the one-at-a-time path."""
        writer, queue = self._writer, self._queue
        self._writer = self._queue = None
        if writer is not None and not writer.done():
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer
        while queue is not None and not queue.empty():
            _settle(queue.get_nowait().future, FALLBACK)

    async def _run(self, queue: asyncio.Queue[_Queued[ItemT, OutcomeT]]) -> None:
        while True:
            batch = [await queue.get()]
            await asyncio.sleep(0)  # once: requests already running can join this batch
            while len(batch) < self.max_batch and not queue.empty():
                batch.append(queue.get_nowait())
            live = [q for q in batch if not q.future.done()]  # a request that gave up is not written
            try:
                if live:
                    await self._write(live)
            except asyncio.CancelledError:
                for q in live:
                    _settle(q.future, FALLBACK)
                raise

    async def _write(self, batch: list[_Queued[ItemT, OutcomeT]]) -> None:
        try:
            async with self.sessions() as session:
                try:
                    outcomes = await self.write(session, [q.item for q in batch])
                    if len(outcomes) != len(batch):
                        raise RuntimeError(f"{self.name}: {len(outcomes)} outcomes for {len(batch)} items")
                    await session.commit()
                except BaseException:
                    await session.rollback()
                    raise
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self.fallbacks += 1
            self.last_error = exc
            for q in batch:
                _settle(q.future, FALLBACK)
            return
        self.batches += 1
        for q, outcome in zip(batch, outcomes, strict=True):
            _settle(q.future, outcome)


def _settle(future: asyncio.Future[OutcomeT | _Fallback], value: OutcomeT | _Fallback) -> None:
    if not future.done():
        future.set_result(value)
