"""Scorecard jobs: upkeep every 15 seconds (the dashboard is at most a minute behind), and once a day the last
two months marked again for recomputing, next month's demand forecast frozen and the outlook of the coming
months remade; and the rebuild of the months
inside retention after service-level thresholds change."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Final

from civicvoice.core.clock import utcnow
from civicvoice.core.jobs import JobContext, JobRegistry
from feedback.scorecard.forecasting import freeze_forecasts, refresh_outlook
from feedback.scorecard.rollups import month_start, next_month
from feedback.scorecard.service import Scorecard
from feedback.scorecard.service_levels import REBUILD_JOB, rebuild_retained
from feedback.scorecard.upkeep import mark_recent_months, run_upkeep

UPKEEP_JOB: Final = "scorecard.upkeep"
DAILY_JOB: Final = "scorecard.daily"
UPKEEP_EVERY: Final = timedelta(seconds=15)

JOBS = JobRegistry()


@JOBS.cron(UPKEEP_JOB, every=UPKEEP_EVERY, max_attempts=3, lease=timedelta(minutes=2))
async def upkeep_job(ctx: JobContext, payload: dict[str, Any]) -> None:
    async with ctx.sessions() as session:
        thresholds = await ctx.service(Scorecard).thresholds(session)
    await run_upkeep(ctx.sessions, thresholds=thresholds)


@JOBS.job(REBUILD_JOB, max_attempts=3, lease=timedelta(minutes=30))
async def rebuild_retained_job(ctx: JobContext, payload: dict[str, Any]) -> None:
    """After a change of service-level thresholds: every month inside retention recomputed with them."""
    await rebuild_retained(ctx.sessions)


@JOBS.cron(DAILY_JOB, every=timedelta(days=1), max_attempts=3)
async def daily_job(ctx: JobContext, payload: dict[str, Any]) -> None:
    now = utcnow()
    async with ctx.sessions() as session, session.begin():
        await mark_recent_months(session, now=now)
        await freeze_forecasts(session, next_month(month_start(now)), now=now)
        await refresh_outlook(session, now=now)
