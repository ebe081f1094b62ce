"""Background jobs of the surveys feature."""

from __future__ import annotations

from datetime import timedelta

from civicvoice.core.jobs import JobRegistry
from surveys.sending import SEND_INVITATION_JOB, SEND_REMINDER_JOB, send_invitation, send_reminder

JOBS = JobRegistry()
JOBS.job(SEND_INVITATION_JOB, max_attempts=8, base_backoff=timedelta(seconds=30))(send_invitation)
JOBS.job(SEND_REMINDER_JOB, max_attempts=3, base_backoff=timedelta(minutes=5))(send_reminder)
