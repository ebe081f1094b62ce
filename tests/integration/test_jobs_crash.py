"""Workers killed for real: `civicvoice worker` processes sending invitations to a real SMTP sink (aiosmtpd).

One worker process is SIGKILLed at random points (at least ten times) while it sends 200 invitations, and
restarted; every invitation is sent, and a duplicate can only come from the window between the server's acceptance
and the commit, carrying the same Message-ID. Two worker processes against a sink slower than the lease send each
invitation once: the lease is renewed while a send runs. On SQLite and PostgreSQL, embedded and SAQ backends.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import os
import random
import select as io_select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select

from civicvoice.app import create_app
from civicvoice.core.jobs import DONE, Job
from civicvoice.core.settings import Settings
from surveys.models import Invitation, InvitationState
from surveys.rules import InvitationPolicy
from surveys.sending import SEND_INVITATION_JOB
from tests.integration.job_backends import JobBackend
from tests.integration.smtp import Sink, SmtpServer
from tests.integration.support import TestDatabase
from tests.integration.test_keys_and_cli import env_for

INVITATIONS = 200
KILLS = 10


class SlowSink(Sink):
    """Keeps what it accepts; can take its time before saying 250 (a slow provider)."""

    def __init__(self, delay: float = 0.0) -> None:
        super().__init__()
        self.delay = delay

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.delay:
            await asyncio.sleep(self.delay)
        return await super().handle_DATA(server, session, envelope)


@pytest.fixture
def sink_server() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.sink = SlowSink()
    server.controller.handler = server.sink
    server.start()
    yield server
    server.stop()


def events(count: int) -> list[dict[str, Any]]:
    when = (datetime.now(UTC) - timedelta(minutes=2)).isoformat()
    return [
        {
            "source": "crm",
            "external_id": f"crash-{n}",
            "channel": "phone",
            "service": "waste-and-recycling",
            "occurred_at": when,
            "customer": {"email": f"resident{n}@example.org"},
        }
        for n in range(count)
    ]


async def invite(settings: Settings, db: TestDatabase, auth: dict[str, str], count: int) -> None:
    await db.set_policy(InvitationPolicy(delay=timedelta(0), quiet_hours={}, reminder_after=None))
    app = create_app(settings, worker=False)
    async with AsyncTestClient(app=app, base_url="http://testserver.local") as client:
        answer = await client.post("/api/v1/contacts/batch", json={"events": events(count)}, headers=auth)
    assert answer.status_code == 200 and answer.json()["accepted"] == count, answer.text[:500]


class WorkerProcess:
    """One `civicvoice worker` process, forked by the fork server (see worker_forkserver)."""

    def __init__(self, server: WorkerProcesses, pid: int) -> None:
        self.server = server
        self.pid = pid
        self.status: int | None = None

    def send_signal(self, signum: int) -> None:
        os.kill(self.pid, signum)

    def wait(self) -> int:
        if self.status is None:
            self.status = self.server.ask(f"wait {self.pid}")
        return self.status


class WorkerProcesses:
    """`civicvoice worker` processes against the test's database, SMTP sink and (for SAQ) Redis queue."""

    def __init__(self, settings: Settings, smtp_port: int, lease: float, logs: Path) -> None:
        extra = {
            "CIVICVOICE_SMTP_HOST": "127.0.0.1",
            "CIVICVOICE_SMTP_PORT": str(smtp_port),
            "CIVICVOICE_SMTP_SECURITY": "none",
            "CIVICVOICE_BASE_URL": settings.base_url,
            "CIVICVOICE_WORKER_POLL_SECONDS": "0.05",
            "CIVICVOICE_JOB_LEASE_SECONDS": str(lease),
            "CIVICVOICE_LOG_LEVEL": "ERROR",
            "CIVICVOICE_JOB_BACKEND": settings.job_backend,
        }
        if settings.job_backend == "saq":
            extra |= {
                "CIVICVOICE_REDIS_URL": settings.redis_url,
                "CIVICVOICE_SAQ_QUEUE": settings.saq_queue,
                "CIVICVOICE_SAQ_CONCURRENCY": str(settings.saq_concurrency),
            }
        with (logs / "workers.log").open("wb") as log:
            self.server = subprocess.Popen(
                [sys.executable, "-m", "tests.integration.worker_forkserver"],
                env=env_for(settings, **extra),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
            )
        self.started: list[WorkerProcess] = []

    def ask(self, command: str, timeout: float = 120.0) -> int:
        assert self.server.stdin is not None and self.server.stdout is not None
        self.server.stdin.write(f"{command}\n".encode())
        self.server.stdin.flush()
        # A worker that never exits fails the test instead of hanging the suite.
        ready, _, _ = io_select.select([self.server.stdout], [], [], timeout)
        assert ready, f"no answer to {command!r} within {timeout:.0f} s; see workers.log in the test's tmp_path"
        answer = self.server.stdout.readline()
        assert answer, "the worker fork server stopped; see workers.log in the test's tmp_path"
        return int(answer)

    def start(self) -> WorkerProcess:
        process = WorkerProcess(self, self.ask("start"))
        self.started.append(process)
        return process

    def close(self) -> None:
        for process in self.started:
            if process.status is None:
                with contextlib.suppress(ProcessLookupError):
                    process.send_signal(signal.SIGKILL)
                process.wait()
        assert self.server.stdin is not None and self.server.stdout is not None
        self.server.stdin.close()
        self.server.wait(timeout=10)
        self.server.stdout.close()


@pytest.fixture
def workers(job_backend: JobBackend, tmp_path: Path) -> Iterator[list[WorkerProcesses]]:
    made: list[WorkerProcesses] = []
    yield made
    for group in made:
        group.close()


