"""Background jobs of the privacy feature."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from civicvoice.core.jobs import JobContext, JobRegistry
from civicvoice.core.settings import Settings
from privacy.audit_chain import publish_head, seal_once
from privacy.keyring import Keyring

AUDIT_SEAL_JOB = "audit.seal"
JOBS = JobRegistry()


@JOBS.cron(AUDIT_SEAL_JOB, every=timedelta(minutes=1), max_attempts=3)
async def seal_audit_log(ctx: JobContext, payload: dict[str, Any]) -> None:
    """Chain what was committed since the last run, then publish the head outside the database."""
    async with ctx.sessions() as session, session.begin():
        result = await seal_once(session, ctx.service(Keyring))
    if result is not None:
        publish_head(ctx.service(Settings), result.head)
