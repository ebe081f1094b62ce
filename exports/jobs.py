"""Background jobs of the exports feature: building a large export, and deleting export files past their time."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from civicvoice.core.jobs import JobContext, JobRegistry
from civicvoice.core.settings import Settings
from exports.models import EXPIRE_FILES_JOB
from exports.runs import BUILD_JOB, build_export, delete_expired, mark_failed
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
