"""What every command-line command needs: settings from the environment and one unit of work, with errors
turned into one-line messages. Features' command groups and the composition root's CLI share these."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

import click
import structlog
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


def run_process(main: Coroutine[Any, Any, T], *, grace: float = 10.0) -> T:
    """`asyncio.run` for a long-running process (`civicvoice worker`), except that it always ends: tasks a library
    left behind when ``main`` returns are cancelled and given ``grace`` seconds, and one that ignores its
    cancellation is logged and abandoned rather than keeping a stopped worker alive for ever."""
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(main)
    finally:
        try:
            left = [task for task in asyncio.all_tasks(loop) if not task.done()]
            for task in left:
                task.cancel()
            if left:
                loop.run_until_complete(asyncio.wait(left, timeout=grace))
                stuck = [task for task in left if not task.done()]
                if stuck:
                    structlog.get_logger("civicvoice.process").warning(
                        "tasks_abandoned_at_exit", count=len(stuck), tasks=[task.get_name() for task in stuck]
                    )
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            loop.close()
