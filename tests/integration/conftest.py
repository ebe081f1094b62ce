"""Integration fixtures: a real, migrated database per test, the app with its lifespan, and API keys.

SQLite: migrations run once into a template file, copied per test. PostgreSQL (CIVICVOICE_TEST_DATABASE_URL):
migrations run once into that fresh database and every table is emptied between tests.

Building the app registers some 300 route handlers (0.2 s, most of a short test's time), so a test process
builds it once per distinct settings: the default settings of a backend are the same in every test of a process
(one keyring, one data directory and key file emptied before each test, one database made fresh as above), and
the SMTP sink is one server whose messages are cleared before each test. Nothing a test does outlives it: its
data directory and database start empty, the app's lifespan builds its services afresh, and the app's engine is
disposed when the test ends. Settings a test changes itself get an app of their own.
"""

from __future__ import annotations

import asyncio
import gc
import os
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import URL, make_url, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool

from civicvoice.app import create_app
from civicvoice.core.services import Services
from civicvoice.core.settings import Settings
from privacy.keyring import Keyring
from tests.conftest import BACKENDS, PG_URL
from tests.integration.job_backends import JOB_BACKENDS, JobBackend, saq_settings
from tests.integration.smtp import SmtpServer
from tests.integration.support import TestDatabase, migrate, truncate_all


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("template")
    settings = Settings(data_dir=directory, database_url=f"sqlite+aiosqlite:///{directory / 'template.db'}")
    migrate(settings)
    return directory / "template.db"


@pytest.fixture(scope="session")
def postgres_migrated() -> Iterator[str]:
    """The configured PostgreSQL database, migrated. Under pytest-xdist each worker gets a database of its own
    beside it (named after the worker), created here and dropped at the end, so workers never share tables."""
    assert PG_URL, "CIVICVOICE_TEST_DATABASE_URL is not set"
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if not worker:
        migrate(Settings(database_url=PG_URL))
        yield PG_URL
        return
    url = make_url(PG_URL)
    name = f"{url.database}_{worker}"
    asyncio.run(_recreate_database(url, name))
    worker_url = url.set(database=name).render_as_string(hide_password=False)
    try:
        migrate(Settings(database_url=worker_url))
        yield worker_url
    finally:
        asyncio.run(_recreate_database(url, name, create=False))


async def _recreate_database(url: URL, name: str, *, create: bool = True) -> None:
    """Drop the database `name` on `url`'s server, and create it again unless told not to."""
    engine = create_async_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            if create:
                await conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        await engine.dispose()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def process_keyring() -> Keyring:
    return Keyring.generate()


@pytest.fixture
def keyring(process_keyring: Keyring) -> Keyring:
    return process_keyring


@pytest.fixture(scope="session")
def process_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("process")


@pytest.fixture
def settings(backend: str, process_dir: Path, keyring: Keyring, request: pytest.FixtureRequest) -> Settings:
    """The backend's default settings, the same in every test of this process; their data directory and key
    file are emptied and their database made fresh for each test."""
    root = process_dir / backend
    shutil.rmtree(root, ignore_errors=True)
    data_dir = root / "data"
    data_dir.mkdir(parents=True)
    if backend == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        shutil.copy(template, data_dir / "civicvoice.db")
        url = f"sqlite+aiosqlite:///{data_dir / 'civicvoice.db'}"
    else:
        url = request.getfixturevalue("postgres_migrated")
        asyncio.run(truncate_all(Settings(database_url=url)))
    return Settings(
        data_dir=data_dir,
        database_url=url,
        key_file=root / "keys" / "keys.json",
        keys_json=keyring.to_json(),
        embedded_worker=False,
        freeze_heap=False,  # many apps start in one test process (tests/integration/test_heap.py tests it)
        log_json=True,
        base_url="http://testserver.local",
    )


@pytest.fixture(params=JOB_BACKENDS)
def job_backend(request: pytest.FixtureRequest, settings: Settings) -> Iterator[JobBackend]:
    """Each job test runs on the embedded worker and on SAQ (skipped, saying so, when no Redis answers)."""
    if request.param == "saq":
        for saq in saq_settings(settings):
            yield JobBackend("saq", saq)
        return
    yield JobBackend("embedded", settings)


@pytest.fixture
async def db(settings: Settings) -> AsyncIterator[TestDatabase]:
    database = TestDatabase(settings)
    try:
        yield database
    finally:
        await database.close()


@pytest.fixture
async def catalogue(db: TestDatabase) -> None:
    await db.load_catalogue()


_APPS: dict[str, Litestar] = {}


async def app_for(settings: Settings) -> AsyncIterator[Litestar]:
    """The app for these settings (built once a process), with no services until its lifespan runs; its
    engine is disposed when the test ends, so no connection outlives the test's database."""
    key = repr(settings)
    app = _APPS.get(key)
    if app is None:
        app = _APPS[key] = create_app(settings, worker=False)
        # Kept for the whole run: out of the collector's sight, so full collections stay as quick as before.
        gc.collect()
        gc.freeze()
    app.state.services = Services()
    app.state.pop("worker", None)
    try:
        yield app
    finally:
        await app.state.sessions.kw["bind"].dispose()


@pytest.fixture
async def app(settings: Settings, catalogue: None) -> AsyncIterator[Litestar]:
    async for built in app_for(settings):
        yield built


@pytest.fixture
async def client(app: Litestar) -> AsyncIterator[AsyncTestClient[Litestar]]:
    async with AsyncTestClient(app=app, base_url="http://testserver.local") as client:
        yield client


@pytest.fixture
async def api_key(db: TestDatabase) -> str:
    return await db.api_key(["contacts:write"])


@pytest.fixture
def auth(api_key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_key}"}


@pytest.fixture
def sessions(db: TestDatabase) -> async_sessionmaker[AsyncSession]:
    return db.sessions


Client = AsyncTestClient[Litestar]


# --- the survey loop with a real SMTP server (aiosmtpd) ---------------------------------------------------------


@pytest.fixture(scope="session")
def process_smtp() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def smtp(process_smtp: SmtpServer) -> SmtpServer:
    process_smtp.messages.clear()
    return process_smtp


@pytest.fixture
def mail_settings(settings: Settings, smtp: SmtpServer) -> Settings:
    return settings.with_changes(smtp_host="127.0.0.1", smtp_port=smtp.port, smtp_security="none")


@pytest.fixture
async def loop_app(mail_settings: Settings, catalogue: None) -> AsyncIterator[Litestar]:
    async for built in app_for(mail_settings):
        yield built


@pytest.fixture
async def loop_client(loop_app: Litestar) -> AsyncIterator[Client]:
    async with AsyncTestClient(app=loop_app, base_url="http://testserver.local") as client:
        yield client


__all__ = ["Any", "text"]
