"""The baseline for the contacts benchmark: a bare Litestar endpoint that stores the posted JSON in one table.

It shares civicvoice's engine (``create_engine``: SQLite WAL + BEGIN IMMEDIATE, the same pool sizes) and its
session plumbing (advanced-alchemy plugin, autocommit), and leaves out everything civicvoice adds on top.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from advanced_alchemy.extensions.litestar import AsyncSessionConfig, SQLAlchemyAsyncConfig, SQLAlchemyPlugin
from litestar import Litestar, get, post
from litestar.di import NamedDependency
from litestar.params import JSONBody
from litestar.status_codes import HTTP_202_ACCEPTED
from sqlalchemy import JSON, DateTime, Uuid
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from civicvoice.core.db import create_engine
from civicvoice.core.settings import Settings

DATABASE_URL_ENV = "BENCH_BASELINE_DATABASE_URL"
DATA_DIR_ENV = "BENCH_BASELINE_DATA_DIR"


class BaselineBase(DeclarativeBase):
    pass


class ReceivedContact(BaselineBase):
    __tablename__ = "received_contact"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


@post("/api/v1/contacts", status_code=HTTP_202_ACCEPTED)
async def receive_contact(data: JSONBody[dict[str, Any]], db_session: NamedDependency[AsyncSession]) -> dict[str, str]:
    row = ReceivedContact(id=uuid.uuid4(), body=data, received_at=datetime.now(UTC))
    db_session.add(row)
    # Committed before the answer, as civicvoice's intake does.
    await db_session.commit()
    return {"id": str(row.id)}


@get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


def create_baseline_app(database_url: str, data_dir: Path | None = None) -> Litestar:
    data_dir = data_dir or Path(tempfile.mkdtemp(prefix="baseline-"))
    settings = Settings(data_dir=data_dir, database_url=database_url)
    config = SQLAlchemyAsyncConfig(
        engine_instance=create_engine(settings),
        session_config=AsyncSessionConfig(expire_on_commit=False),
        session_dependency_key="db_session",
        before_send_handler="autocommit",
        create_all=True,
        metadata=BaselineBase.metadata,
    )
    return Litestar(
        route_handlers=[receive_contact, health],
        plugins=[SQLAlchemyPlugin(config=config)],
        request_max_body_size=settings.max_body_bytes,
        logging_config=None,
        debug=False,
    )


def create_baseline_app_from_env() -> Litestar:
    """The uvicorn factory (``--factory``), configured from the environment the harness sets."""
    data_dir = os.environ.get(DATA_DIR_ENV)
    return create_baseline_app(os.environ[DATABASE_URL_ENV], Path(data_dir) if data_dir else None)


if __name__ == "__main__":
    # `make bench` runs every bench/*.py; this one is served by contacts_throughput.py, not run on its own.
    print("baseline_app.py: the baseline app for contacts_throughput.py, nothing to measure on its own.")
