"""Background jobs of the privacy feature."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from civicvoice.core.audit import Actor
from civicvoice.core.jobs import JobContext, JobRegistry, RetryLater
from civicvoice.core.services import Extensions
from civicvoice.core.settings import Settings
from privacy.access import delete_expired
from privacy.audit_chain import publish_head, seal_once
from privacy.erasure import PURGE_JOB, purge
from privacy.holds import LEGAL_HOLDS
from privacy.index_rotation import REINDEX_JOB, reindex_batch
from privacy.key_rotation import REWRAP_BATCH, REWRAP_JOB, KeyringWatcher, rewrap_batch
from privacy.keyring import Keyring
from privacy.mentions import MENTION_SCAN_JOB, scan_batch
from privacy.public_requests import prune_confirmations
from privacy.retention import JOB_RUN_BATCHES, RETENTION_JOB
from privacy.retention import run as retention_run
from privacy.vault import Vault

AUDIT_SEAL_JOB = "audit.seal"
EXPIRE_PACKAGES_JOB = "privacy.expire_access_packages"
PRUNE_CONFIRMATIONS_JOB = "privacy.prune_request_confirmations"
JOBS = JobRegistry()


@JOBS.cron(AUDIT_SEAL_JOB, every=timedelta(minutes=1), max_attempts=3)
async def seal_audit_log(ctx: JobContext, payload: dict[str, Any]) -> None:
    """Chain what was committed since the last run, then publish the head outside the database."""
    async with ctx.sessions() as session, session.begin():
        result = await seal_once(session, ctx.service(Keyring))
    if result is not None:
        publish_head(ctx.service(Settings), result.head)


@JOBS.job(REWRAP_JOB, max_attempts=20)
async def rewrap_data_keys(ctx: JobContext, payload: dict[str, Any]) -> None:
    """One bounded batch per transaction, so the service never waits on a long lock; runs again until done."""
    keyring = ctx.service(KeyringWatcher).keyring
    async with ctx.sessions() as session, session.begin():
        done = await rewrap_batch(session, keyring)
    if done is None:  # this process has not loaded the activated key yet: its watcher will within a minute
        raise RetryLater(timedelta(seconds=30))
    if done >= REWRAP_BATCH:
        raise RetryLater(timedelta(0))


@JOBS.job(PURGE_JOB, max_attempts=10)
async def purge_erased(ctx: JobContext, payload: dict[str, Any]) -> None:
    """The erased person's ciphertext and links go; their clear, non-identifying facts stay for the reports."""
    async with ctx.sessions() as session, session.begin():
        await purge(session, uuid.UUID(payload["subject_id"]))


@JOBS.cron(RETENTION_JOB, every=timedelta(days=1), max_attempts=3)
async def enforce_retention(ctx: JobContext, payload: dict[str, Any]) -> None:
    """Daily, in bounded batches; a run that has more to do hands over to the next job run at once."""
    holds = ctx.services.get(Extensions).items(LEGAL_HOLDS)
    result = await retention_run(
        ctx.sessions, ctx.service(Settings), holds, actor=Actor.system(), max_batches=JOB_RUN_BATCHES
    )
    if not result.finished:
        raise RetryLater(timedelta(seconds=1))


@JOBS.cron(EXPIRE_PACKAGES_JOB, every=timedelta(hours=1), max_attempts=3)
async def expire_access_packages(ctx: JobContext, payload: dict[str, Any]) -> None:
    """Access packages are downloadable for a limited time; their files go when it ends."""
    async with ctx.sessions() as session, session.begin():
        await delete_expired(session, ctx.service(Settings))


@JOBS.job(REINDEX_JOB, max_attempts=20)
async def reindex_people(ctx: JobContext, payload: dict[str, Any]) -> None:
    """Blind-index key rotation: one bounded batch of people per transaction, the cursor committed with it, so a
    crash resumes where the last batch ended; runs again at once until everyone is indexed under the new key."""
    async with ctx.sessions() as session, session.begin():
        done = await reindex_batch(session, ctx.service(Vault), uuid.UUID(payload["rotation_id"]))
    if done is None:  # this process has not loaded the new index key yet: its watcher will within a minute
        raise RetryLater(timedelta(seconds=30))
    if not done:
        raise RetryLater(timedelta(0))


@JOBS.job(MENTION_SCAN_JOB, max_attempts=10)
async def scan_for_mentions(ctx: JobContext, payload: dict[str, Any]) -> None:
    """Comments by others that mention a person: one bounded batch per transaction, until the scan is done."""
    async with ctx.sessions() as session, session.begin():
        progress = await scan_batch(session, ctx.service(Vault), uuid.UUID(payload["scan_id"]))
    if not progress.done:
        raise RetryLater(timedelta(0))


@JOBS.cron(PRUNE_CONFIRMATIONS_JOB, every=timedelta(hours=1), max_attempts=3)
async def prune_request_confirmations(ctx: JobContext, payload: dict[str, Any]) -> None:
    """What the public request page kept (a request waiting for its code, the keyed hashes that ration codes)
    goes a day after it was started."""
    async with ctx.sessions() as session, session.begin():
        await prune_confirmations(session)
