"""Test support that talks to the real database: migrations, emptying tables, loading fixtures."""

from __future__ import annotations

from typing import Any

from sqlalchemy import literal, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from civicvoice.cli import migrate_database
from civicvoice.core.audit import Actor
from civicvoice.core.auth import create_api_key
from civicvoice.core.db import create_engine, session_factory, unit_of_work
from civicvoice.core.settings import Settings
from civicvoice.demo import load_catalogue
from civicvoice.models import Base
from surveys.models import InvitationPolicyRecord
from surveys.rules import InvitationPolicy

# The contact systems the tests report for; a test key may report all of them unless a test says otherwise.
TEST_SOURCES = ("crm", "telephony", "webchat")


def migrate(settings: Settings) -> None:
    migrate_database(settings)


async def truncate_all(settings: Settings) -> None:
    """Empty every table a test may have filled. Emptying only the tables that hold rows, by DELETE in reverse
    dependency order, takes milliseconds; a TRUNCATE of every table took 0.4 s or more per test."""
    tables = Base.metadata.sorted_tables
    probe = union_all(*(select(literal(i)).select_from(table).limit(1) for i, table in enumerate(tables)))
    engine = create_engine(settings, pooled=False)
    try:
        async with engine.begin() as conn:
            filled = sorted((await conn.execute(probe)).scalars(), reverse=True)
            for i in filled:
                await conn.execute(tables[i].delete())
    finally:
        await engine.dispose()


class TestDatabase:
    """The test's handle on its database: sessions and a few loaders."""

    __test__ = False

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.engine = create_engine(settings)
        self.sessions = session_factory(self.engine)

    async def close(self) -> None:
        await self.engine.dispose()

    async def load_catalogue(self, policy: InvitationPolicy | None = None) -> None:
        async with unit_of_work(self.sessions) as session:
            await load_catalogue(session)
            session.add(InvitationPolicyRecord(name="default", settings=(policy or InvitationPolicy.demo()).to_dict()))

    async def set_policy(self, policy: InvitationPolicy) -> None:
        async with unit_of_work(self.sessions) as session:
            row = await session.scalar(select(InvitationPolicyRecord).where(InvitationPolicyRecord.name == "default"))
            assert row is not None
            row.settings = policy.to_dict()

    async def api_key(self, scopes: list[str], sources: tuple[str, ...] = TEST_SOURCES) -> str:
        async with unit_of_work(self.sessions) as session:
            issued = await create_api_key(
                session,
                name="test",
                scopes=scopes,
                known_scopes=["contacts:write", *scopes],
                actor=Actor.cli(),
                sources=sources,
            )
            return issued.secret

    async def all(self, model: Any) -> list[Any]:
        async with self.sessions() as session:
            return list((await session.scalars(select(model))).all())

    async def count(self, model: Any) -> int:
        return len(await self.all(model))

    async def session(self) -> AsyncSession:
        return self.sessions()
