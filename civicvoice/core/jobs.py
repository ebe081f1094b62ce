"""Jobs through a transactional outbox: `enqueue` writes in the caller's transaction; workers claim due rows.

A job exists exactly when the change that caused it committed. Payloads carry ids only. Jobs have leases,
attempt counts, exponential back-off and a dead-letter state. The embedded worker runs inside the web process;
another backend (SAQ) can be fed from the same table through the same registry.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import re
import socket
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

import structlog
from advanced_alchemy.types import DateTimeUTC, JsonB
from sqlalchemy import Index, String, Text, event, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, Session, mapped_column

from civicvoice.core.clock import utcnow
from civicvoice.core.datamap import DataMapEntry
from civicvoice.core.db import Base, table
from civicvoice.core.errors import CivicVoiceError
from civicvoice.core.ids import new_id
from civicvoice.core.logging import scrub
from civicvoice.core.services import Services

T = TypeVar("T")

log = structlog.get_logger("civicvoice.jobs")

QUEUED, RUNNING, DONE, DEAD = "queued", "running", "done", "dead"

# Ids only: UUIDs, numbers, booleans and short machine identifiers. An email, a name or a sentence fails here.
_SAFE_TOKEN = re.compile(r"^[A-Za-z0-9_.:\-]{0,80}$")


class InvalidJobPayload(CivicVoiceError):
    status = 500
    slug = "invalid-job"
    title = "Invalid job"


class UnknownJob(CivicVoiceError):
    status = 500
    slug = "unknown-job"
    title = "Unknown job"


class RetryLater(Exception):
    """Raised by a handler to be run again later without counting as a failure."""

    def __init__(self, delay: timedelta) -> None:
        super().__init__(f"retry in {delay}")
        self.delay = delay


class Job(Base):
    __tablename__ = "job"
    __datamap__ = DataMapEntry.no_personal_data(
        "Transactional outbox of background work; payloads carry ids only", retention="30 days after done"
    )
    __table_args__ = (Index("ix_job_due", "state", "run_at"),)

    name: Mapped[str] = mapped_column(String(100))
    payload: Mapped[dict[str, Any]] = mapped_column(JsonB)
    dedupe_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    state: Mapped[str] = mapped_column(String(16), default=QUEUED)
    run_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    attempts: Mapped[int] = mapped_column(default=0)
    max_attempts: Mapped[int] = mapped_column(default=8)
    lease_until: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True))
    worker: Mapped[str | None] = mapped_column(String(100))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True))


@dataclass(frozen=True)
class JobContext:
    """What a handler gets: a way to open its own unit of work, and the app's services."""

    job_id: uuid.UUID
    name: str
    attempt: int
    sessions: async_sessionmaker[AsyncSession]
    services: Services
    max_attempts: int = 8

    @property
    def final_attempt(self) -> bool:
        """No retry follows this run: a handler records a lasting failure instead of raising."""
        return self.attempt >= self.max_attempts

    def service(self, kind: type[T]) -> T:
        return self.services.get(kind)


Handler = Callable[[JobContext, dict[str, Any]], Awaitable[None]]


@dataclass(frozen=True)
class JobSpec:
    name: str
    handler: Handler
    max_attempts: int = 8
    lease: timedelta = timedelta(minutes=5)
    base_backoff: timedelta = timedelta(seconds=10)
    max_backoff: timedelta = timedelta(hours=6)


@dataclass(frozen=True)
class CronSpec:
    name: str
    every: timedelta


@dataclass
class JobRegistry:
    jobs: dict[str, JobSpec] = field(default_factory=dict)
    crons: dict[str, CronSpec] = field(default_factory=dict)

    def job(
        self,
        name: str,
        *,
        max_attempts: int = 8,
        lease: timedelta = timedelta(minutes=5),
        base_backoff: timedelta = timedelta(seconds=10),
    ) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            if name in self.jobs:
                raise ValueError(f"job {name!r} is registered twice")
            self.jobs[name] = JobSpec(name, handler, max_attempts, lease, base_backoff)
            return handler

        return register

    def cron(self, name: str, *, every: timedelta, **options: Any) -> Callable[[Handler], Handler]:
        """A job enqueued once per period; the period slot is its dedupe key, so many workers enqueue it once."""

        def register(handler: Handler) -> Handler:
            self.job(name, **options)(handler)
            self.crons[name] = CronSpec(name, every)
            return handler

        return register

    def merge(self, other: JobRegistry) -> None:
        for spec in other.jobs.values():
            if spec.name in self.jobs:
                raise ValueError(f"job {spec.name!r} is registered twice")
            self.jobs[spec.name] = spec
        self.crons.update(other.crons)


