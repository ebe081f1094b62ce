"""`civicvoice kiosk issue | list | survey | revoke`: face-to-face kiosks from the command line, as on the staff
page."""

from __future__ import annotations

import click
from sqlalchemy.ext.asyncio import AsyncSession

from civicvoice.core.audit import Actor
from civicvoice.core.commands import run_db, settings_from_env
from surveys.channels.kiosk import (
    IssuedKiosk,
    KioskListing,
    change_kiosk_survey,
    enrol_path,
    issue_kiosk,
    kiosk_listing,
    revoke_kiosk,
)
from surveys.models import Kiosk


@click.group("kiosk")
def kiosk_group() -> None:
    """Kiosks in face-to-face centres: issue a device key, list kiosks, change the survey one asks, revoke one."""


@kiosk_group.command("issue")
@click.option("--name", required=True, help="The centre, as staff know it, e.g. 'Town Hall customer centre'.")
@click.option("--service", "service_slug", required=True, help="The service its answers count for (its slug).")
@click.option(
    "--survey",
    "survey_slug",
    default="",
    help="The survey it asks (its slug): published, with the kiosk among its channels. Default: post-contact.",
)
def issue_command(name: str, service_slug: str, survey_slug: str) -> None:
    """Issue a kiosk: prints its enrolment link once (open it on the tablet within 7 days; it works once)."""
    settings = settings_from_env()

    async def work(session: AsyncSession) -> IssuedKiosk:
        return await issue_kiosk(
            session, name=name, service_slug=service_slug, survey_slug=survey_slug, actor=Actor.cli()
        )

    issued = run_db(settings, work)
    click.echo(
        f"Issued kiosk {issued.kiosk.prefix} for {issued.kiosk.name} ({issued.service_name}), "
        f"asking: {issued.survey_name}."
    )
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
            f"{kiosk.prefix}  {kiosk.name}  [{entry.service_name}]  asks {entry.survey_name}; "
            f"{entry.state}, {used}, {kiosk.responses} answers"
        )


@kiosk_group.command("survey")
@click.argument("prefix")
@click.argument("survey_slug", required=False, default="")
def survey_command(prefix: str, survey_slug: str) -> None:
    """Change the survey a kiosk asks (by prefix, see 'kiosk list'): a published survey with the kiosk among its
    channels, by slug; no slug: the post-contact survey. Its next visitor is asked it."""
    settings = settings_from_env()

    async def work(session: AsyncSession) -> tuple[Kiosk, str]:
        return await change_kiosk_survey(
            session, prefix=prefix.strip().lower(), survey_slug=survey_slug, actor=Actor.cli()
        )

    kiosk, survey_name = run_db(settings, work)
    click.echo(f"Kiosk {kiosk.prefix} ({kiosk.name}) now asks: {survey_name}.")


@kiosk_group.command("revoke")
@click.argument("prefix")
def revoke_command(prefix: str) -> None:
    """Switch a kiosk off by its prefix (see 'kiosk list'): the tablet shows a page saying so and saves nothing."""
    settings = settings_from_env()

    async def work(session: AsyncSession) -> Kiosk:
        return await revoke_kiosk(session, prefix=prefix.strip().lower(), actor=Actor.cli())

    kiosk = run_db(settings, work)
    click.echo(f"Revoked kiosk {kiosk.prefix} ({kiosk.name}).")
