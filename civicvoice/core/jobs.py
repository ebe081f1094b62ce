"""Jobs through a transactional outbox: `enqueue` writes in the caller's transaction; workers claim due rows.

A job exists exactly when the change that caused it committed. Payloads carry ids only. Each running job holds
its own lease, renewed by a heartbeat while the handler runs; a lapsed lease is reclaimed and counts an attempt,
and after the last attempt the job is dead (admins see and retry dead jobs). The embedded worker runs inside the
web process; the SAQ backend (`civicvoice.core.jobs_saq`) relays due rows to Redis and runs the same rules.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import random
import re
import signal
import socket
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeVar

import structlog
from advanced_alchemy.types import DateTimeUTC, JsonB
from sqlalchemy import Index, String, Text, delete, event, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, Session, mapped_column

from civicvoice.core.audit import Actor, record
from civicvoice.core.clock import utcnow
from civicvoice.core.datamap import DataMapEntry
from civicvoice.core.db import Base, conflict_insert, table
from civicvoice.core.errors import CivicVoiceError, Conflict, InvalidInput, NotFound
from civicvoice.core.ids import new_id
from civicvoice.core.logging import scrub
from civicvoice.core.services import Services

T = TypeVar("T")

log = structlog.get_logger("civicvoice.jobs")
# Set in a session that wrote a job, so its commit wakes the embedded worker (`_after_commit`).
ENQUEUED = "civicvoice.jobs_enqueued"

QUEUED, RUNNING, DONE, DEAD = "queued", "running", "done", "dead"
STATES = (QUEUED, RUNNING, DONE, DEAD)
PRUNE_JOBS_JOB = "jobs.prune"
DONE_KEPT_FOR = timedelta(days=30)
DEAD_KEPT_FOR = timedelta(days=90)

# Ids only. A key is a lower-case identifier; a value is a UUID or a value the job declared for that field.
# fullmatch throughout: `$` would also match before a trailing newline.
_KEY = re.compile(r"[a-z][a-z0-9_]{0,63}")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
# What each job declared its payload fields may hold besides UUIDs, filled by `JobRegistry.job`.
_DECLARED_VALUES: dict[str, dict[str, frozenset[str]]] = {}


class InvalidJobPayload(CivicVoiceError):
    status = 500
    slug = "invalid-job"
    title = "Invalid job"


class UnknownJob(CivicVoiceError):
    status = 500
    slug = "unknown-job"
    title = "Unknown job"


class JobNotFound(NotFound):
    slug = "job-not-found"
    title = "No such job"


class JobNotRetryable(Conflict):
    slug = "job-not-retryable"
    title = "Only dead jobs can be retried"


class RetryLater(Exception):
    """Raised by a handler to be run again later without counting as a failure."""

    def __init__(self, delay: timedelta) -> None:
        super().__init__(f"retry in {delay}")
        self.delay = delay


class Job(Base):
    __tablename__ = "job"
    __datamap__ = DataMapEntry(
        purpose="Transactional outbox of background work; payloads carry ids only",
        # An exception message can quote what its code handled; it is scrubbed of contact details and numbers,
        # but a name could survive, so the column is declared and kept only as long as the job is.
        holds=("error class and scrubbed error message of the last failed attempt (last_error)",),
        category="service operation records",
        lawful_basis="legitimate_interests",
        retention="30 days after done; dead jobs 90 days after they died unless retried",
        unlinked="a scrubbed error message is not about a person; the payload's ids lead to the rows that are",
        scheduled_jobs=(PRUNE_JOBS_JOB,),
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
    # SAQ backend: when this row was last handed to the queue (cleared when a worker claims it).
    relayed_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True))


def _run_of(job_id: uuid.UUID, worker: str, attempt: int) -> tuple[Any, ...]:
    """The job row while this run holds it: running, claimed by this worker for this attempt. Only the holder
    renews the lease or records the outcome."""
    return (Job.id == job_id, Job.worker == worker, Job.state == RUNNING, Job.attempts == attempt)


def _done() -> dict[str, Any]:
    return {"state": DONE, "finished_at": utcnow(), "last_error": None, "lease_until": None}


@dataclass
class JobContext:
    """What a handler gets: a way to open its own unit of work, the app's services, and its lease."""

    job_id: uuid.UUID
    name: str
    attempt: int
    sessions: async_sessionmaker[AsyncSession]
    services: Services
    max_attempts: int = 8
    worker: str = ""
    # Set by `finish`: the handler recorded this run as done in its own last transaction.
    finished: bool = False

    @property
    def final_attempt(self) -> bool:
        """No retry follows this run: a handler records a lasting failure instead of raising."""
        return self.attempt >= self.max_attempts

    def service(self, kind: type[T]) -> T:
        return self.services.get(kind)

    async def holds_lease(self, session: AsyncSession) -> bool:
        """True while this run still owns its job (running, this worker, lease not lapsed); the row stays locked
        until the caller's transaction ends, so check it in the transaction that commits to an external effect."""
        held = await session.scalar(select(Job.id).where(*self._run(), Job.lease_until > utcnow()).with_for_update())
        return held is not None

    def _run(self) -> tuple[Any, ...]:
        return _run_of(self.job_id, self.worker, self.attempt)

    async def finish(self, session: AsyncSession) -> None:
        """Record this run as done in the handler's last transaction, so the outcome commits with the work (one
        transaction fewer a job). Nothing may follow that transaction: if it rolls back, or the handler raises, the
        outcome is recorded as a failure as usual. Does nothing once the run has lost its lease. Take it first in a
        transaction that locks other rows, as `holds_lease` is taken: one lock order for every run."""
        result = await session.execute(update(Job).where(*self._run()).values(**_done()))
        self.finished = (result.rowcount or 0) == 1  # type: ignore[attr-defined]


