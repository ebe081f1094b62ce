"""`civicvoice kiosk issue | list | revoke`: face-to-face kiosks from the command line, as on the staff page."""

from __future__ import annotations

import click
from sqlalchemy.ext.asyncio import AsyncSession

from civicvoice.core.audit import Actor
from civicvoice.core.commands import run_db, settings_from_env
from surveys.channels.kiosk import IssuedKiosk, KioskListing, enrol_path, issue_kiosk, kiosk_listing, revoke_kiosk
from surveys.models import Kiosk


@click.group("kiosk")
def kiosk_group() -> None:
    """Kiosks in face-to-face centres: issue a device key, list kiosks, revoke one."""


@kiosk_group.command("issue")
@click.option("--name", required=True, help="The centre, as staff know it, e.g. 'Town Hall customer centre'.")
@click.option("--service", "service_slug", required=True, help="The service its answers count for (its slug).")
def issue_command(name: str, service_slug: str) -> None:
    """Issue a kiosk: prints its enrolment link once (open it on the tablet within 7 days; it works once)."""
    settings = settings_from_env()

    async def work(session: AsyncSession) -> IssuedKiosk:
        return await issue_kiosk(session, name=name, service_slug=service_slug, actor=Actor.cli())

    issued = run_db(settings, work)
    click.echo(f"Issued kiosk {issued.kiosk.prefix} for {issued.kiosk.name} ({issued.service_name}).")
    click.echo("Open this link on the tablet to set it up; it is shown once, works once and expires in 7 days:")
    click.echo(settings.base_url + enrol_path(issued.enrol_key))


@kiosk_group.command("list")
def list_command() -> None:
    """List kiosks: prefix, centre, service, state, last use and answers taken. Keys are never shown."""
    settings = settings_from_env()

    async def work(session: AsyncSession) -> list[KioskListing]:
        return await kiosk_listing(session)

    found = run_db(settings, work)
    if not found:
        click.echo("No kiosks.")
    for entry in found:
        kiosk = entry.kiosk
        used = f"last used {kiosk.last_used_at:%Y-%m-%d %H:%M}" if kiosk.last_used_at else "never used"
        click.echo(
            f"{kiosk.prefix}  {kiosk.name}  [{entry.service_name}]  {entry.state}, {used}, {kiosk.responses} answers"
        )


@kiosk_group.command("revoke")
@click.argument("prefix")
def revoke_command(prefix: str) -> None:
    """Switch a kiosk off by its prefix (see 'kiosk list'): the tablet shows a page saying so and saves nothing."""
    settings = settings_from_env()

    async def work(session: AsyncSession) -> Kiosk:
        return await revoke_kiosk(session, prefix=prefix.strip().lower(), actor=Actor.cli())

    kiosk = run_db(settings, work)
    click.echo(f"Revoked kiosk {kiosk.prefix} ({kiosk.name}).")
