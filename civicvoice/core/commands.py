"""What every command-line command needs: settings from the environment and one unit of work, with errors
turned into one-line messages. Features' command groups and the composition root's CLI share these."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import TypeVar

import click
from sqlalchemy.ext.asyncio import AsyncSession

from civicvoice.core.errors import CivicVoiceError
from civicvoice.core.services import Extensions
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


# The composition root puts every feature's extension contributions here, so a feature's command can ask, say,
# which legal holds cover a person without importing the features above it.
EXTENSIONS_KEY = "civicvoice.extensions"


def extensions() -> Extensions:
    found = click.get_current_context().meta.get(EXTENSIONS_KEY)
    return found if isinstance(found, Extensions) else Extensions()


def read_identifier(value: str, what: str) -> str:
    """An identifier given as '-' is read from standard input, so it stays out of shell history."""
    if value != "-":
        return value
    line = sys.stdin.readline().strip()
    if not line:
        raise click.ClickException(f"Give the {what} on standard input (one line), or in place of '-'.")
    return line
