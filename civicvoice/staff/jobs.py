"""Background jobs of staff access: ended sessions and old throttle counters are deleted on schedule, so both
tables keep only what the data map says they hold ("until sign-out or 12 hours", "24 hours after the last
failure")."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, or_
from sqlalchemy.ext.asyncio import AsyncSession

from civicvoice.core.clock import utcnow
from civicvoice.core.jobs import JobContext, JobRegistry
from civicvoice.staff.accounts import IDLE_TIMEOUT
from civicvoice.staff.models import StaffSession
from civicvoice.staff.throttle import forget_old_counters

PRUNE_JOB = "staff.prune"
JOBS = JobRegistry()


async def prune(session: AsyncSession, now: datetime) -> tuple[int, int]:
    """Delete sessions that have ended (expired or idle) and throttle counters past their memory; returns counts."""
    sessions = await session.execute(
        delete(StaffSession).where(or_(StaffSession.expires_at <= now, StaffSession.last_seen_at < now - IDLE_TIMEOUT))
    )
    return sessions.rowcount or 0, await forget_old_counters(session, now)  # type: ignore[attr-defined]


@JOBS.cron(PRUNE_JOB, every=timedelta(hours=1), max_attempts=3)
async def prune_job(ctx: JobContext, payload: dict[str, Any]) -> None:
    async with ctx.sessions() as session, session.begin():
        await prune(session, utcnow())
