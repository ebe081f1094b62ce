"""Database: the declarative base, the engine (SQLite or PostgreSQL) and the one session dependency."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import aiosqlite
from advanced_alchemy.base import UUIDv7Base
from advanced_alchemy.extensions.litestar import AlembicAsyncConfig, AsyncSessionConfig, SQLAlchemyAsyncConfig
from sqlalchemy import Select, Table, event
from sqlalchemy import exc as sqlalchemy_exc
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool
from sqlalchemy.util import await_only

from civicvoice.core.datamap import DataMapEntry
from civicvoice.core.ids import new_id
from civicvoice.core.settings import Settings

T = TypeVar("T", bound=Any)

# Migrations sit beside the packages at the project's top level (installed in editable mode).
MIGRATIONS_DIR = str(Path(__file__).resolve().parents[2] / "migrations")


class Base(UUIDv7Base):
    """Every civicvoice table: UUIDv7 id made before insert, and a data-map declaration."""

    __abstract__ = True
    __datamap__: ClassVar[DataMapEntry]

    def __init__(self, **kwargs: Any) -> None:
        # The id exists from construction, because ciphertexts are bound to it before any flush.
        kwargs.setdefault("id", new_id())
        super().__init__(**kwargs)


def create_engine(settings: Settings, *, pooled: bool = True) -> AsyncEngine:
    """The engine; ``pooled=False`` for one-shot work (migrations) that runs in its own event loop."""
    pool: dict[str, Any] = {"poolclass": NullPool} if not pooled else {}
    if settings.is_sqlite:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        if pooled:
            pool = {"pool_size": 10, "max_overflow": 10}
        # hide_parameters: a failing statement never copies bound values into an exception or a log.
        engine = create_async_engine(settings.database_url, connect_args={"timeout": 30}, hide_parameters=True, **pool)
        _configure_sqlite(engine)
        return engine
    if pooled:
        pool = {"pool_size": 10, "max_overflow": 20}
    engine = create_async_engine(settings.database_url, hide_parameters=True, **pool)
    if pooled:
        _ping_when_idle(engine)
    return engine


PING_AFTER_IDLE = 10.0  # seconds a pooled PostgreSQL connection sat unused before it is checked on checkout


def _ping_when_idle(engine: AsyncEngine) -> None:
    """Check a pooled connection before handing it out only when it sat unused for a while (the database was
    restarted, a firewall dropped it): a connection that was in use a moment ago is alive, and pinging it on every
    checkout, as `pool_pre_ping` does, cost a round trip per transaction. A dead one is replaced before the caller
    sees it; one that dies between its last use and the next is found by its first statement, and the pool is
    then invalidated as usual."""

    @event.listens_for(engine.sync_engine.pool, "checkin")
    def _checked_in(_dbapi_connection: Any, record: Any) -> None:
        if record is not None:
            record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine.sync_engine.pool, "checkout")
    def _checked_out(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.pop("idle_since", None)
        if since is not None and time.monotonic() - since > PING_AFTER_IDLE:
            try:
                engine.dialect.do_ping(dbapi_connection)
            except Exception as exc:  # any failure: the pool drops this one and connects again
                raise sqlalchemy_exc.DisconnectionError("the pooled connection did not answer") from exc


def _configure_sqlite(engine: AsyncEngine) -> None:
    # pysqlite's own transaction handling is off, so every transaction is BEGIN IMMEDIATE: the writer lock is
    # taken at the start, which is what makes the per-person frequency cap hold under concurrency.
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    # SQLAlchemy's aiosqlite adapter closes its driver cursor after a statement succeeds, not after one fails (a
    # unique key raced, a lock timed out): the cursor, its prepared statement still open, stays referenced from the
    # failed call's frames in a reference cycle. The cyclic garbage collector frees it later on the event loop's
    # thread, and resetting the statement waits for its connection's mutex; if the connection is by then waiting
    # in another transaction for the writer lock, the event loop stops, and with it the transaction holding the
    # lock: a 30-second stall, then "database is locked". So a failed statement's cursor is closed at once, on
    # the connection's own thread, while the connection is still idle.
    @event.listens_for(engine.sync_engine, "handle_error")
    def _close_failed_cursor(context: Any) -> None:
        trace = context.original_exception.__traceback__
        while trace is not None:
            cursor = trace.tb_frame.f_locals.get("_cursor")
            if isinstance(cursor, aiosqlite.Cursor):
                await_only(cursor.close())
            trace = trace.tb_next

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        # A long read (an export streaming a million rows) takes no writer lock: WAL gives it a snapshot.
        conn.exec_driver_sql("BEGIN" if conn.get_execution_options().get(READ_ONLY) else "BEGIN IMMEDIATE")


def sqlalchemy_config(settings: Settings, engine: AsyncEngine | None = None) -> SQLAlchemyAsyncConfig:
    return SQLAlchemyAsyncConfig(
        engine_instance=engine or create_engine(settings),
        session_config=AsyncSessionConfig(expire_on_commit=False),
        session_dependency_key="db_session",
        # Handlers never commit: the injected session commits when the answer is a success or a redirect
        # (post, redirect, get) and rolls back on any error answer.
        before_send_handler="autocommit_include_redirects",
        create_all=False,
        alembic_config=AlembicAsyncConfig(
            script_location=MIGRATIONS_DIR,
            version_table_name="alembic_version",
            render_as_batch=True,
        ),
    )


READ_ONLY = "civicvoice_read_only"


async def read_only(session: AsyncSession) -> None:
    """Make a fresh session's transaction a reader: on SQLite it then holds no writer lock (it would stall every
    write for as long as a long read runs); PostgreSQL readers never block writers anyway. Call it first."""
    await session.connection(execution_options={READ_ONLY: True})


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


@asynccontextmanager
async def unit_of_work(factory: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """A session in one transaction: committed on success, rolled back on any error."""
    async with factory() as session, session.begin():
        yield session


def table(model: type[Base]) -> Table:
    """A model's table, for Core statements (bulk inserts with executemany) that skip the ORM's unit of work."""
    mapped: Table = model.__table__  # type: ignore[assignment]
    return mapped


def conflict_insert(session: AsyncSession, target: Table) -> postgresql.Insert | sqlite.Insert:
    """An INSERT into ``target`` in the session's dialect (PostgreSQL or SQLite), so it can say what a unique key
    already taken does: `on_conflict_do_nothing` or `on_conflict_do_update`, one statement on both databases."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(target)
    return sqlite.insert(target)


def locked(stmt: Select[T]) -> Select[T]:
    """Row lock for PostgreSQL (FOR UPDATE); SQLite already holds the writer lock from BEGIN IMMEDIATE."""
    return stmt.with_for_update()