def validate_payload(payload: Mapping[str, Any]) -> dict[str, Any]:
    clean: dict[str, Any] = {}
    for key, value in payload.items():
        if not _SAFE_TOKEN.match(key):
            raise InvalidJobPayload(f"job payload key {key!r} is not an identifier")
        if isinstance(value, uuid.UUID):
            clean[key] = str(value)
        elif value is None or isinstance(value, bool | int) or (isinstance(value, str) and _SAFE_TOKEN.match(value)):
            clean[key] = value
        else:
            raise InvalidJobPayload(
                f"job payload {key!r} must be an id (UUID, number, flag or short identifier): payloads carry ids only"
            )
    return clean


def job_row(
    name: str,
    payload: Mapping[str, Any] | None = None,
    *,
    key: str | None = None,
    run_at: datetime | None = None,
    max_attempts: int | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """One queued job as a row of the job table, for `enqueue_many` or a feature's own batched insert."""
    now = now or utcnow()
    return {
        "id": new_id(),
        "name": name,
        "payload": validate_payload(payload or {}),
        "dedupe_key": key,
        "state": QUEUED,
        "run_at": run_at or now,
        "attempts": 0,
        "max_attempts": max_attempts or 8,
        "created_at": now,
    }


async def enqueue_many(session: AsyncSession, rows: Sequence[Mapping[str, Any]]) -> None:
    """Write jobs made by `job_row` in the caller's transaction, with one statement."""
    if not rows:
        return
    await session.execute(insert(table(Job)), list(rows))
    session.info["civicvoice.jobs_enqueued"] = True


async def enqueue(
    session: AsyncSession,
    name: str,
    payload: Mapping[str, Any] | None = None,
    *,
    key: str | None = None,
    run_at: datetime | None = None,
    max_attempts: int | None = None,
) -> uuid.UUID:
    """Write a job in the caller's transaction; returns its id. With ``key``, a second enqueue of the same key is
    refused by the database (see `enqueue_once` for the forgiving form)."""
    row = job_row(name, payload, key=key, run_at=run_at, max_attempts=max_attempts)
    await enqueue_many(session, [row])
    job_id: uuid.UUID = row["id"]
    return job_id


async def enqueue_once(
    session: AsyncSession, name: str, payload: Mapping[str, Any] | None = None, *, key: str, **kwargs: Any
) -> bool:
    """Enqueue unless a job with this key exists; True when a job was added."""
    exists = await session.scalar(select(Job.id).where(Job.dedupe_key == key))
    if exists is not None:
        return False
    try:
        async with session.begin_nested():
            await enqueue(session, name, payload, key=key, **kwargs)
    except IntegrityError:
        return False
    return True


def backoff(spec: JobSpec, attempts: int) -> timedelta:
    """Exponential with full jitter, capped: 10 s, 20 s, 40 s, ... up to six hours."""
    ceiling = min(spec.max_backoff.total_seconds(), spec.base_backoff.total_seconds() * (2 ** max(0, attempts - 1)))
    return timedelta(seconds=ceiling / 2 + random.random() * ceiling / 2)  # noqa: S311 - jitter, not security


def _describe(exc: BaseException) -> str:
    # Exception messages can quote data; keep the type and a short, single-line, scrubbed message only.
    text = scrub(" ".join(str(exc).split()))[:300]
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class _Wakeup:
    """Lets a commit that enqueued jobs wake the embedded worker at once instead of at its next poll."""

    def __init__(self) -> None:
        self.events: set[asyncio.Event] = set()

    def notify(self) -> None:
        for ev in list(self.events):
            ev.set()


wakeup = _Wakeup()


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    if session.info.pop("civicvoice.jobs_enqueued", False):
        wakeup.notify()


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop("civicvoice.jobs_enqueued", None)


class Worker:
    """Claims due jobs from the outbox and runs them; many workers may share one database."""

    def __init__(
        self,
        registry: JobRegistry,
        sessions: async_sessionmaker[AsyncSession],
        services: Services,
        *,
        poll_seconds: float = 1.0,
        batch: int = 10,
        name: str | None = None,
    ) -> None:
        self.registry = registry
        self.sessions = sessions
        self.services = services
        self.poll_seconds = poll_seconds
        self.batch = batch
        self.name = name or f"{socket.gethostname()}:{uuid.uuid4().hex[:8]}"
        self._stop = asyncio.Event()
        self._wake = asyncio.Event()

    async def schedule_crons(self, now: datetime | None = None) -> None:
        now = now or utcnow()
        for cron in self.registry.crons.values():
            period = cron.every.total_seconds()
            slot = int(now.timestamp() // period)
            async with self.sessions() as session, session.begin():
                await enqueue_once(session, cron.name, {}, key=f"cron:{cron.name}:{slot}", run_at=now)

    async def claim(self, now: datetime | None = None) -> list[Job]:
        now = now or utcnow()
        async with self.sessions() as session, session.begin():
            stmt = (
                select(Job)
                .where(
                    or_(
                        (Job.state == QUEUED) & (Job.run_at <= now),
                        # A worker that died mid-job leaves a lapsed lease: the job is claimed again.
                        (Job.state == RUNNING) & (Job.lease_until < now),
                    )
                )
                .order_by(Job.run_at)
                .limit(self.batch)
                .with_for_update(skip_locked=True)
            )
            jobs = list((await session.scalars(stmt)).all())
            for job in jobs:
                spec = self.registry.jobs.get(job.name)
                lease = spec.lease if spec else timedelta(minutes=5)
                job.state = RUNNING
                job.attempts += 1
                job.lease_until = now + lease
                job.worker = self.name
            return jobs

    async def run_one(self, job: Job) -> str:
        """Run a claimed job and record the outcome; returns the job's new state."""
        spec = self.registry.jobs.get(job.name)
        outcome: dict[str, Any]
        if spec is None:
            outcome = {"state": DEAD, "last_error": f"UnknownJob: no handler registered for {job.name!r}"}
        else:
            ctx = JobContext(
                job.id, job.name, job.attempts, self.sessions, self.services, min(spec.max_attempts, job.max_attempts)
            )
            try:
                await spec.handler(ctx, dict(job.payload))
            except RetryLater as later:
                outcome = {"state": QUEUED, "run_at": utcnow() + later.delay, "attempts": job.attempts - 1}
            except Exception as exc:
                error = _describe(exc)
                log.warning(
                    "job_failed", job=job.name, job_id=str(job.id), attempt=job.attempts, error_type=type(exc).__name__
                )
                if job.attempts >= min(spec.max_attempts, job.max_attempts):
                    outcome = {"state": DEAD, "last_error": error, "finished_at": utcnow()}
                    log.error("job_dead", job=job.name, job_id=str(job.id), attempts=job.attempts)
                else:
                    outcome = {"state": QUEUED, "last_error": error, "run_at": utcnow() + backoff(spec, job.attempts)}
            else:
                outcome = {"state": DONE, "finished_at": utcnow(), "last_error": None}
        outcome.setdefault("lease_until", None)
        async with self.sessions() as session, session.begin():
            # Only the holder of the lease records the outcome; a job whose lease lapsed belongs to another worker.
            await session.execute(
                update(Job).where(Job.id == job.id, Job.worker == self.name, Job.state == RUNNING).values(**outcome)
            )
        return str(outcome["state"])

    async def run_due(self, now: datetime | None = None) -> int:
        """Claim and run every due job once; returns how many ran. Tests and `civicvoice worker --once` use it."""
        total = 0
        while True:
            jobs = await self.claim(now)
            if not jobs:
                return total
            for job in jobs:
                await self.run_one(job)
            total += len(jobs)

    async def run_forever(self) -> None:
        wakeup.events.add(self._wake)
        log.info("worker_started", worker=self.name, jobs=len(self.registry.jobs))
        try:
            while not self._stop.is_set():
                try:
                    await self.schedule_crons()
                    await self.run_due()
                except Exception as exc:
                    log.warning("worker_poll_failed", error_type=type(exc).__name__)
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=self.poll_seconds)
        finally:
            wakeup.events.discard(self._wake)

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