Handler = Callable[[JobContext, dict[str, Any]], Awaitable[None]]
# Called in the transaction that marks a job dead (with the reason), or that queues a dead job again.
DeadHandler = Callable[[AsyncSession, dict[str, Any], str], Awaitable[None]]
RetryHandler = Callable[[AsyncSession, dict[str, Any]], Awaitable[None]]


@dataclass(frozen=True)
class JobSpec:
    name: str
    handler: Handler
    max_attempts: int = 8
    lease: timedelta = timedelta(minutes=5)
    base_backoff: timedelta = timedelta(seconds=10)
    max_backoff: timedelta = timedelta(hours=6)
    on_dead: DeadHandler | None = None
    on_retry: RetryHandler | None = None
    payload_values: Mapping[str, frozenset[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class CronSpec:
    name: str
    every: timedelta


def _declared(values: Mapping[str, type[enum.Enum] | Iterable[str | int]] | None) -> dict[str, frozenset[str]]:
    declared: dict[str, frozenset[str]] = {}
    for key, allowed in (values or {}).items():
        if isinstance(allowed, type) and issubclass(allowed, enum.Enum):
            declared[key] = frozenset(str(member.value) for member in allowed)
        else:
            declared[key] = frozenset(str(v) for v in allowed)
    return declared


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
        on_dead: DeadHandler | None = None,
        on_retry: RetryHandler | None = None,
        payload_values: Mapping[str, type[enum.Enum] | Iterable[str | int]] | None = None,
    ) -> Callable[[Handler], Handler]:
        """Register a handler. ``payload_values`` declares the values a payload field may take besides UUIDs:
        an Enum class, or the values themselves (names of versions, a range of batch sizes); anything else is
        refused at enqueue."""
        declared = _declared(payload_values)

        def register(handler: Handler) -> Handler:
            if name in self.jobs:
                raise ValueError(f"job {name!r} is registered twice")
            self.jobs[name] = JobSpec(
                name,
                handler,
                max_attempts,
                lease,
                base_backoff,
                on_dead=on_dead,
                on_retry=on_retry,
                payload_values=declared,
            )
            _DECLARED_VALUES[name] = declared
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


def validate_payload(
    payload: Mapping[str, Any], declared: Mapping[str, frozenset[str]] | None = None
) -> dict[str, Any]:
    """Ids only: every value is a UUID, or a value declared for that field, or None. Names, phone numbers,
    free text, numbers and nested data are refused; anything richer belongs in a row the job references."""
    declared = declared or {}
    clean: dict[str, Any] = {}
    for key, value in payload.items():
        if not isinstance(key, str) or not _KEY.fullmatch(key):
            raise InvalidJobPayload(f"job payload key {key!r} is not an identifier (lower-case letters, digits, _)")
        allowed = declared.get(key, frozenset())
        if isinstance(value, enum.Enum):
            value = value.value
        if value is None:
            clean[key] = None
        elif isinstance(value, uuid.UUID):
            clean[key] = str(value)
        elif isinstance(value, str) and _UUID.fullmatch(value):
            clean[key] = value.lower()
        elif isinstance(value, str | int) and not isinstance(value, bool) and str(value) in allowed:
            clean[key] = value
        else:
            shown = sorted(allowed)[:8]
            hint = f" or one of {shown}{' ...' if len(allowed) > len(shown) else ''}" if allowed else ""
            raise InvalidJobPayload(
                f"job payload {key!r} must be a UUID{hint}: payloads carry ids only; put anything richer in a row "
                "of its own and pass its id"
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
        "payload": validate_payload(payload or {}, _DECLARED_VALUES.get(name)),
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
    session.info[ENQUEUED] = True


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
    """Enqueue unless a job with this key exists; True when a job was added. One statement on both databases:
    the insert does nothing when the key is there (ON CONFLICT DO NOTHING), concurrent callers included (before,
    a look-up, a savepoint, the insert and its release: four round trips for every invitation sent)."""
    jobs = table(Job)
    row = job_row(name, payload, key=key, **kwargs)
    added = await session.execute(
        conflict_insert(session, jobs).values(row).on_conflict_do_nothing(index_elements=[jobs.c.dedupe_key])
    )
    if not added.rowcount:  # type: ignore[attr-defined]
        return False
    session.info[ENQUEUED] = True
    return True


def backoff(spec: JobSpec, attempts: int) -> timedelta:
    """Exponential with full jitter, capped: 10 s, 20 s, 40 s, ... up to six hours."""
    ceiling = min(spec.max_backoff.total_seconds(), spec.base_backoff.total_seconds() * (2 ** max(0, attempts - 1)))
    return timedelta(seconds=ceiling / 2 + random.random() * ceiling / 2)  # noqa: S311 - jitter, not security


def describe_error(exc: BaseException) -> str:
    """The error class and a short, single-line, scrubbed message: what `job.last_error` holds."""
    # Exception messages can quote data; keep the type and a scrubbed message only.
    text = scrub(" ".join(str(exc).split()))[:300]
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


LEASE_LAPSED = "LeaseLapsed: the worker stopped while running the last attempt"


def _attempt_limit(spec: JobSpec | None, job: Job) -> int:
    return min(spec.max_attempts, job.max_attempts) if spec else job.max_attempts


def _due_or_lapsed(now: datetime) -> Any:
    return or_(
        (Job.state == QUEUED) & (Job.run_at <= now),
        # A worker that died mid-job leaves a lapsed lease: the job is claimed again (and counts an attempt).
        (Job.state == RUNNING) & (Job.lease_until < now),
    )


async def _mark_dead(session: AsyncSession, spec: JobSpec | None, job_id: uuid.UUID, payload: dict[str, Any]) -> None:
    if spec is not None and spec.on_dead is not None:
        row = await session.get(Job, job_id)
        await spec.on_dead(session, payload, (row.last_error if row else None) or "job dead")


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
    if session.info.pop(ENQUEUED, False):
        wakeup.notify()


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(ENQUEUED, None)


async def schedule_crons(
    sessions: async_sessionmaker[AsyncSession], registry: JobRegistry, now: datetime | None = None
) -> None:
    now = now or utcnow()
    for cron in registry.crons.values():
        period = cron.every.total_seconds()
        slot = int(now.timestamp() // period)
        async with sessions() as session, session.begin():
            await enqueue_once(session, cron.name, {}, key=f"cron:{cron.name}:{slot}", run_at=now)


class JobRunner(Protocol):
    """What the app and `civicvoice worker` start: the embedded worker, or the SAQ relay."""

    async def run_forever(self) -> None: ...

    def stop(self) -> None: ...


class Worker:
    """Claims due jobs from the outbox one at a time and runs them; many workers may share one database.

    ``lease`` overrides every job's own lease (operators and tests); the heartbeat renews it at a third of its
    length while the handler runs.
    """

    def __init__(
        self,
        registry: JobRegistry,
        sessions: async_sessionmaker[AsyncSession],
        services: Services,
        *,
        poll_seconds: float = 1.0,
        batch: int = 1,
        name: str | None = None,
        lease: timedelta | None = None,
    ) -> None:
        self.registry = registry
        self.sessions = sessions
        self.services = services
        self.poll_seconds = poll_seconds
        self.batch = batch  # kept for callers that set it; each job is claimed with its own fresh lease
        self.name = name or f"{socket.gethostname()}:{uuid.uuid4().hex[:8]}"
        self.lease = lease
        self._stop = asyncio.Event()
        self._wake = asyncio.Event()

    def lease_for(self, spec: JobSpec | None) -> timedelta:
        if self.lease is not None:
            return self.lease
        return spec.lease if spec else timedelta(minutes=5)

    async def schedule_crons(self, now: datetime | None = None) -> None:
        await schedule_crons(self.sessions, self.registry, now)

    async def claim(self, now: datetime | None = None, *, job_id: uuid.UUID | None = None) -> list[Job]:
        """Claim the next due job (or the given one) with a lease counted from now; at most one job.

        A lapsed lease is reclaimed as a new attempt; when the run that lapsed was the last attempt, the job is
        dead instead (so a job that crashes its worker cannot run for ever) and the next one is looked at.
        """
        now = now or utcnow()
        while True:
            async with self.sessions() as session, session.begin():
                stmt = select(Job).where(_due_or_lapsed(now))
                if job_id is not None:
                    stmt = stmt.where(Job.id == job_id)
                job = await session.scalar(stmt.order_by(Job.run_at).limit(1).with_for_update(skip_locked=True))
                if job is None:
                    return []
                spec = self.registry.jobs.get(job.name)
                if job.state == RUNNING and job.attempts >= _attempt_limit(spec, job):
                    job.state, job.last_error, job.finished_at = DEAD, LEASE_LAPSED, utcnow()
                    job.lease_until, job.relayed_at = None, None
                    await session.flush()
                    await _mark_dead(session, spec, job.id, dict(job.payload))
                    log.error("job_dead", job=job.name, job_id=str(job.id), attempts=job.attempts, lapsed=True)
                    continue
                job.state = RUNNING
                job.attempts += 1
                job.lease_until = now + self.lease_for(spec)
                job.worker = self.name
                job.relayed_at = None
                return [job]

    async def _heartbeat(
        self,
        ctx: JobContext,
        lease: timedelta,
        handler: asyncio.Task[None],
        lost: list[bool],
        on_beat: Callable[[], Awaitable[None]] | None,
    ) -> None:
        """Keep the lease of a running job alive; cancel the handler if another worker has taken the job."""
        interval = max(0.05, lease.total_seconds() / 3)
        while True:
            await asyncio.sleep(interval)
            if ctx.finished:  # recorded done by the handler: no lease left to keep
                return
            try:
                async with self.sessions() as session, session.begin():
                    result = await session.execute(update(Job).where(*ctx._run()).values(lease_until=utcnow() + lease))
            except Exception as exc:  # the database may be briefly unreachable; the next beat tries again
                log.warning("job_heartbeat_failed", job=ctx.name, job_id=str(ctx.job_id), error_type=type(exc).__name__)
                continue
            if (result.rowcount or 0) == 0:  # type: ignore[attr-defined]
                if ctx.finished:  # the handler's last transaction recorded it done meanwhile
                    return
                lost.append(True)
                log.error("job_lease_lost", job=ctx.name, job_id=str(ctx.job_id), attempt=ctx.attempt)
                handler.cancel()
                return
            if on_beat is not None:
                with contextlib.suppress(Exception):
                    await on_beat()

    async def run_one(self, job: Job, *, on_beat: Callable[[], Awaitable[None]] | None = None) -> str:
        """Run a claimed job and record the outcome; returns the job's new state ("lost" if the lease was)."""
        spec = self.registry.jobs.get(job.name)
        outcome: dict[str, Any]
        if spec is None:
            outcome = {"state": DEAD, "last_error": f"UnknownJob: no handler registered for {job.name!r}"}
        else:
            limit = _attempt_limit(spec, job)
            ctx = JobContext(job.id, job.name, job.attempts, self.sessions, self.services, limit, worker=self.name)
            lost: list[bool] = []

            async def handle(spec: JobSpec = spec) -> None:
                await spec.handler(ctx, dict(job.payload))

            handler = asyncio.create_task(handle())
            beat = asyncio.create_task(self._heartbeat(ctx, self.lease_for(spec), handler, lost, on_beat))
            try:
                await handler
            except asyncio.CancelledError:
                if lost:
                    return "lost"
                raise
            except RetryLater as later:
                outcome = {"state": QUEUED, "run_at": utcnow() + later.delay, "attempts": job.attempts - 1}
            except Exception as exc:
                error = describe_error(exc)
                log.warning(
                    "job_failed", job=job.name, job_id=str(job.id), attempt=job.attempts, error_type=type(exc).__name__
                )
                if job.attempts >= limit:
                    outcome = {"state": DEAD, "last_error": error, "finished_at": utcnow()}
                    log.error("job_dead", job=job.name, job_id=str(job.id), attempts=job.attempts)
                else:
                    outcome = {"state": QUEUED, "last_error": error, "run_at": utcnow() + backoff(spec, job.attempts)}
            else:
                outcome = _done()
            finally:
                beat.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await beat
            if lost:
                return "lost"
            if ctx.finished and outcome["state"] == DONE:
                return DONE  # the handler's last transaction recorded it
        outcome.setdefault("lease_until", None)
        outcome.setdefault("finished_at", utcnow() if outcome["state"] == DEAD else None)
        await self._record(job, spec, outcome)
        return str(outcome["state"])

    async def _record(self, job: Job, spec: JobSpec | None, outcome: dict[str, Any]) -> None:
        # Only the holder of the lease records the outcome; a job whose lease lapsed belongs to another worker.
        guard = _run_of(job.id, self.name, job.attempts)
        try:
            async with self.sessions() as session, session.begin():
                result = await session.execute(update(Job).where(*guard).values(**outcome))
                if outcome["state"] == DEAD and (result.rowcount or 0) == 1:  # type: ignore[attr-defined]
                    await _mark_dead(session, spec, job.id, dict(job.payload))
        except Exception as exc:
            if outcome["state"] != DEAD:
                raise
            # The feature's dead-letter hook failed: the job is still recorded dead, so nothing runs for ever.
            log.error("job_dead_hook_failed", job=job.name, job_id=str(job.id), error_type=type(exc).__name__)
            async with self.sessions() as session, session.begin():
                await session.execute(update(Job).where(*guard).values(**outcome))

    async def run_due(self, now: datetime | None = None) -> int:
        """Claim and run every due job once, one at a time; returns how many ran. Tests and `worker --once`
        use it."""
        total = 0
        while not self._stop.is_set():
            jobs = await self.claim(now)
            if not jobs:
                return total
            for job in jobs:
                await self.run_one(job)
            total += len(jobs)
        return total

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


def job_runner(
    settings: Any,
    registry: JobRegistry,
    sessions: async_sessionmaker[AsyncSession],
    services: Services,
    *,
    name: str | None = None,
) -> JobRunner:
    """The runner the settings choose: the embedded worker, or (``job_backend="saq"``) the relay to SAQ."""
    lease = timedelta(seconds=settings.job_lease_seconds) if settings.job_lease_seconds else None
    if settings.job_backend == "saq":
        from civicvoice.core.jobs_saq import SaqRelay

        return SaqRelay(settings, registry, sessions, poll_seconds=settings.worker_poll_seconds)
    return Worker(registry, sessions, services, poll_seconds=settings.worker_poll_seconds, name=name, lease=lease)


async def serve_jobs(
    settings: Any,
    registry: JobRegistry,
    sessions: async_sessionmaker[AsyncSession],
    services: Services,
    *,
    once: bool = False,
) -> int:
    """`civicvoice worker`: the embedded worker, or SAQ workers and a relay, until SIGTERM or SIGINT (the job in
    hand finishes first). With ``once``, runs what is due and returns how many jobs ran (or were handed to SAQ)."""
    lease = timedelta(seconds=settings.job_lease_seconds) if settings.job_lease_seconds else None
    saq = settings.job_backend == "saq"
    if once:
        if saq:
            from civicvoice.core.jobs_saq import run_once

            return await run_once(settings, registry, sessions, services)
        return await Worker(registry, sessions, services, lease=lease).run_due()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    if saq:
        from civicvoice.core.jobs_saq import run_workers

        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        await run_workers(settings, registry, sessions, services, stop=stop)
        return 0
    worker = Worker(registry, sessions, services, poll_seconds=settings.worker_poll_seconds, lease=lease)
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, worker.stop)
    await worker.run_forever()
    return 0


# --- what administrators see and do ---------------------------------------------------------------------------


def parse_job_id(raw: str) -> uuid.UUID:
    text = raw.strip()
    if not _UUID.fullmatch(text):
        raise InvalidInput(f"{raw[:60]!r} is not a job id: give the id shown by 'civicvoice jobs list'.", field="id")
    return uuid.UUID(text)


async def list_jobs(session: AsyncSession, *, state: str | None = None, limit: int = 200) -> list[Job]:
    """Jobs newest first, optionally in one state."""
    if state is not None and state not in STATES:
        raise InvalidInput(f"Unknown job state {state[:30]!r}: use one of {', '.join(STATES)}.", field="state")
    stmt = select(Job).order_by(Job.created_at.desc()).limit(limit)
    if state is not None:
        stmt = stmt.where(Job.state == state)
    return list((await session.scalars(stmt)).all())


async def retry_job(session: AsyncSession, registry: JobRegistry, job_id: uuid.UUID, *, actor: Actor) -> Job:
    """Queue a dead job again with a fresh set of attempts; the feature's retry hook reopens what the death
    closed (a failed invitation is queued again). Audited."""
    job = await session.scalar(select(Job).where(Job.id == job_id).with_for_update())
    if job is None:
        raise JobNotFound(f"No job with id {job_id}.")
    if job.state != DEAD:
        raise JobNotRetryable(f"Job {job_id} is {job.state}, not dead: only dead jobs can be retried.")
    job.state, job.attempts, job.run_at = QUEUED, 0, utcnow()
    job.finished_at = job.lease_until = job.worker = job.relayed_at = None
    spec = registry.jobs.get(job.name)
    if spec is not None and spec.on_retry is not None:
        await spec.on_retry(session, dict(job.payload))
    record(session, actor, "job.retried", target_kind="job", target_id=job.id, detail={"job": job.name})
    session.info[ENQUEUED] = True
    return job


async def prune_jobs(session: AsyncSession, now: datetime) -> int:
    """Delete done jobs after 30 days and dead ones after 90, as the data map says."""
    done = await session.execute(delete(Job).where(Job.state == DONE, Job.finished_at < now - DONE_KEPT_FOR))
    dead = await session.execute(delete(Job).where(Job.state == DEAD, Job.finished_at < now - DEAD_KEPT_FOR))
    return (done.rowcount or 0) + (dead.rowcount or 0)  # type: ignore[attr-defined]
