"""What every command-line command needs: settings from the environment and one unit of work, with errors
turned into one-line messages. Features' command groups and the composition root's CLI share these."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import click
from sqlalchemy.ext.asyncio import AsyncSession

from civicvoice.core.errors import CivicVoiceError
from civicvoice.core.settings import Settings

T = TypeVar("T")


def settings_from_env() -> Settings:
    try:
        return Settings.from_env()
    except CivicVoiceError as exc:
        raise click.ClickException(exc.detail) from None


def run_db(settings: Settings, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run one unit of work against the configured database; errors become one-line CLI messages."""
    from civicvoice.core.db import create_engine, session_factory, unit_of_work

    async def main() -> T:
        engine = create_engine(settings)
        try:
            async with unit_of_work(session_factory(engine)) as session:
                return await work(session)
        finally:
            await engine.dispose()

    try:
        return asyncio.run(main())
    except CivicVoiceError as exc:
        raise click.ClickException(exc.detail) from None
    except OSError as exc:
        raise click.ClickException(f"Cannot reach the database: {exc.strerror or exc}.") from None
