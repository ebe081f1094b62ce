"""`civicvoice scorecard`: every figure of a month and scope as JSON (for scripts and the exports workbook), a
rebuild of a month from raw rows, one upkeep pass, and the service-level thresholds per channel."""

from __future__ import annotations

import json
from datetime import date

import click
from sqlalchemy.ext.asyncio import AsyncSession

from civicvoice.core.audit import Actor
from civicvoice.core.clock import utcnow
from civicvoice.core.commands import run_db, settings_from_env
from feedback.scorecard.charts import STATUS_TEXT, format_value
from feedback.scorecard.entries import EntryInputError, parse_month
from feedback.scorecard.service import CHANNELS, Scorecard, ScorecardReport
from feedback.scorecard.service_levels import ServiceLevelInputError, configured_thresholds, parse_thresholds
from feedback.scorecard.upkeep import RebuildResult, UpkeepResult, rebuild_month, upkeep_step


def _month(value: str) -> date:
    try:
        return parse_month(value)
    except EntryInputError as exc:
        raise click.BadParameter(exc.detail) from None


@click.group(name="scorecard", invoke_without_command=True)
@click.option("--month", "month_text", help="The month, YYYY-MM.")
@click.option("--service", help="A service's slug (default: every service).")
@click.option("--group", help="A service group's slug.")
@click.option("--channel", type=click.Choice(CHANNELS), help="One contact channel.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of a table.")
@click.pass_context
def scorecard(
    ctx: click.Context,
    month_text: str | None,
    service: str | None,
    group: str | None,
    channel: str | None,
    as_json: bool,
) -> None:
    """The balanced scorecard: every figure of a month with its target, status, change and source."""
    if ctx.invoked_subcommand is not None:
        return
    if month_text is None:
        raise click.UsageError("Give --month YYYY-MM (or a subcommand: rebuild, upkeep, thresholds).")
    month = _month(month_text)
    settings = settings_from_env()
    card = Scorecard()

    async def work(session: AsyncSession) -> ScorecardReport:
        scope = await card.scope(session, service=service, group=group, channel=channel)
        return await card.report(session, month, scope)

    report = run_db(settings, work)
    if as_json:
        click.echo(json.dumps(report.as_json(), indent=2, sort_keys=True))
        return
    click.echo(f"{report.scope.label}, {month:%B %Y}")
    for figure in report.figures:
        change = "no previous month" if figure.trend is None else figure.trend
        click.echo(
            f"{figure.name:<55} {format_value(figure.value, figure.unit):>16}  "
            f"{STATUS_TEXT[figure.status]:<14} {change:<18} ({figure.source.value})"
        )


@scorecard.command(name="rebuild")
@click.option("--month", "month_text", required=True, help="The month, YYYY-MM.")
def rebuild_command(month_text: str) -> None:
    """Recompute a month's rollups from raw rows. A month outside retention is refused and keeps its rollups."""
    month = _month(month_text)
    settings = settings_from_env()
    card = Scorecard()

    async def work(session: AsyncSession) -> RebuildResult:
        return await rebuild_month(session, month, thresholds=await card.thresholds(session))

    result = run_db(settings, work)
    click.echo(json.dumps({"month": f"{result.month:%Y-%m}", "services": result.services, "rows": result.rows}))


@scorecard.command(name="upkeep")
def upkeep_command() -> None:
    """Run one bounded upkeep step now (the worker runs it every 15 seconds)."""
    settings = settings_from_env()
    card = Scorecard()

    async def work(session: AsyncSession) -> UpkeepResult:
        return await upkeep_step(session, thresholds=await card.thresholds(session), now=utcnow())

    result = run_db(settings, work)
    click.echo(
        json.dumps(
            {
                "read": result.read,
                "recomputed": result.recomputed,
                "flagged": result.flagged,
                "finished": result.finished,
            }
        )
    )


@scorecard.command(name="thresholds")
@click.option(
    "--set",
    "assignments",
    multiple=True,
    metavar="CHANNEL=SECONDS",
    help="Set a channel's service-level threshold in whole seconds (repeatable), e.g. --set phone=20.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of a table.")
def thresholds_command(assignments: tuple[str, ...], as_json: bool) -> None:
    """Show the service-level threshold of each channel, or set some. A change is audited, and the months inside
    retention are rebuilt with it by a background job."""
    texts: dict[str, str] = {}
    for assignment in assignments:
        channel, equals, seconds = assignment.partition("=")
        if not equals:
            raise click.BadParameter(f"{assignment[:40]!r}: give CHANNEL=SECONDS, e.g. phone=20.", param_hint="--set")
        texts[channel.strip()] = seconds
    try:
        changes = parse_thresholds(texts)
    except ServiceLevelInputError as exc:
        raise click.BadParameter(exc.detail, param_hint="--set") from None
    settings = settings_from_env()
    card = Scorecard()

    async def work(session: AsyncSession) -> tuple[dict[str, int], dict[str, int]]:
        changed = await card.set_thresholds(session, changes, actor=Actor.cli()) if changes else {}
        return changed, dict((await configured_thresholds(session)).seconds)

    changed, now = run_db(settings, work)
    if as_json:
        click.echo(json.dumps({"thresholds_seconds": now, "changed": changed}, indent=2, sort_keys=True))
        return
    for channel in CHANNELS:
        if channel in now:
            mark = "  (changed)" if channel in changed else ""
            click.echo(f"{channel:<14} {now[channel]:>8} s{mark}")
    if changed:
        click.echo("The months inside retention will be rebuilt with the new thresholds by a background job.")