async def sent_count(db: TestDatabase) -> int:
    async with db.sessions() as session:
        return int(
            await session.scalar(
                select(func.count()).select_from(Invitation).where(Invitation.state == InvitationState.sent)
            )
            or 0
        )


async def settled(db: TestDatabase, count: int) -> bool:
    """Every invitation sent and every send job done (a job killed after its commit is reclaimed and finishes)."""
    async with db.sessions() as session:
        done = await session.scalar(
            select(func.count()).select_from(Job).where(Job.name == SEND_INVITATION_JOB, Job.state == DONE)
        )
    return done == count and await sent_count(db) == count


async def wait_until(check: Any, *, within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within:.0f} s waiting until {what}")
        await asyncio.sleep(0.05)


def by_message_id(messages: list[EmailMessage]) -> collections.Counter[str]:
    return collections.Counter(str(m["Message-ID"]) for m in messages)


@pytest.fixture
async def crash_settings(job_backend: JobBackend, sink_server: SmtpServer, catalogue: None) -> Settings:
    # Two sends at once per SAQ worker process, so two processes share even a handful of invitations.
    return job_backend.settings.with_changes(
        smtp_host="127.0.0.1", smtp_port=sink_server.port, smtp_security="none", saq_concurrency=2
    )


async def test_a_worker_killed_at_random_points_loses_nothing(
    crash_settings: Settings,
    db: TestDatabase,
    auth: dict[str, str],
    sink_server: SmtpServer,
    workers: list[WorkerProcesses],
    tmp_path: Path,
) -> None:
    await invite(crash_settings, db, auth, INVITATIONS)
    seed = random.randrange(1 << 30)  # noqa: S311 - kill timing, not security
    rng = random.Random(seed)  # noqa: S311
    group = WorkerProcesses(crash_settings, sink_server.port, lease=2.0, logs=tmp_path)
    workers.append(group)
    kills = 0
    while kills < KILLS:
        before = len(sink_server.messages)
        process = group.start()
        # A random point in the send loop: after a few accepted messages, plus a fraction of one send (during
        # the claim, the SMTP conversation, between the server's acceptance and the commit, ...).
        target = before + rng.randint(1, 10)

        async def sent_enough(target: int = target) -> bool:
            return len(sink_server.messages) >= target

        await wait_until(sent_enough, within=30, what="the restarted worker sends")
        await asyncio.sleep(rng.uniform(0.0, 0.05))
        process.send_signal(signal.SIGKILL)
        assert process.wait() == -signal.SIGKILL
        kills += 1
    assert await sent_count(db) < INVITATIONS, "all sent before the tenth kill: the test would prove nothing"
    final = group.start()

    async def all_settled() -> bool:
        return await settled(db, INVITATIONS)

    try:
        await wait_until(all_settled, within=60, what=f"all {INVITATIONS} invitations are sent")
    except AssertionError:
        jobs = collections.Counter((j.state, j.attempts) for j in await db.all(Job) if j.name == SEND_INVITATION_JOB)
        states = collections.Counter(i.state for i in await db.all(Invitation))
        raise AssertionError(f"not settled: jobs {dict(jobs)}, invitations {dict(states)}") from None
    final.send_signal(signal.SIGTERM)
    assert final.wait() == 0

    invitations = await db.all(Invitation)
    expected = {f"<invitation.{i.id}@example.gov.uk>" for i in invitations}
    assert {i.message_ref for i in invitations} == expected
    counts = by_message_id(sink_server.messages)
    assert set(counts) == expected, "every invitation reached the server, and nothing else did"
    duplicates = sum(counts.values()) - INVITATIONS
    print(f"\n{crash_settings.job_backend} backend: {kills} SIGKILLs, {duplicates} duplicate(s), seed {seed}")
    # A duplicate is a resend after a kill between acceptance and commit, so its job and invitation show the
    # extra attempt, and it carries the same Message-ID (counted per Message-ID above).
    attempts = {i.message_ref: i.send_attempts for i in invitations}
    for message_id, seen in counts.items():
        if seen > 1:
            assert attempts[message_id] >= seen
    concurrency = crash_settings.saq_concurrency if crash_settings.job_backend == "saq" else 1
    assert duplicates <= kills * concurrency
    jobs = [j for j in await db.all(Job) if j.name == SEND_INVITATION_JOB]
    assert len(jobs) == INVITATIONS and all(j.state == DONE for j in jobs)


async def test_two_workers_and_a_provider_slower_than_the_lease_send_each_invitation_once(
    crash_settings: Settings,
    db: TestDatabase,
    auth: dict[str, str],
    sink_server: SmtpServer,
    workers: list[WorkerProcesses],
    tmp_path: Path,
) -> None:
    count, lease, delay = 4, 1.5, 2.5
    await invite(crash_settings, db, auth, count)
    assert isinstance(sink_server.sink, SlowSink)
    sink_server.sink.delay = delay  # every message takes longer than the lease
    group = WorkerProcesses(crash_settings, sink_server.port, lease=lease, logs=tmp_path)
    workers.append(group)
    first, second = group.start(), group.start()

    async def all_settled() -> bool:
        return await settled(db, count)

    await wait_until(all_settled, within=60, what=f"all {count} invitations are sent")
    for process in (first, second):
        process.send_signal(signal.SIGTERM)
    assert [first.wait(), second.wait()] == [0, 0]
    counts = by_message_id(sink_server.messages)
    assert len(counts) == count and set(counts.values()) == {1}, counts
    jobs = [j for j in await db.all(Job) if j.name == SEND_INVITATION_JOB]
    assert all(j.state == DONE and j.attempts == 1 for j in jobs)
    assert len({j.worker for j in jobs}) == 2, "both workers took part"
