"""Background jobs of the exports feature: building a large export, deleting export files past their time, and
sending scheduled scorecard reports."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from civicvoice.core.jobs import JobContext, JobRegistry
from civicvoice.core.mail import Mailer
from civicvoice.core.settings import Settings
from exports.models import EXPIRE_FILES_JOB, REPORTS_JOB
from exports.reports import SEND_REPORT_JOB, queue_due_reports, send_report
from exports.reports import mark_failed as mark_report_failed
from exports.runs import BUILD_JOB, build_export, delete_expired, mark_failed
from feedback.scorecard.service import Scorecard
from privacy.vault import Vault

JOBS = JobRegistry()


async def _gave_up(session: AsyncSession, payload: dict[str, Any], reason: str) -> None:
    # The job's own error stays in the job table for admins; the person sees a plain sentence.
    await mark_failed(
        session, uuid.UUID(payload["export_id"]), "The export could not be built; please try again or ask an admin."
    )


@JOBS.job(BUILD_JOB, max_attempts=3, lease=timedelta(minutes=5), on_dead=_gave_up)
async def build(ctx: JobContext, payload: dict[str, Any]) -> None:
    """Write the export, seal it under its own key, and mark it ready; progress is on the export's page."""
    await build_export(ctx.sessions, ctx.service(Vault), ctx.service(Settings), uuid.UUID(payload["export_id"]))


@JOBS.cron(EXPIRE_FILES_JOB, every=timedelta(minutes=15), max_attempts=3)
async def expire_files(ctx: JobContext, payload: dict[str, Any]) -> None:
    """Export files are downloadable for a limited time; their files and keys go when it ends."""
    async with ctx.sessions() as session, session.begin():
        await delete_expired(session, ctx.service(Settings))


async def _report_gave_up(session: AsyncSession, payload: dict[str, Any], reason: str) -> None:
    await mark_report_failed(session, uuid.UUID(payload["delivery_id"]))


@JOBS.cron(REPORTS_JOB, every=timedelta(minutes=15), max_attempts=3)
async def queue_reports(ctx: JobContext, payload: dict[str, Any]) -> None:
    """Queue each subscription's report for the period now due, once (see exports.reports)."""
    async with ctx.sessions() as session, session.begin():
        await queue_due_reports(session)


@JOBS.job(SEND_REPORT_JOB, max_attempts=6, lease=timedelta(minutes=5), on_dead=_report_gave_up)
async def send(ctx: JobContext, payload: dict[str, Any]) -> None:
    """Send one scheduled report; a mail server's refusal raises, so the job engine retries it with back-off."""
    async with ctx.sessions() as session, session.begin():
        # The job row is locked first (as a reclaim takes it), then the delivery: only the run holding the live
        # lease sends, and the delivery's state is committed with it.
        if not await ctx.holds_lease(session):
            return
        await send_report(
            session,
            uuid.UUID(payload["delivery_id"]),
            card=ctx.service(Scorecard),
            mailer=ctx.service(Mailer),
            settings=ctx.service(Settings),
        )
