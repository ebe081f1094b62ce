"""The `civicvoice` command: a Litestar CLI group with the operator's commands (run, migrate, demo, keys, ...)."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
from typing import TYPE_CHECKING, TypeVar

import click
from litestar.cli._utils import LitestarEnv
from litestar.cli.commands import core, schema
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from civicvoice.core.audit import Actor
from civicvoice.core.commands import EXTENSIONS_KEY, run_db, run_process, settings_from_env
from civicvoice.core.errors import CivicVoiceError
from civicvoice.core.settings import Settings

if TYPE_CHECKING:
    from civicvoice.demo import DemoLogin
    from civicvoice.demo_history import HistoryCounts

T = TypeVar("T")
APP_FACTORY = "civicvoice.app:create_app"


def migrate_database(settings: Settings) -> None:
    from advanced_alchemy.alembic.commands import AlembicCommands

    from civicvoice.core.db import create_engine, sqlalchemy_config

    # Alembic runs its own event loop; an unpooled engine leaves no connection tied to it.
    engine = create_engine(settings, pooled=False)
    AlembicCommands(sqlalchemy_config(settings, engine)).upgrade("head")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.pass_context
def cli(ctx: click.Context) -> None:
    """civicvoice: customer-satisfaction and feedback for public services."""
    if ctx.obj is None:
        # Litestar's own commands (routes, schema, info) find the app through this lazy environment.
        ctx.obj = lambda: LitestarEnv.from_env(APP_FACTORY)
    from civicvoice.app import extensions, features
    from civicvoice.core.logging import configure_logging

    ctx.meta[EXTENSIONS_KEY] = extensions(features())
    # Commands log to standard error, so what they print (JSON for scripts) stays clean on standard output.
    level = os.environ.get("CIVICVOICE_LOG_LEVEL", "WARNING").upper()
    configure_logging(level if level in ("DEBUG", "INFO", "WARNING", "ERROR") else "WARNING", json=True)


cli.add_command(core.routes_command)
cli.add_command(core.info_command)
cli.add_command(schema.schema_group)


@cli.command("migrate")
def migrate_command() -> None:
    """Apply database migrations up to the latest."""
    settings = settings_from_env()
    try:
        migrate_database(settings)
    except CivicVoiceError as exc:
        raise click.ClickException(exc.detail) from None
    except OSError as exc:
        raise click.ClickException(f"Cannot reach the database: {exc.strerror or exc}.") from None
    except Exception as exc:
        raise click.ClickException(
            f"Migration failed ({type(exc).__name__}): {str(exc).splitlines()[0][:300]}"
        ) from None
    click.echo("Database is up to date.")


@cli.command("run")
@click.option("--host", default=None, help="Interface to listen on (CIVICVOICE_HOST, default 127.0.0.1).")
@click.option("--port", default=None, type=int, help="Port (CIVICVOICE_PORT, default 8000).")
@click.option("--workers", default=1, type=int, show_default=True, help="Web processes.")
def run_command(host: str | None, port: int | None, workers: int) -> None:
    """Start the web service (and the embedded job worker). Refuses to start on a missing or wrong key."""
    import uvicorn

    from civicvoice.app import build_services, features
    from civicvoice.core.db import create_engine, session_factory

    settings = settings_from_env()
    host = host or settings.host
    port = port or settings.port

    async def preflight() -> None:
        engine = create_engine(settings)
        try:
            await build_services(settings, session_factory(engine), features())
        finally:
            await engine.dispose()

    try:
        asyncio.run(preflight())
    except CivicVoiceError as exc:
        raise click.ClickException(exc.detail) from None
    except Exception as exc:
        raise click.ClickException(
            f"Cannot start: {type(exc).__name__}. Is the database reachable and migrated ('civicvoice migrate')?"
        ) from None
    click.echo(f"civicvoice is running at http://{host}:{port}/ (API schema: http://{host}:{port}/schema/openapi.json)")
    uvicorn.run(
        APP_FACTORY,
        factory=True,
        host=host,
        port=port,
        workers=workers,
        access_log=False,
        log_config=None,
        server_header=False,
        proxy_headers=True,
    )


@cli.command("demo")
@click.option("--no-history", is_flag=True, help="Only the catalogue, survey, admin and API key: no past months.")
@click.option(
    "--history-size",
    type=click.IntRange(1, 100_000),
    default=None,
    help="Contacts in an average month of the history (default 700).",
)
def demo_command(no_history: bool, history_size: int | None) -> None:
    """Load demo data once: services, a published survey, an admin user, an API key and 13 months of history."""
    from civicvoice.demo import DEMO_SOURCES

    settings = settings_from_env()
    try:
        loaded = asyncio.run(_load_demo(settings, with_history=not no_history, size=history_size))
    except CivicVoiceError as exc:
        raise click.ClickException(exc.detail) from None
    except OSError as exc:
        raise click.ClickException(f"Cannot reach the database: {exc.strerror or exc}.") from None
    if loaded is None:
        click.echo("Demo data is already loaded.")
        return
    login, history = loaded
    if history is not None:
        click.echo(
            f"Demo history loaded: {history.contacts} contacts over 13 months, {history.responses} survey responses, "
            f"{history.comments} comments, {history.cases} complaint cases, {history.actions} improvement actions, "
            f"{history.evaluations} contact evaluations."
        )
    click.echo("Demo data loaded. These are shown once; keep them safe:")
    click.echo(f"  Admin sign-in: {login.admin_email} / {login.admin_password}")
    click.echo(f"  API key (contacts:write; sources {', '.join(DEMO_SOURCES)}): {login.api_key}")


async def _load_demo(
    settings: Settings, *, with_history: bool, size: int | None
) -> tuple[DemoLogin, HistoryCounts | None] | None:
    """The demo's catalogue and logins in one transaction, then its history (built by the features' own services)
    in another; None when the demo is there already."""
    from civicvoice.app import build_services, features
    from civicvoice.core.db import create_engine, session_factory, unit_of_work
    from civicvoice.demo import load_demo
    from civicvoice.demo_history import PER_MONTH, load_history

    engine = create_engine(settings)
    try:
        sessions = session_factory(engine)
        async with unit_of_work(sessions) as session:
            login = await load_demo(session)
        if login is None:
            return None
        if not with_history:
            return login, None
        services = await build_services(settings, sessions, features())
        async with unit_of_work(sessions) as session:
            history = await load_history(session, services, per_month=size or PER_MONTH)
        return login, history
    finally:
        await engine.dispose()


# --- API keys -------------------------------------------------------------------------------------------------


@cli.group("apikey")
def apikey_group() -> None:
    """API keys for contact systems."""


@apikey_group.command("create")
@click.option("--name", required=True, help="What the key is for, e.g. 'Telephony (Genesys)'.")
@click.option("--scope", "scopes", multiple=True, required=True, help="A scope, e.g. contacts:write. Repeatable.")
@click.option(
    "--source",
    "sources",
    multiple=True,
    required=True,
    help="A contact system the key reports for (the events' 'source', e.g. crm). Repeatable.",
)
def apikey_create_command(name: str, scopes: tuple[str, ...], sources: tuple[str, ...]) -> None:
    """Create a key bound to its sources; the key is shown once and stored only as a digest."""
    from civicvoice.app import api_scopes
    from civicvoice.core.auth import create_api_key

    settings = settings_from_env()
    issued = run_db(
        settings,
        lambda s: create_api_key(
            s, name=name, scopes=scopes, known_scopes=api_scopes(), actor=Actor.cli(), sources=sources
        ),
    )
    click.echo(
        f"Created API key {issued.key.prefix} ({', '.join(issued.key.scopes)}; sources "
        f"{', '.join(issued.key.sources)}). It is shown once:"
    )
    click.echo(issued.secret)


@apikey_group.command("sources")
@click.argument("prefix")
@click.option("--source", "sources", multiple=True, required=True, help="A source the key reports for. Repeatable.")
def apikey_sources_command(prefix: str, sources: tuple[str, ...]) -> None:
    """Set the sources an existing key may report (replacing its list), e.g. for a key made before sources."""
    from civicvoice.core.auth import set_api_key_sources

    settings = settings_from_env()
    key = run_db(settings, lambda s: set_api_key_sources(s, prefix=prefix, sources=sources, actor=Actor.cli()))
    click.echo(f"API key {key.prefix} ({key.name}) now reports for: {', '.join(key.sources)}.")


@apikey_group.command("list")
def apikey_list_command() -> None:
    """List keys (prefix, name, scopes, sources, state); secrets are never shown."""
    from civicvoice.core.auth import ApiKey

    settings = settings_from_env()

    async def work(session: AsyncSession) -> list[ApiKey]:
        return list((await session.scalars(select(ApiKey).order_by(ApiKey.created_at))).all())

    keys = run_db(settings, work)
    if not keys:
        click.echo("No API keys.")
    for key in keys:
        state = f"revoked {key.revoked_at:%Y-%m-%d}" if key.revoked_at else "active"
        used = f"last used {key.last_used_at:%Y-%m-%d %H:%M}" if key.last_used_at else "never used"
        sources = ", ".join(key.sources) or "no sources"
        click.echo(f"{key.prefix}  {key.name}  [{', '.join(key.scopes)}]  sources: {sources}  {state}, {used}")


@apikey_group.command("revoke")
@click.argument("prefix")
def apikey_revoke_command(prefix: str) -> None:
    """Revoke a key by its prefix (see 'apikey list')."""
    from civicvoice.core.auth import revoke_api_key

    settings = settings_from_env()
    key = run_db(settings, lambda s: revoke_api_key(s, prefix=prefix, actor=Actor.cli()))
    click.echo(f"Revoked API key {key.prefix} ({key.name}).")


# --- staff users ----------------------------------------------------------------------------------------------


@cli.group("user")
def user_group() -> None:
    """Staff accounts."""


@user_group.command("create")
@click.option("--email", required=True)
@click.option("--name", "display_name", default="", help="Display name.")
@click.option(
    "--role", required=True, type=click.Choice(["admin", "quality_reviewer", "service_manager", "agent", "dpo"])
)
@click.option("--service", "services", multiple=True, help="Service slug a service manager sees. Repeatable.")
@click.option("--agent-ref", default=None, help="The agent's id in the contact systems (for the agent role).")
@click.option("--password", default=None, help="Initial password; a strong one is generated and shown once if omitted.")
def user_create_command(
    email: str, display_name: str, role: str, services: tuple[str, ...], agent_ref: str | None, password: str | None
) -> None:
    """Create a staff user."""
    from civicvoice.staff.accounts import create_staff_user

    settings = settings_from_env()
    generated = password is None
    password = password or secrets.token_urlsafe(15)
    user = run_db(
        settings,
        lambda s: create_staff_user(
            s,
            email=email,
            display_name=display_name,
            password=password,
            role=role,
            actor=Actor.cli(),
            service_scope=services,
            agent_ref=agent_ref,
        ),
    )
    click.echo(f"Created {user.role} {user.email}.")
    if generated:
        click.echo(f"Initial password (shown once): {password}")


# Password reset and deactivation from the command line.
@user_group.command("reset-password")
@click.option("--email", required=True)
@click.option("--password", default=None, help="New password; a strong one is generated and shown once if omitted.")
def user_reset_password_command(email: str, password: str | None) -> None:
    """Set a new password for a staff user and end their sessions."""
    from civicvoice.staff.accounts import reset_password

    settings = settings_from_env()
    generated = password is None
    password = password or secrets.token_urlsafe(15)
    user = run_db(settings, lambda s: reset_password(s, actor=Actor.cli(), password=password, email=email))
    click.echo(f"Reset the password of {user.email}; their sessions have ended.")
    if generated:
        click.echo(f"New password (shown once): {password}")


@user_group.command("deactivate")
@click.option("--email", required=True)
def user_deactivate_command(email: str) -> None:
    """Deactivate a staff user (kept for the audit trail) and end their sessions."""
    from civicvoice.staff.accounts import deactivate

    settings = settings_from_env()
    user = run_db(settings, lambda s: deactivate(s, actor=Actor.cli(), email=email))
    click.echo(f"Deactivated {user.email}.")


@cli.command("worker")
@click.option("--once", is_flag=True, help="Run the jobs that are due now, then exit.")
def worker_command(once: bool) -> None:
    """Run a job worker outside the web process (SAQ workers when CIVICVOICE_JOB_BACKEND=saq)."""
    from civicvoice.app import (
        build_services,
        close_services,
        features,
        job_registry,
        settle_heap,
        start_process_tasks,
        stop_tasks,
    )
    from civicvoice.core.db import create_engine, session_factory
    from civicvoice.core.jobs import serve_jobs
    from civicvoice.core.logging import configure_logging

    settings = settings_from_env()
    configure_logging(settings.log_level, json=settings.log_json)

    async def main() -> int:
        engine = create_engine(settings)
        sessions = session_factory(engine)
        try:
            services = await build_services(settings, sessions, features(), long_running=True)
            try:
                if once:
                    return await serve_jobs(settings, job_registry(features()), sessions, services, once=True)
                background = start_process_tasks(features(), services)
                settle_heap(settings)
                try:
                    return await serve_jobs(settings, job_registry(features()), sessions, services)
                finally:
                    await stop_tasks(background)
            finally:
                await close_services(services)
        finally:
            await engine.dispose()

    try:
        ran = run_process(main())
    except CivicVoiceError as exc:
        raise click.ClickException(exc.detail) from None
    except OSError as exc:
        raise click.ClickException(f"Cannot reach the database or Redis: {exc.strerror or exc}.") from None
    if once:
        click.echo(json.dumps({"jobs_run": ran}))


def _attach_feature_commands() -> None:
    """Each feature's own command groups (declared in its `Feature`)."""
    from civicvoice.app import features

    for feature in features():
        for command in feature.cli:
            cli.add_command(command)


_attach_feature_commands()


def main() -> None:
    cli(prog_name="civicvoice")


if __name__ == "__main__":
    main()
