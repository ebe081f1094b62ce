"""The SAQ backend (litestar-saq on Redis): jobs leave one machine while the outbox stays the source of truth.

`enqueue` still writes the outbox row in the caller's transaction. A relay moves due rows (and rows whose lease
lapsed) to SAQ, one SAQ job per row and attempt, keyed ``<job id>.<attempts>``, so a row is never queued twice
while SAQ holds it. A SAQ worker's task claims the row through the same `Worker.claim` (lease from when the run
starts, attempts, dead on the last reclaim) and runs the registry's handler through `Worker.run_one`, so both
backends follow one set of rules, recorded in the outbox row.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import uuid
from datetime import datetime, timedelta
from typing import cast

import structlog
from litestar_saq import QueueConfig, SAQConfig, SAQPlugin
from litestar_saq.base import Worker as SaqWorker
from saq.queue.base import Queue
from saq.types import Context, PartialTimersDict
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from civicvoice.core.clock import utcnow
from civicvoice.core.jobs import Job, JobRegistry, Worker, _due_or_lapsed, schedule_crons, wakeup
from civicvoice.core.services import Services
from civicvoice.core.settings import Settings

log = structlog.get_logger("civicvoice.jobs.saq")

RUNNER_KEY = "civicvoice_runner"
# A relayed row still not started after this long is looked at again: SAQ may have lost it (a flushed Redis, a
# worker killed between taking it and claiming the row).
RESEND_AFTER = timedelta(minutes=1)


async def run_outbox_job(ctx: Context, *, job_id: str, due: str) -> str:
    """The one SAQ task: claim outbox row ``job_id`` and run its handler. Returns the row's new state, or
    "not-due" when another worker holds it or it was settled meanwhile (the row decides, not SAQ)."""
    runner = cast(Worker, ctx[RUNNER_KEY])  # type: ignore[literal-required]
    saq_job = ctx["job"]
    # The relay's clock, when ahead of ours, says what is due; the lease is counted from now either way.
    now = max(utcnow(), datetime.fromisoformat(due))
    claimed = await runner.claim(now, job_id=uuid.UUID(job_id))
    if not claimed:
        return "not-due"

    async def touch() -> None:
        # Tells SAQ's sweeper the run is alive; a killed worker's SAQ job is swept, its row reclaimed by lease.
        await saq_job.update()

    return await runner.run_one(claimed[0], on_beat=touch)


def saq_config(settings: Settings, runner: Worker | None = None, *, burst: bool = False) -> SAQConfig:
    """One queue on Redis running `run_outbox_job`; ``runner`` is put into every task's context."""

    async def startup(ctx: Context) -> None:
        ctx[RUNNER_KEY] = runner  # type: ignore[literal-required]

    return SAQConfig(
        queue_configs=[
            QueueConfig(
                dsn=settings.redis_url,
                name=settings.saq_queue,
                tasks=[run_outbox_job],
                concurrency=1 if burst else settings.saq_concurrency,
                startup=startup if runner is not None else None,
                # Burst runs (`worker --once`, tests) stop when the queue is empty; a blocking dequeue with no
                # timeout would wait for ever.
                dequeue_timeout=0.2 if burst else 1.0,
                burst=burst,
                separate_process=False,
                timers=PartialTimersDict(sweep=10, schedule=1, abort=1, worker_info=10),
            )
        ],
        enable_otel=False,
    )


def _queue(config: SAQConfig, settings: Settings) -> Queue:
    return config.get_queues().get(settings.saq_queue)


