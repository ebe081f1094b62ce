"""PostgreSQL's pooled connections are checked on checkout only after sitting idle: one used a moment ago goes
straight to its caller (no extra round trip per transaction), and one that died while idle is replaced before the
caller sees it."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import text

import civicvoice.core.db
from civicvoice.core.db import create_engine
from tests.conftest import PG_URL
from tests.integration.support import TestDatabase

pytestmark = pytest.mark.parametrize(
    "backend",
    ["postgresql"]
    if PG_URL
    else [pytest.param("postgresql", marks=pytest.mark.skip(reason="PostgreSQL only: no test database configured"))],
)


def count_pings(engine: Any) -> list[int]:
    pings: list[int] = []
    ping = engine.dialect.do_ping

    def counted(dbapi_connection: Any) -> bool:
        pings.append(1)
        return bool(ping(dbapi_connection))

    engine.dialect.do_ping = counted
    return pings


async def test_a_connection_used_a_moment_ago_is_not_pinged(db: TestDatabase) -> None:
    engine = create_engine(db.settings)
    pings = count_pings(engine)
    try:
        for _ in range(5):
            async with engine.connect() as connection:
                assert await connection.scalar(text("SELECT 1")) == 1
        assert pings == []
    finally:
        await engine.dispose()


async def test_a_connection_that_died_while_idle_is_replaced_before_use(
    db: TestDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(civicvoice.core.db, "PING_AFTER_IDLE", 0.05)
    engine = create_engine(db.settings)
    pings = count_pings(engine)
    try:
        async with engine.connect() as connection:
            first = await connection.scalar(text("SELECT pg_backend_pid()"))
        async with db.engine.connect() as other:  # the server ends it while it sits in the pool
            assert await other.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
        await asyncio.sleep(0.2)
        async with engine.connect() as connection:
            second = await connection.scalar(text("SELECT pg_backend_pid()"))
        assert second != first
        assert pings == [1]  # the dead one was pinged (and failed); the new one was not
    finally:
        await engine.dispose()
