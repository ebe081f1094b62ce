"""The transactional outbox: a job exists exactly when its cause committed; leases, back-off, dead letters."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

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
    JobRegistry,
    RetryLater,
    Worker,
    enqueue,
    enqueue_once,
)
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
    ],
)
async def test_payloads_carry_ids_only(db: TestDatabase, payload: dict[str, Any]) -> None:
    async with db.sessions() as session:
        with pytest.raises(InvalidJobPayload):
            await enqueue(session, "test.work", payload)


async def test_worker_runs_due_jobs_once(db: TestDatabase) -> None:
    calls: list[dict[str, Any]] = []
    worker = Worker(registry_with(calls), db.sessions, {})
    thing = uuid.uuid4()
    async with unit_of_work(db.sessions) as session:
        await enqueue(session, "test.work", {"thing_id": thing})
        await enqueue(session, "test.work", {"thing_id": uuid.uuid4()}, run_at=utcnow() + timedelta(hours=1))
    assert await worker.run_due() == 1
    assert calls == [{"payload": {"thing_id": str(thing)}, "attempt": 1}]
    assert await worker.run_due() == 0
    states = sorted(j.state for j in await db.all(Job))
    assert states == [DONE, QUEUED]


async def test_failures_back_off_then_succeed(db: TestDatabase) -> None:
    calls: list[dict[str, Any]] = []
    worker = Worker(registry_with(calls, fail_times=1), db.sessions, {})
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


async def test_dead_letter_after_max_attempts(db: TestDatabase) -> None:
    worker = Worker(registry_with([], fail_times=10, max_attempts=3), db.sessions, {})
    async with unit_of_work(db.sessions) as session:
        await enqueue(session, "test.work", {"thing_id": uuid.uuid4()})
    moment = utcnow()
    for _ in range(5):
        moment += timedelta(hours=1)
        await worker.run_due(now=moment)
    [job] = await db.all(Job)
    assert job.state == DEAD and job.attempts == 3 and job.finished_at is not None


async def test_unknown_job_goes_to_dead_letter(db: TestDatabase) -> None:
    worker = Worker(JobRegistry(), db.sessions, {})
    async with unit_of_work(db.sessions) as session:
        await enqueue(session, "no.such.job", {})
    await worker.run_due()
    [job] = await db.all(Job)
    assert job.state == DEAD and "no handler" in (job.last_error or "")


async def test_lapsed_lease_is_claimed_again(db: TestDatabase) -> None:
    calls: list[dict[str, Any]] = []
    crashed = Worker(registry_with(calls), db.sessions, {}, name="crashed")
    async with unit_of_work(db.sessions) as session:
        await enqueue(session, "test.work", {"thing_id": uuid.uuid4()})
    [claimed] = await crashed.claim()
    assert claimed.state == RUNNING
    # The crashed worker never finishes; before the lease lapses nobody else takes the job.
    other = Worker(registry_with(calls), db.sessions, {}, name="other")
    assert await other.claim() == []
    assert await other.run_due(now=utcnow() + timedelta(minutes=10)) == 1
    [job] = await db.all(Job)
    assert job.state == DONE and job.attempts == 2 and job.worker == "other"
    # The crashed worker cannot overwrite the outcome after losing its lease.
    assert await crashed.run_one(claimed) == DONE
    [job] = await db.all(Job)
    assert job.worker == "other"


async def test_retry_later_does_not_count_as_a_failure(db: TestDatabase) -> None:
    registry = JobRegistry()

    @registry.job("test.wait")
    async def wait(ctx: JobContext, payload: dict[str, Any]) -> None:
        raise RetryLater(timedelta(minutes=30))

    worker = Worker(registry, db.sessions, {})
    async with unit_of_work(db.sessions) as session:
        await enqueue(session, "test.wait", {})
    await worker.run_due()
    [job] = await db.all(Job)
    assert job.state == QUEUED and job.attempts == 0 and job.last_error is None


async def test_enqueue_once_and_crons(db: TestDatabase) -> None:
    async with unit_of_work(db.sessions) as session:
        assert await enqueue_once(session, "test.work", {}, key="k1") is True
    async with unit_of_work(db.sessions) as session:
        assert await enqueue_once(session, "test.work", {}, key="k1") is False
    registry = JobRegistry()
    ran: list[str] = []

    @registry.cron("test.tick", every=timedelta(hours=1))
    async def tick(ctx: JobContext, payload: dict[str, Any]) -> None:
        ran.append(ctx.name)

    worker = Worker(registry, db.sessions, {})
    other = Worker(registry, db.sessions, {})
    await worker.schedule_crons()
    await other.schedule_crons()  # a second worker in the same period adds nothing
    await worker.run_due()
    assert ran == ["test.tick"]
    async with db.sessions() as session:
        keys = (await session.scalars(select(Job.dedupe_key).where(Job.name == "test.tick"))).all()
    assert len(keys) == 1