class SaqRelay:
    """Moves due outbox rows to SAQ and enqueues cron jobs; runs in the web process and in every
    `civicvoice worker`, as often as the embedded worker polls. Several relays at once are harmless."""

    def __init__(
        self,
        settings: Settings,
        registry: JobRegistry,
        sessions: async_sessionmaker[AsyncSession],
        *,
        poll_seconds: float = 1.0,
        queue: Queue | None = None,
    ) -> None:
        self.settings = settings
        self.registry = registry
        self.sessions = sessions
        self.poll_seconds = poll_seconds
        self.queue = queue or _queue(saq_config(settings), settings)
        lease = settings.job_lease_seconds
        self.resend_after = timedelta(seconds=max(1.0, 2 * lease)) if lease else RESEND_AFTER
        self._stop = asyncio.Event()
        self._wake = asyncio.Event()

    def _saq_heartbeat(self, name: str) -> int:
        spec = self.registry.jobs.get(name)
        lease = self.settings.job_lease_seconds or (spec.lease.total_seconds() if spec else 300.0)
        # Our own heartbeat touches the SAQ job every lease/3; allow a few missed beats before SAQ sweeps it.
        return max(5, math.ceil(lease * 2))

    async def relay_due(self, now: datetime | None = None, *, limit: int = 500) -> int:
        """Hand every due row to SAQ once; returns how many were handed over."""
        now = now or utcnow()
        await self.queue.connect()
        handed = 0
        async with self.sessions() as session, session.begin():
            rows = (
                await session.scalars(
                    select(Job)
                    .where(_due_or_lapsed(now))
                    .where(or_(Job.relayed_at.is_(None), Job.relayed_at < now - self.resend_after))
                    .order_by(Job.run_at)
                    .limit(limit)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            for job in rows:
                # Keyed by row, attempt and due time: SAQ refuses a key it still holds (queued, or aborted in the
                # last seconds), so a relay that hands the same row over twice is refused, while a new attempt, or
                # a dead job an administrator retried (its attempts back at 0, due now), gets a key of its own.
                key = f"{job.id}.{job.attempts}.{int(job.run_at.timestamp() * 1000)}"
                if job.relayed_at is not None:
                    # Handed over but not started within `resend_after`: SAQ lost it (a worker killed between
                    # taking it and claiming the row leaves SAQ's copy stranded until its sweeper runs). Hand it
                    # over again under a fresh key; if both copies run, the claim lets only one through.
                    key = f"{key}.{int(now.timestamp() * 1000)}"
                await self.queue.enqueue(
                    run_outbox_job.__qualname__,
                    key=key,
                    timeout=0,  # the outbox lease, not SAQ, bounds a run
                    heartbeat=self._saq_heartbeat(job.name),
                    retries=1,  # the outbox counts attempts and backs off
                    ttl=600,
                    job_id=str(job.id),
                    due=now.isoformat(),
                )
                job.relayed_at = now
                handed += 1
        return handed

    async def run_forever(self) -> None:
        wakeup.events.add(self._wake)
        log.info("saq_relay_started", queue=self.settings.saq_queue)
        try:
            while not self._stop.is_set():
                try:
                    await schedule_crons(self.sessions, self.registry)
                    await self.relay_due()
                except Exception as exc:
                    log.warning("saq_relay_failed", error_type=type(exc).__name__)
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=self.poll_seconds)
        finally:
            wakeup.events.discard(self._wake)
            with contextlib.suppress(Exception):
                await self.queue.disconnect()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()


def saq_worker(settings: Settings, runner: Worker, *, burst: bool = False) -> SaqWorker:
    """A litestar-saq worker whose task runs outbox rows through ``runner``."""
    worker = SAQPlugin(saq_config(settings, runner, burst=burst)).get_workers()[settings.saq_queue]
    worker.SIGNALS = []  # the caller owns signals (`civicvoice worker` stops on SIGTERM/SIGINT)
    return worker


async def run_once(
    settings: Settings,
    registry: JobRegistry,
    sessions: async_sessionmaker[AsyncSession],
    services: Services,
    *,
    now: datetime | None = None,
    runner: Worker | None = None,
) -> int:
    """Relay what is due and run SAQ until its queue is empty (`civicvoice worker --once`); returns how many
    outbox rows were handed to SAQ."""
    relay = SaqRelay(settings, registry, sessions)
    try:
        handed = await relay.relay_due(now)
    finally:
        await relay.queue.disconnect()
    if handed:
        worker = saq_worker(
            settings, runner or Worker(registry, sessions, services, lease=_lease(settings)), burst=True
        )
        try:
            await worker.start()
        finally:
            await worker.queue.disconnect()
    return handed


def _lease(settings: Settings) -> timedelta | None:
    return timedelta(seconds=settings.job_lease_seconds) if settings.job_lease_seconds else None


async def run_workers(
    settings: Settings,
    registry: JobRegistry,
    sessions: async_sessionmaker[AsyncSession],
    services: Services,
    *,
    stop: asyncio.Event,
    name: str | None = None,
) -> None:
    """`civicvoice worker` on the SAQ backend: a relay and a SAQ worker in this process until ``stop`` is set."""
    relay = SaqRelay(settings, registry, sessions, poll_seconds=settings.worker_poll_seconds)
    runner = Worker(registry, sessions, services, name=name, lease=_lease(settings))
    worker = saq_worker(settings, runner)
    relay_task = asyncio.create_task(relay.run_forever())
    worker_task = asyncio.create_task(worker.start())
    log.info("saq_worker_started", worker=runner.name, queue=settings.saq_queue)
    try:
        await stop.wait()
    finally:
        relay.stop()
        await worker.stop()
        for task in (worker_task, relay_task):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        with contextlib.suppress(Exception):
            await worker.queue.disconnect()
