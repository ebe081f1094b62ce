"""`civicvoice export ...`: the staff exports from the command line, for scheduled use; and
`civicvoice import contacts FILE`: contact events from a spreadsheet; `civicvoice import figures FILE`: monthly
figures of the scorecard's measures from other systems."""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import TypeVar

import click
from sqlalchemy.ext.asyncio import AsyncSession

from civicvoice.core.auth import StaffUser
from civicvoice.core.clock import utcnow
from civicvoice.core.commands import extensions, read_identifier, run_db, settings_from_env
from civicvoice.core.db import create_engine, session_factory
from civicvoice.core.errors import CivicVoiceError
from civicvoice.core.settings import Settings
from exports.datasets import DATASETS, ExportFilter, dataset
from exports.figure_imports import FigureImportReport, import_figures
from exports.imports import MAX_FILE_BYTES, ImportReport, import_contacts
from exports.runs import ExportResult, run_export
from exports.scorecard_workbook import (
    ScorecardBook,
    check_month,
    gather,
    record_scorecard_export,
    write_scorecard_workbook,
)
from feedback.scorecard.entries import parse_month
from feedback.scorecard.service import Scorecard
from privacy.audit_reasons import operator
from privacy.keys import load_keyring
from privacy.vault import Vault
from surveys.extensions import OPEN_COMPLAINT_CHECKS
from surveys.intake import ContactIntake

T = TypeVar("T")


@click.command("export")
@click.argument("name", type=click.Choice([*sorted(DATASETS), "scorecard"]))
@click.option("--format", "kind", type=click.Choice(["xlsx", "csv"]), default="xlsx", show_default=True)
@click.option("--output", type=click.Path(dir_okay=False, writable=True, path_type=Path), required=True)
@click.option("--from", "date_from", type=click.DateTime(["%Y-%m-%d"]), default=None, help="First day (YYYY-MM-DD).")
@click.option("--to", "date_to", type=click.DateTime(["%Y-%m-%d"]), default=None, help="Last day (YYYY-MM-DD).")
@click.option("--service", default=None, help="A service code, e.g. council-tax.")
@click.option("--channel", default=None, help="A channel, e.g. phone.")
@click.option("--identified", is_flag=True, help="Comments as written (needs --reason; audited).")
@click.option("--reason", default=None, help="Why an identified export is needed ('-' reads it from standard input).")
@click.option("--month", "month_text", default=None, help="The scorecard's month, YYYY-MM (scorecard only).")
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
    month_text: str | None,
    operator_email: str | None,
) -> None:
    """Export responses, comments, contacts, cases or actions (pseudonymised unless --identified), or the
    balanced scorecard of a month as a workbook with charts (scorecard --month YYYY-MM)."""
    if name == "scorecard":
        if date_from or date_to or service or channel or identified or reason or kind != "xlsx":
            raise click.UsageError("The scorecard takes --month and --output only; it covers every service.")
        export_scorecard(month_text, output, operator_email)
        return
    if month_text is not None:
        raise click.UsageError("--month is for the scorecard; use --from and --to for other exports.")
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


def export_scorecard(month_text: str | None, output: Path, operator_email: str | None) -> None:
    """The scorecard workbook of a month, from the service the dashboard and ``scorecard --json`` read."""
    if month_text is None:
        raise click.UsageError("Give --month YYYY-MM, for example --month 2026-11.")
    try:
        month = check_month(parse_month(month_text), utcnow())
    except CivicVoiceError as exc:
        raise click.BadParameter(exc.detail, param_hint="--month") from None
    if output.exists():
        raise click.ClickException(f"{output} exists; choose a new file name (nothing was written).")
    folder = output.parent if str(output.parent) else Path(".")
    if not folder.is_dir() or not os.access(folder, os.W_OK | os.X_OK):
        raise click.ClickException(
            f"Cannot write to {folder}: it is not a folder you may write in (nothing was written)."
        )
    settings = settings_from_env()

    async def work(session: AsyncSession) -> ScorecardBook:
        actor = await operator(session, operator_email)
        book = await gather(
            session, Scorecard(), month, within=None, created_by=operator_email or "command line", created_at=utcnow()
        )
        try:
            await asyncio.to_thread(write_scorecard_workbook, output, book)
        except OSError as exc:
            raise click.ClickException(f"Cannot write {output}: {exc.strerror or exc} (nothing was written).") from None
        record_scorecard_export(session, actor, book, how="command line")
        return book

    try:
        book = run_db(settings, work)
    except click.ClickException:
        output.unlink(missing_ok=True)
        raise
    figures = len(book.summary.figures)
    click.echo(
        json.dumps({"export": "scorecard", "month": f"{month:%Y-%m}", "figures": figures, "output": str(output)})
    )


