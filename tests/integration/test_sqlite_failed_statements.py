"""A failed statement on SQLite must not be able to stop the event loop.

SQLAlchemy's aiosqlite adapter leaves the driver cursor of a failed statement open, in a reference cycle. When the
garbage collector later frees it on the event loop's thread, resetting its statement waits for the connection's
mutex; if that connection is by then waiting for the writer lock, the loop stops until the busy timeout, and the
transaction that holds the lock cannot finish. The engine closes a failed statement's cursor at once
(``civicvoice.core.db``); this test recreates the stall's exact conditions and times the collection.
"""

from __future__ import annotations

import asyncio
import gc
import time

import pytest
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from civicvoice.core.db import create_engine, session_factory
from civicvoice.core.ids import new_id
from civicvoice.core.ratelimit import RateLimitState
from civicvoice.core.settings import Settings

ROWS = RateLimitState.__table__


@pytest.fixture
def backend() -> str:
    """SQLite only: PostgreSQL's driver has no thread per connection and no such wait."""
    return "sqlite"


async def test_collecting_a_failed_statement_never_waits_for_a_busy_connection(settings: Settings) -> None:
    engine = create_engine(settings)  # one connection in use at a time below, so the pool hands back the same one
    holder_engine = create_engine(settings)
    sessions, holder_sessions = session_factory(engine), session_factory(holder_engine)
    try:
        async with sessions() as session, session.begin():
            await session.execute(insert(ROWS).values(id=new_id(), name="taken", tat=0.0))
        gc.collect()
        gc.disable()  # the failed statement's leftovers stay uncollected until the moment chosen below
        try:
            with pytest.raises(IntegrityError):
                async with sessions() as session, session.begin():
                    await session.execute(insert(ROWS).values(id=new_id(), name="taken", tat=0.0))

            # Another worker takes the writer lock and holds it for a moment...
            locked, release = asyncio.Event(), asyncio.Event()

            async def hold_the_lock() -> None:
                async with holder_sessions() as session, session.begin():
                    await session.execute(insert(ROWS).values(id=new_id(), name="holder", tat=0.0))
                    locked.set()
                    await release.wait()

            holder = asyncio.create_task(hold_the_lock())
            await locked.wait()

            # ...while the connection that ran the failed statement waits for it, busy, in its own thread.
            async def wait_for_the_lock() -> float:
                async with sessions() as session, session.begin():
                    return float(await session.scalar(select(ROWS.c.tat).where(ROWS.c.name == "taken")) or 0.0)

            waiter = asyncio.create_task(wait_for_the_lock())
            await asyncio.sleep(0.3)
            assert not waiter.done()

            started = time.perf_counter()
            gc.collect()  # frees whatever the failed statement left, on the event loop's thread
            collected_in = time.perf_counter() - started
        finally:
            gc.enable()
        release.set()
        await asyncio.wait_for(holder, 10)
        assert await asyncio.wait_for(waiter, 10) == 0.0
        assert collected_in < 1.0, f"the collection waited {collected_in:.1f} s for a busy connection"
    finally:
        await engine.dispose()
        await holder_engine.dispose()
