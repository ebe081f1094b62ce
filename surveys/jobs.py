"""Background jobs of the surveys feature."""

from __future__ import annotations

from datetime import timedelta

from civicvoice.core.jobs import JobRegistry
from surveys.campaigns import SEND_CAMPAIGNS_JOB, send_campaigns
from surveys.sending import (
    EXPIRE_INVITATIONS_JOB,
    SEND_INVITATION_JOB,
    SEND_REMINDER_JOB,
    expire_invitations_job,
    invitation_dead,
    invitation_retried,
    send_invitation,
    send_reminder,
)

JOBS = JobRegistry()
JOBS.job(
    SEND_INVITATION_JOB,
    max_attempts=8,
    base_backoff=timedelta(seconds=30),
    on_dead=invitation_dead,
    on_retry=invitation_retried,
)(send_invitation)
JOBS.job(SEND_REMINDER_JOB, max_attempts=3, base_backoff=timedelta(minutes=5))(send_reminder)
JOBS.cron(EXPIRE_INVITATIONS_JOB, every=timedelta(minutes=15), max_attempts=3)(expire_invitations_job)
# Campaigns under way invite the people on their lists not yet invited (added before the start day, typically).
JOBS.cron(SEND_CAMPAIGNS_JOB, every=timedelta(minutes=15), max_attempts=3)(send_campaigns)
