"""`civicvoice export ...`: the staff exports from the command line, for scheduled use."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import click
from sqlalchemy.ext.asyncio import AsyncSession

from civicvoice.core.commands import read_identifier, run_db, settings_from_env
from exports.datasets import DATASETS, ExportFilter, dataset
from exports.runs import ExportResult, run_export
from privacy.audit_reasons import operator
from privacy.keys import load_keyring
from privacy.vault import Vault


@click.command("export")
@click.argument("name", type=click.Choice(sorted(DATASETS)))
@click.option("--format", "kind", type=click.Choice(["xlsx", "csv"]), default="xlsx", show_default=True)
@click.option("--output", type=click.Path(dir_okay=False, writable=True, path_type=Path), required=True)
@click.option("--from", "date_from", type=click.DateTime(["%Y-%m-%d"]), default=None, help="First day (YYYY-MM-DD).")
@click.option("--to", "date_to", type=click.DateTime(["%Y-%m-%d"]), default=None, help="Last day (YYYY-MM-DD).")
@click.option("--service", default=None, help="A service code, e.g. council-tax.")
@click.option("--channel", default=None, help="A channel, e.g. phone.")
@click.option("--identified", is_flag=True, help="Comments as written (needs --reason; audited).")
@click.option("--reason", default=None, help="Why an identified export is needed ('-' reads it from standard input).")
@click.option("--as", "operator_email", default=None, help="Your staff email, recorded in the audit log.")
def export(
    name: str,
    kind: str,
    output: Path,
    date_from: datetime | None,
    date_to: datetime | None,
    service: str | None,
    channel: str | None,
    identified: bool,
    reason: str | None,
    operator_email: str | None,
) -> None:
    """Export responses, comments, contacts, cases or actions (pseudonymised unless --identified)."""
    settings = settings_from_env()
    if output.exists():
        raise click.ClickException(f"{output} exists; choose a new file name (nothing was written).")
    if date_from and date_to and date_to < date_from:
        raise click.ClickException("--to is before --from.")
    filters = ExportFilter(
        date_from.date() if date_from else None, date_to.date() if date_to else None, service, channel
    )
    why = read_identifier(reason, "reason") if reason else None

    async def work(session: AsyncSession) -> ExportResult:
        actor = await operator(session, operator_email)
        return await run_export(
            session,
            Vault(load_keyring(settings)),
            dataset(name),
            filters,
            kind=kind,
            output=output,
            actor=actor,
            created_by=operator_email or "command line",
            identified=identified,
            reason=why,
        )

    try:
        result = run_db(settings, work)
    except click.ClickException:
        output.unlink(missing_ok=True)
        raise
    click.echo(json.dumps({"export": name, "format": kind, "rows": result.rows, "output": str(result.path)}))
