"""Group commit: many requests' writes stored in one transaction by a writer task of the process.

A request prepares its item in its own coroutine (so bad input is refused to that request alone), hands it to
the writer and awaits the outcome. The writer takes whatever is queued (up to ``max_batch``), runs the feature's
``write(session, items)`` in one session, which returns one outcome per item in order, and commits once. Should
the batch fail (a race with another process, SQLite busy, anything unexpected) it is rolled back and every item's
outcome is `FALLBACK`: the request then stores its item on the feature's ordinary one-at-a-time path, in its own
session, so behaviour and error isolation are that path's.

Why: with SQLite's single writer, and with PostgreSQL's per-commit cost, a handful of statements and one commit
for a whole batch is what lets a busy intake keep up; each request still gets its own answer.

``writers`` writer tasks may take batches from the one queue. On SQLite one is right (the database has one writer
anyway). On PostgreSQL a batch spends most of its time waiting for round trips, so two or three writers keep the
database busy while each waits; the feature's ``write`` must then be safe against a concurrent batch (row locks
taken in one order; a deadlock or unique violation fails the batch, whose items take the one-at-a-time path).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Hashable, Iterable
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
    keys: frozenset[Hashable]


class GroupCommit(Generic[ItemT, OutcomeT]):
    """Writer tasks for the running event loop; `submit` an item, get its outcome or `FALLBACK`.

    ``keys(item)`` names what an item writes that another batch might write too (a person's identifiers, say).
    With several writers, an item whose keys a batch in flight holds waits for it, in order, so concurrent
    batches do not race each other for the same new rows.
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        write: Callable[[AsyncSession, list[ItemT]], Awaitable[list[OutcomeT]]],
        *,
        name: str,
        max_batch: int = 64,
        writers: int = 1,
        keys: Callable[[ItemT], Iterable[Hashable]] | None = None,
    ) -> None:
        if writers < 1:
            raise ValueError("a group commit needs at least one writer")
        self.sessions = sessions
        self.write = write
        self.name = name
        self.max_batch = max_batch
        self.writers = writers
        self.keys = keys
        self._pending: deque[_Queued[ItemT, OutcomeT]] = deque()
        self._busy: Counter[Hashable] = Counter()  # keys of the batches being written
        self._changed: asyncio.Event | None = None  # set when an item arrives or a batch ends
        self._tasks: list[asyncio.Task[None]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self.batches = 0  # batches committed (for tests and metrics)
        self.fallbacks = 0  # batches that took the one-at-a-time path
        self.last_error: Exception | None = None  # why the last one did (type only in logs: it may quote data)

    async def submit(self, item: ItemT) -> OutcomeT | _Fallback:
        changed = self._ensure_writers()
        keys = frozenset(self.keys(item)) if self.keys is not None and self.writers > 1 else frozenset()
        queued: _Queued[ItemT, OutcomeT] = _Queued(item, asyncio.get_running_loop().create_future(), keys)
        self._pending.append(queued)
        changed.set()
        return await queued.future

    def _ensure_writers(self) -> asyncio.Event:
        loop = asyncio.get_running_loop()
        if self._changed is None or self._loop is not loop or any(task.done() for task in self._tasks):
            if self._loop is loop:  # a writer ended unexpectedly: start the set afresh
                self._stop(self._tasks)
            else:  # a new event loop (tests): what the old one held is not ours to settle
                self._pending.clear()
            self._busy.clear()
            self._loop = loop
            self._changed = asyncio.Event()
            self._tasks = [
                loop.create_task(self._run(self._changed), name=f"{self.name}-{number}")
                for number in range(self.writers)
            ]
        return self._changed

    def _stop(self, tasks: list[asyncio.Task[None]]) -> None:
        for task in tasks:
            task.cancel()
        while self._pending:
            _settle(self._pending.popleft().future, FALLBACK)

    async def aclose(self) -> None:
        """Stop the writers; items still waiting take the one-at-a-time path."""
        tasks = self._tasks
        self._tasks, self._changed = [], None
        self._stop(tasks)
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def _take(self) -> list[_Queued[ItemT, OutcomeT]]:
        """The next batch: waiting items in order, up to ``max_batch``, leaving those whose keys are in flight."""
        batch: list[_Queued[ItemT, OutcomeT]] = []
        waiting: deque[_Queued[ItemT, OutcomeT]] = deque()
        while self._pending:
            queued = self._pending.popleft()
            if queued.future.done():  # a request that gave up is not written
                continue
            if len(batch) < self.max_batch and not any(key in self._busy for key in queued.keys):
                batch.append(queued)
            else:
                waiting.append(queued)
        self._pending = waiting
        return batch

    async def _run(self, changed: asyncio.Event) -> None:
        while True:
            if not any(not q.future.done() for q in self._pending):
                changed.clear()
                await changed.wait()
                continue
            await asyncio.sleep(0)  # once: requests already running can join this batch
            batch = self._take()
            if not batch:  # all waiting items wait for batches in flight
                changed.clear()
                await changed.wait()
                continue
            keys = [key for queued in batch for key in queued.keys]
            self._busy.update(keys)
            try:
                await self._write(batch)
            except asyncio.CancelledError:
                for queued in batch:
                    _settle(queued.future, FALLBACK)
                raise
            finally:
                self._busy.subtract(keys)
                self._busy += Counter()  # drops keys no batch holds any more
                changed.set()

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
