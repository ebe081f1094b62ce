"""The transactional outbox: a job exists exactly when its cause committed; leases, back-off, dead letters."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import event, select, update

from civicvoice.core.audit import Actor, AuditEvent, record
from civicvoice.core.clock import utcnow
from civicvoice.core.db import unit_of_work
from civicvoice.core.jobs import (
    DEAD,
    DONE,
    QUEUED,
    RUNNING,
    InvalidJobPayload,
    Job,
    JobContext,
    JobNotFound,
    JobNotRetryable,
    JobRegistry,
    RetryLater,
    Worker,
    enqueue,
    enqueue_once,
    list_jobs,
    prune_jobs,
    retry_job,
)
from civicvoice.core.settings import Settings
from tests.integration.job_backends import JobBackend, saq_settings
from tests.integration.support import TestDatabase


def registry_with(calls: list[dict[str, Any]], *, fail_times: int = 0, max_attempts: int = 3) -> JobRegistry:
    registry = JobRegistry()
    failures = {"left": fail_times}

    @registry.job("test.work", max_attempts=max_attempts, base_backoff=timedelta(seconds=1))
    async def work(ctx: JobContext, payload: dict[str, Any]) -> None:
        if failures["left"] > 0:
            failures["left"] -= 1
            raise RuntimeError("temporary failure for someone@example.org")
        calls.append({"payload": payload, "attempt": ctx.attempt})

    return registry


async def test_job_exists_only_when_the_transaction_commits(db: TestDatabase) -> None:
    async def failing_change() -> None:
        async with unit_of_work(db.sessions) as session:
            record(session, Actor.cli(), "test.action")
            await enqueue(session, "test.work", {"thing_id": uuid.uuid4()})
            raise RuntimeError("the change fails")

    with pytest.raises(RuntimeError):
        await failing_change()
    assert await db.count(Job) == 0
    assert await db.count(AuditEvent) == 0

    async with unit_of_work(db.sessions) as session:
        await enqueue(session, "test.work", {"thing_id": uuid.uuid4()})
    assert await db.count(Job) == 1


@pytest.mark.parametrize(
    "payload",
    [
        {"email": "jo@example.org"},
        {"comment": "The staff were rude"},
        {"name": "Jo Bloggs"},
        {"nested": {"a": 1}},
        {"bad key!": 1},
        {"phone": "07700 900123"},
        {"count": 7700900123},
        {"thing_id": str(uuid.UUID(int=5)) + "\n"},
    ],
)
async def test_payloads_carry_ids_only(db: TestDatabase, payload: dict[str, Any]) -> None:
    async with db.sessions() as session:
        with pytest.raises(InvalidJobPayload):
            await enqueue(session, "test.work", payload)


async def test_worker_runs_due_jobs_once(db: TestDatabase, job_backend: JobBackend) -> None:
    calls: list[dict[str, Any]] = []
    worker = job_backend.worker(registry_with(calls), db.sessions, {})
    thing = uuid.uuid4()
    async with unit_of_work(db.sessions) as session:
        await enqueue(session, "test.work", {"thing_id": thing})
        await enqueue(session, "test.work", {"thing_id": uuid.uuid4()}, run_at=utcnow() + timedelta(hours=1))
    assert await worker.run_due() == 1
    assert calls == [{"payload": {"thing_id": str(thing)}, "attempt": 1}]
    assert await worker.run_due() == 0
    states = sorted(j.state for j in await db.all(Job))
    assert states == [DONE, QUEUED]


async def test_failures_back_off_then_succeed(db: TestDatabase, job_backend: JobBackend) -> None:
    calls: list[dict[str, Any]] = []
    worker = job_backend.worker(registry_with(calls, fail_times=1), db.sessions, {})
    async with unit_of_work(db.sessions) as session:
        await enqueue(session, "test.work", {"thing_id": uuid.uuid4()})
    await worker.run_due()
    [job] = await db.all(Job)
    assert job.state == QUEUED and job.attempts == 1
    assert job.run_at > utcnow()
    # The stored error keeps the type, masks what the message quoted.
    assert job.last_error.startswith("RuntimeError")
    assert "someone@example.org" not in (job.last_error or "")
    await worker.run_due(now=utcnow() + timedelta(minutes=5))
    [job] = await db.all(Job)
    assert job.state == DONE and job.attempts == 2
    assert calls[0]["attempt"] == 2


async def test_dead_letter_after_max_attempts(db: TestDatabase, job_backend: JobBackend) -> None:
    worker = job_backend.worker(registry_with([], fail_times=10, max_attempts=3), db.sessions, {})
    async with unit_of_work(db.sessions) as session:
        await enqueue(session, "test.work", {"thing_id": uuid.uuid4()})
    moment = utcnow()
    for _ in range(5):
        moment += timedelta(hours=1)
        await worker.run_due(now=moment)
    [job] = await db.all(Job)
    assert job.state == DEAD and job.attempts == 3 and job.finished_at is not None


async def test_unknown_job_goes_to_dead_letter(db: TestDatabase, job_backend: JobBackend) -> None:
    worker = job_backend.worker(JobRegistry(), db.sessions, {})
    async with unit_of_work(db.sessions) as session:
        await enqueue(session, "no.such.job", {})
    await worker.run_due()
    [job] = await db.all(Job)
    assert job.state == DEAD and "no handler" in (job.last_error or "")


async def test_lapsed_lease_is_claimed_again(db: TestDatabase, job_backend: JobBackend) -> None:
    calls: list[dict[str, Any]] = []
    crashed = job_backend.worker(registry_with(calls), db.sessions, {}, name="crashed")
    async with unit_of_work(db.sessions) as session:
        await enqueue(session, "test.work", {"thing_id": uuid.uuid4()})
    [claimed] = await crashed.claim()
    assert claimed.state == RUNNING
    # The crashed worker never finishes; before the lease lapses nobody else takes the job.
    other = job_backend.worker(registry_with(calls), db.sessions, {}, name="other")
    assert await other.claim() == []
    assert await other.run_due(now=utcnow() + timedelta(minutes=10)) == 1
    [job] = await db.all(Job)
    assert job.state == DONE and job.attempts == 2 and job.worker == "other"
    # The crashed worker cannot overwrite the outcome after losing its lease: its handler is stopped.
    assert await crashed.run_one(claimed) in (DONE, "lost")
    [job] = await db.all(Job)
    assert job.worker == "other" and job.state == DONE and job.attempts == 2


async def test_retry_later_does_not_count_as_a_failure(db: TestDatabase, job_backend: JobBackend) -> None:
    registry = JobRegistry()

    @registry.job("test.wait")
    async def wait(ctx: JobContext, payload: dict[str, Any]) -> None:
        raise RetryLater(timedelta(minutes=30))

    worker = job_backend.worker(registry, db.sessions, {})
    async with unit_of_work(db.sessions) as session:
        await enqueue(session, "test.wait", {})
    await worker.run_due()
    [job] = await db.all(Job)
    assert job.state == QUEUED and job.attempts == 0 and job.last_error is None


async def test_enqueue_once_and_crons(db: TestDatabase, job_backend: JobBackend) -> None:
    async with unit_of_work(db.sessions) as session:
        assert await enqueue_once(session, "test.work", {}, key="k1") is True
    async with unit_of_work(db.sessions) as session:
        assert await enqueue_once(session, "test.work", {}, key="k1") is False
    registry = JobRegistry()
    ran: list[str] = []

    @registry.cron("test.tick", every=timedelta(hours=1))
    async def tick(ctx: JobContext, payload: dict[str, Any]) -> None:
        ran.append(ctx.name)

    worker = job_backend.worker(registry, db.sessions, {})
    other = job_backend.worker(registry, db.sessions, {})
    await worker.schedule_crons()
    await other.schedule_crons()  # a second worker in the same period adds nothing
    await worker.run_due()
    assert ran == ["test.tick"]
    async with db.sessions() as session:
        keys = (await session.scalars(select(Job.dedupe_key).where(Job.name == "test.tick"))).all()
    assert len(keys) == 1


# --- leases that belong to one running job -------------------------------------------------------------------


async def test_a_slow_job_keeps_its_lease_while_it_runs(db: TestDatabase, job_backend: JobBackend) -> None:
    registry = JobRegistry()
    runs: list[str] = []
    lease = timedelta(seconds=0.4)

    @registry.job("test.slow")
    async def slow(ctx: JobContext, payload: dict[str, Any]) -> None:
        runs.append(ctx.worker)
        await asyncio.sleep(1.5)  # well past the lease: only the heartbeat keeps it

    async with unit_of_work(db.sessions) as session:
        await enqueue(session, "test.slow", {})
    first = job_backend.worker(registry, db.sessions, {}, name="first", lease=lease)
    second = job_backend.worker(registry, db.sessions, {}, name="second", lease=lease)

    async def second_tries() -> int:
        tried = 0
        for _ in range(10):
            await asyncio.sleep(0.15)
            tried += await second.run_due()
        return tried

    ran_first, ran_second = await asyncio.gather(first.run_due(), second_tries())
    assert (ran_first, ran_second) == (1, 0)
    assert runs == ["first"]
    [job] = await db.all(Job)
    assert job.state == DONE and job.attempts == 1 and job.worker == "first"


async def test_each_job_gets_its_lease_when_it_starts(db: TestDatabase, job_backend: JobBackend) -> None:
    registry = JobRegistry()
    seen: list[timedelta] = []
    lease = timedelta(seconds=2)

    @registry.job("test.step")
    async def step(ctx: JobContext, payload: dict[str, Any]) -> None:
        async with ctx.sessions() as session:
            row = await session.get(Job, ctx.job_id)
            assert row is not None and row.lease_until is not None
            seen.append(row.lease_until - utcnow())
        await asyncio.sleep(0.5)

    async with unit_of_work(db.sessions) as session:
        for _ in range(4):
            await enqueue(session, "test.step", {})
    worker = job_backend.worker(registry, db.sessions, {}, lease=lease)
    assert await worker.run_due() == 4
    # The fourth job starts 1.5 s after the first, yet with (nearly) the whole lease ahead of it.
    assert len(seen) == 4 and all(left > timedelta(seconds=1.5) for left in seen), seen


async def test_a_worker_that_loses_its_lease_stops_and_records_nothing(db: TestDatabase) -> None:
    registry = JobRegistry()
    finished: list[str] = []

    @registry.job("test.stalls")
    async def stalls(ctx: JobContext, payload: dict[str, Any]) -> None:
        await asyncio.sleep(2)
        finished.append(ctx.worker)

    async with unit_of_work(db.sessions) as session:
        await enqueue(session, "test.stalls", {})
    stalled = Worker(registry, db.sessions, {}, name="stalled", lease=timedelta(seconds=0.3))
    [claimed] = await stalled.claim()
    running = asyncio.create_task(stalled.run_one(claimed))
    # Another worker takes the job over (as after a lapse); the stalled one's next heartbeat notices.
    async with unit_of_work(db.sessions) as session:
        row = await session.get(Job, claimed.id)
        assert row is not None
        row.worker, row.attempts = "taker", row.attempts + 1
    assert await running == "lost"
    assert finished == []
    [job] = await db.all(Job)
    assert job.state == RUNNING and job.worker == "taker"


async def test_reclaiming_the_last_attempt_makes_the_job_dead(db: TestDatabase, job_backend: JobBackend) -> None:
    """A job whose run crashes its worker every time cannot run for ever."""
    registry = JobRegistry()
    dead: list[tuple[dict[str, Any], str]] = []

    async def on_dead(session: Any, payload: dict[str, Any], reason: str) -> None:
        dead.append((payload, reason))

    @registry.job("test.crashes", max_attempts=2, on_dead=on_dead)
    async def crashes(ctx: JobContext, payload: dict[str, Any]) -> None:
        raise AssertionError("never reached: each claim below stands for a worker killed mid-run")

    thing = uuid.uuid4()
    async with unit_of_work(db.sessions) as session:
        await enqueue(session, "test.crashes", {"thing_id": thing})
    moment = utcnow()
    for attempt in (1, 2):
        [claimed] = await Worker(registry, db.sessions, {}, name=f"killed-{attempt}").claim(moment)
        assert claimed.attempts == attempt
        moment += timedelta(minutes=10)  # the killed worker's lease lapses
    survivor = job_backend.worker(registry, db.sessions, {}, name="survivor")
    assert await survivor.run_due(now=moment) == 0
    [job] = await db.all(Job)
    assert job.state == DEAD and job.attempts == 2 and (job.last_error or "").startswith("LeaseLapsed")
    assert dead == [({"thing_id": str(thing)}, job.last_error)]


async def test_any_error_on_the_last_attempt_reaches_the_dead_letter_hook(
    db: TestDatabase, job_backend: JobBackend
) -> None:
    registry = JobRegistry()
    reasons: list[str] = []

    async def on_dead(session: Any, payload: dict[str, Any], reason: str) -> None:
        reasons.append(reason)

    @registry.job("test.breaks", max_attempts=1, on_dead=on_dead)
    async def breaks(ctx: JobContext, payload: dict[str, Any]) -> None:
        raise KeyError("jo@example.org")

    async with unit_of_work(db.sessions) as session:
        await enqueue(session, "test.breaks", {})
    await job_backend.worker(registry, db.sessions, {}).run_due()
    [job] = await db.all(Job)
    assert job.state == DEAD and reasons == [job.last_error]
    assert (job.last_error or "").startswith("KeyError") and "jo@example.org" not in (job.last_error or "")


async def test_admins_retry_dead_jobs(db: TestDatabase, job_backend: JobBackend) -> None:
    calls: list[dict[str, Any]] = []
    registry = registry_with(calls, fail_times=1, max_attempts=1)
    reopened: list[dict[str, Any]] = []

    async def on_retry(session: Any, payload: dict[str, Any]) -> None:
        reopened.append(payload)

    registry.jobs["test.work"] = replace(registry.jobs["test.work"], on_retry=on_retry)
    async with unit_of_work(db.sessions) as session:
        job_id = await enqueue(session, "test.work", {"thing_id": uuid.uuid4()})
    worker = job_backend.worker(registry, db.sessions, {})
    await worker.run_due()
    async with db.sessions() as session:
        assert [j.id for j in await list_jobs(session, state=DEAD)] == [job_id]

    async with unit_of_work(db.sessions) as session:
        await retry_job(session, registry, job_id, actor=Actor.cli())
    assert len(reopened) == 1
    [audit] = [e for e in await db.all(AuditEvent) if e.action == "job.retried"]
    assert audit.target_id == str(job_id)
    assert await worker.run_due() == 1
    [job] = await db.all(Job)
    assert job.state == DONE and job.attempts == 1 and len(calls) == 1

    async with unit_of_work(db.sessions) as session:
        with pytest.raises(JobNotRetryable, match="only dead jobs"):
            await retry_job(session, registry, job_id, actor=Actor.cli())
        with pytest.raises(JobNotFound):
            await retry_job(session, registry, uuid.uuid4(), actor=Actor.cli())


async def test_done_jobs_are_pruned_after_30_days(db: TestDatabase) -> None:
    now = utcnow()
    async with unit_of_work(db.sessions) as session:
        for state, age in ((DONE, 31), (DONE, 29), (DEAD, 31), (DEAD, 91), (QUEUED, 400)):
            job_id = await enqueue(session, "test.work", {})
            await session.execute(
                update(Job).where(Job.id == job_id).values(state=state, finished_at=now - timedelta(days=age))
            )
    async with unit_of_work(db.sessions) as session:
        assert await prune_jobs(session, now) == 2
    left = sorted((j.state, round((now - j.finished_at).days)) for j in await db.all(Job))
    assert left == [(DEAD, 31), (DONE, 29), (QUEUED, 400)]


# --- the SAQ relay ---------------------------------------------------------------------------------------------


@pytest.fixture
def saq(settings: Settings) -> Iterator[Settings]:
    yield from saq_settings(settings)


async def test_the_relay_hands_a_row_to_saq_once(db: TestDatabase, saq: Settings) -> None:
    from civicvoice.core.jobs_saq import SaqRelay

    async with unit_of_work(db.sessions) as session:
        job_id = await enqueue(session, "test.work", {"thing_id": uuid.uuid4()})
    relay = SaqRelay(saq, registry_with([]), db.sessions)
    try:
        assert await relay.relay_due() == 1
        assert await relay.relay_due() == 0  # handed over already
        [job] = await db.all(Job)
        assert await relay.queue.job(f"{job_id}.0.{int(job.run_at.timestamp() * 1000)}") is not None
        assert await relay.relay_due(utcnow() + timedelta(minutes=2)) == 1  # never started: SAQ lost it
        info = await relay.queue.info()
        assert info["queued"] == 2
    finally:
        await relay.queue.disconnect()


async def test_a_retried_dead_job_is_handed_to_saq_under_a_key_of_its_own(db: TestDatabase, saq: Settings) -> None:
    """Its attempts start again at 0, but SAQ may still hold the key of the attempt that died (queued, or aborted in
    the last seconds, as a burst worker that stops leaves it): the retry must not be refused as a duplicate."""
    from civicvoice.core.jobs_saq import SaqRelay

    registry = registry_with([])
    async with unit_of_work(db.sessions) as session:
        job_id = await enqueue(session, "test.work", {"thing_id": uuid.uuid4()})
    relay = SaqRelay(saq, registry, db.sessions)
    try:
        assert await relay.relay_due() == 1
        [first] = await db.all(Job)
        async with unit_of_work(db.sessions) as session:
            await session.execute(update(Job).values(state=DEAD, finished_at=utcnow()))
        await asyncio.sleep(0.01)  # a retry is due later than the first hand-over
        async with unit_of_work(db.sessions) as session:
            await retry_job(session, registry, job_id, actor=Actor.cli())
        assert await relay.relay_due() == 1
        [retried] = await db.all(Job)
        keys = {f"{job_id}.0.{int(job.run_at.timestamp() * 1000)}" for job in (first, retried)}
        assert len(keys) == 2
        assert all([await relay.queue.job(key) is not None for key in keys])
        assert (await relay.queue.info())["queued"] == 2
    finally:
        await relay.queue.disconnect()


async def test_the_web_process_relays_to_saq_when_the_backend_is_saq(
    db: TestDatabase, saq: Settings, catalogue: None
) -> None:
    from civicvoice.app import create_app
    from civicvoice.core.jobs_saq import SaqRelay

    app = create_app(saq.with_changes(worker_poll_seconds=0.05), worker=True)
    async with AsyncTestClient(app=app, base_url="http://testserver.local"):
        assert isinstance(app.state.worker, SaqRelay)
        async with unit_of_work(db.sessions) as session:
            await enqueue(session, "test.work", {"thing_id": uuid.uuid4()})
        for _ in range(100):
            relayed = [j for j in await db.all(Job) if j.name == "test.work" and j.relayed_at is not None]
            if relayed:
                break
            await asyncio.sleep(0.05)
        assert relayed


async def test_a_handler_finishes_its_job_in_its_last_transaction(db: TestDatabase, job_backend: JobBackend) -> None:
    registry = JobRegistry()

    @registry.job("test.work_then_finish")
    async def work_then_finish(ctx: JobContext, payload: dict[str, Any]) -> None:
        async with ctx.sessions() as session, session.begin():
            await ctx.finish(session)
            record(session, Actor.system(), "test.finished")

    @registry.job("test.work")
    async def work(ctx: JobContext, payload: dict[str, Any]) -> None:
        async with ctx.sessions() as session, session.begin():
            record(session, Actor.system(), "test.worked")

    worker = job_backend.worker(registry, db.sessions, {})

    async def transactions_to_run(name: str) -> int:
        async with unit_of_work(db.sessions) as session:
            await enqueue(session, name, {})
        began: list[object] = []

        def on_begin(connection: object) -> None:
            began.append(connection)

        event.listen(db.engine.sync_engine, "begin", on_begin)
        try:
            assert await worker.run_due() == 1
        finally:
            event.remove(db.engine.sync_engine, "begin", on_begin)
        return len(began)

    # The outcome commits with the handler's work: one transaction fewer than a job whose worker records it.
    assert await transactions_to_run("test.work_then_finish") == await transactions_to_run("test.work") - 1
    jobs = await db.all(Job)
    assert [(j.state, j.finished_at is not None, j.lease_until) for j in jobs] == [(DONE, True, None)] * 2
    assert sorted(e.action for e in await db.all(AuditEvent)) == ["test.finished", "test.worked"]


async def test_a_finished_transaction_that_rolls_back_leaves_the_job_to_be_retried(
    db: TestDatabase, job_backend: JobBackend
) -> None:
    registry = JobRegistry()

    @registry.job("test.finishes_then_breaks", base_backoff=timedelta(seconds=1))
    async def finishes_then_breaks(ctx: JobContext, payload: dict[str, Any]) -> None:
        async with ctx.sessions() as session, session.begin():
            await ctx.finish(session)
            record(session, Actor.system(), "test.finished")
            raise RuntimeError("after finishing")

    worker = job_backend.worker(registry, db.sessions, {})
    async with unit_of_work(db.sessions) as session:
        await enqueue(session, "test.finishes_then_breaks", {})
    assert await worker.run_due() == 1
    [job] = await db.all(Job)
    assert job.state == QUEUED and job.attempts == 1 and (job.last_error or "").startswith("RuntimeError")
    assert await db.all(AuditEvent) == []