@click.group("import")
def import_() -> None:
    """Import records from spreadsheets."""


def _import_file(file: Path) -> bytes:
    if file.stat().st_size > MAX_FILE_BYTES:
        raise click.ClickException(
            f"{file} is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB; split it (nothing was imported)."
        )
    return file.read_bytes()


def _run_import(settings: Settings, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run an import and commit what it left in the session (the contact import also commits each batch itself,
    as the API's batch endpoint does); a file refused as a whole is one line that says nothing was imported."""

    async def main() -> T:
        engine = create_engine(settings)
        try:
            async with session_factory(engine)() as session:
                report = await work(session)
                await session.commit()
                return report
        finally:
            await engine.dispose()

    try:
        return asyncio.run(main())
    except CivicVoiceError as exc:
        raise click.ClickException(f"{exc.detail} Nothing was imported.") from None


@import_.command("contacts")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, readable=True, path_type=Path))
@click.option("--source", required=True, help="The contact system the rows come from (as an API key's source).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--as", "operator_email", default=None, help="Your staff email, recorded in the audit log.")
def import_contacts_command(file: Path, source: str, as_json: bool, operator_email: str | None) -> None:
    """Import contact events from an XLSX or CSV file, validated as the API validates them.

    Columns are matched by header. Good rows are imported, each rejected row is reported with its row number
    and reason; a row already imported (same source and external id) is a duplicate and adds nothing."""
    settings = settings_from_env()
    content = _import_file(file)

    async def work(session: AsyncSession) -> ImportReport:
        actor = await operator(session, operator_email)
        intake = ContactIntake(
            Vault(load_keyring(settings)), open_complaint_checks=extensions().items(OPEN_COMPLAINT_CHECKS)
        )
        return await import_contacts(session, intake, content, source=source, actor=actor)

    report = _run_import(settings, work)
    if as_json:
        click.echo(json.dumps(report.as_json()))
        return
    click.echo(
        f"{report.rows} rows: {report.accepted} imported, {report.duplicates} already imported, "
        f"{len(report.rejected)} rejected."
    )
    for rejected in report.rejected:
        click.echo(f"  row {rejected.row}: {rejected.reason}")


@import_.command("figures")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, readable=True, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option(
    "--as",
    "operator_email",
    default=None,
    help="Your staff email: recorded as who imported, and a service manager imports for their services only.",
)
def import_figures_command(file: Path, as_json: bool, operator_email: str | None) -> None:
    """Import monthly scorecard figures (utilisation, sickness days, ...) from an XLSX or CSV file.

    Columns: Month (YYYY-MM), Service, Measure, Team (optional) and Value. Each row is checked as the figures API
    checks a figure; each rejected row is reported with its row number and reason. A figure already there with
    the same value is unchanged, so importing a file twice changes nothing."""
    content = _import_file(file)

    async def work(session: AsyncSession) -> FigureImportReport:
        actor = await operator(session, operator_email)
        importer = await session.get(StaffUser, uuid.UUID(actor.id)) if actor.kind == "staff" else None
        return await import_figures(session, content, importer=importer, actor=actor)

    report = _run_import(settings_from_env(), work)
    if as_json:
        click.echo(json.dumps(report.as_json()))
        return
    click.echo(
        f"{report.rows} rows: {report.stored} stored, {report.updated} corrected, {report.unchanged} unchanged, "
        f"{len(report.rejected)} rejected."
    )
    for rejected in report.rejected:
        click.echo(f"  row {rejected.row}: {rejected.reason}")
