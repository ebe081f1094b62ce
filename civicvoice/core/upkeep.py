"""The kernel's own scheduled work: prune finished jobs and delete file-backend mail, as the data map promises."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from civicvoice.core.clock import utcnow
from civicvoice.core.jobs import PRUNE_JOBS_JOB, JobContext, JobRegistry, prune_jobs
from civicvoice.core.mail import PRUNE_MAIL_FILES_JOB, delete_old_mail_files
from civicvoice.core.settings import Settings

KERNEL_JOBS = JobRegistry()


@KERNEL_JOBS.cron(PRUNE_JOBS_JOB, every=timedelta(hours=1), max_attempts=3)
async def prune_jobs_job(ctx: JobContext, payload: dict[str, Any]) -> None:
    async with ctx.sessions() as session, session.begin():
        await prune_jobs(session, utcnow())


@KERNEL_JOBS.cron(PRUNE_MAIL_FILES_JOB, every=timedelta(hours=1), max_attempts=3)
async def prune_mail_files_job(ctx: JobContext, payload: dict[str, Any]) -> None:
    delete_old_mail_files(ctx.service(Settings).mail_dir, utcnow())
