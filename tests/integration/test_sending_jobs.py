"""Sending under the job engine's rules: a live lease fences the send, a dead send always closes the invitation
as failed with its reason, expiry and mail-file pruning run as declared crons. On both job backends."""

from __future__ import annotations

import os
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import update

from civicvoice.app import create_app
from civicvoice.core.audit import Actor
from civicvoice.core.clock import utcnow
from civicvoice.core.db import unit_of_work
from civicvoice.core.jobs import DEAD, DONE, Job, JobContext, RetryLater, Worker, retry_job
from civicvoice.core.settings import Settings
from surveys.channels.email import EmailChannel
from surveys.models import Invitation, InvitationState
from surveys.sending import SEND_INVITATION_JOB, InvitationSender
from tests.integration.job_backends import JobBackend
from tests.integration.smtp import SmtpServer, free_port
from tests.integration.support import TestDatabase

Client = AsyncTestClient[Litestar]


def contact(external_id: str, email: str) -> dict[str, Any]:
    return {
        "source": "crm",
        "external_id": external_id,
        "channel": "phone",
        "service": "waste-and-recycling",
        "occurred_at": (datetime.now(UTC) - timedelta(minutes=2)).isoformat(),
        "customer": {"email": email},
    }


async def report(client: Client, auth: dict[str, str], external_id: str = "c1", email: str = "r1@example.org") -> str:
    answer = (await client.post("/api/v1/contacts", json=contact(external_id, email), headers=auth)).json()
    assert answer["decision"]["invite"] is True, answer
    return str(answer["invitation_id"])


def worker_for(app: Litestar, db: TestDatabase, backend: JobBackend, **kw: Any) -> Worker:
    return backend.worker(app.state.jobs, db.sessions, app.state.services, **kw)


async def send_job(db: TestDatabase) -> Job:
    [job] = [j for j in await db.all(Job) if j.name == SEND_INVITATION_JOB]
    return job


async def last_attempt(db: TestDatabase) -> None:
    async with unit_of_work(db.sessions) as session:
        await session.execute(update(Job).where(Job.name == SEND_INVITATION_JOB).values(max_attempts=1))


async def test_an_invitation_sending_under_a_live_lease_is_not_sent_by_another_worker(
    loop_client: Client, loop_app: Litestar, auth: dict[str, str], smtp: SmtpServer, db: TestDatabase
) -> None:
    invitation_id = uuid.UUID(await report(loop_client, auth))
    holder = Worker(loop_app.state.jobs, db.sessions, loop_app.state.services, name="holder")
    [job] = await holder.claim()
    async with unit_of_work(db.sessions) as session:  # the holder committed "sending", then stalled at SMTP
        await session.execute(
            update(Invitation).where(Invitation.id == invitation_id).values(state=InvitationState.sending)
        )
    sender = loop_app.state.services.get(InvitationSender)

    def ctx_of(worker: str) -> JobContext:
        return JobContext(job.id, job.name, job.attempts, db.sessions, loop_app.state.services, 8, worker=worker)

    with pytest.raises(RetryLater):  # the intruder's job run neither sends nor counts as done
        await sender.send(ctx_of("intruder"), invitation_id)
    assert smtp.messages == []
    [invitation] = await db.all(Invitation)
    assert invitation.state == InvitationState.sending
    # The holder of the live lease may (re)send: same invitation, same Message-ID.
    assert (await sender.send(ctx_of("holder"), invitation_id)).state == "sent"
    assert [m["Message-ID"] for m in smtp.messages] == [f"<invitation.{invitation_id}@example.gov.uk>"]


async def test_any_error_on_the_last_attempt_leaves_the_invitation_failed_and_a_retry_sends_it(
    loop_client: Client,
    loop_app: Litestar,
    auth: dict[str, str],
    smtp: SmtpServer,
    db: TestDatabase,
    job_backend: JobBackend,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    invitation_id = await report(loop_client, auth)
    await last_attempt(db)

    def broken(self: EmailChannel, message: Any) -> Any:
        raise LookupError(f"template missing for {message.recipient}")

    with monkeypatch.context() as patched:
        patched.setattr(EmailChannel, "build", broken)
        await worker_for(loop_app, db, job_backend).run_due()
    job = await send_job(db)
    assert job.state == DEAD and (job.last_error or "").startswith("LookupError")
    [invitation] = await db.all(Invitation)
    assert invitation.state == InvitationState.failed and invitation.state_changed_at is not None
    assert invitation.failure is not None and invitation.failure.startswith("technical: LookupError")
    assert "r1@example.org" not in invitation.failure and "r1@example.org" not in (job.last_error or "")
    assert smtp.messages == []

    # An administrator retries the dead job once the fault is fixed: the invitation is queued and sent.
    async with unit_of_work(db.sessions) as session:
        await retry_job(session, loop_app.state.jobs, job.id, actor=Actor.cli())
    [invitation] = await db.all(Invitation)
    assert invitation.state == InvitationState.queued and invitation.failure is None
    await worker_for(loop_app, db, job_backend).run_due()
    [invitation] = await db.all(Invitation)
    assert invitation.state == InvitationState.sent
    assert [m["Message-ID"] for m in smtp.messages] == [f"<invitation.{invitation_id}@example.gov.uk>"]


async def test_a_send_whose_worker_dies_on_the_last_attempt_leaves_the_invitation_failed(
    loop_client: Client,
    loop_app: Litestar,
    auth: dict[str, str],
    smtp: SmtpServer,
    db: TestDatabase,
    job_backend: JobBackend,
) -> None:
    await report(loop_client, auth)
    await last_attempt(db)
    killed = Worker(loop_app.state.jobs, db.sessions, loop_app.state.services, name="killed")
    [job] = await killed.claim()
    async with unit_of_work(db.sessions) as session:  # killed after committing "sending"
        await session.execute(update(Invitation).values(state=InvitationState.sending))
    later = utcnow() + timedelta(hours=1)
    await worker_for(loop_app, db, job_backend, name="survivor").run_due(now=later)
    job = await send_job(db)
    assert job.state == DEAD and (job.last_error or "").startswith("LeaseLapsed")
    [invitation] = await db.all(Invitation)
    assert invitation.state == InvitationState.failed
    assert invitation.failure is not None and invitation.failure.startswith("technical: LeaseLapsed")
    assert smtp.messages == []


async def test_a_refused_send_on_the_last_attempt_is_failed_with_its_reason(
    settings: Settings, catalogue: None, auth: dict[str, str], db: TestDatabase, job_backend: JobBackend
) -> None:
    app = create_app(
        settings.with_changes(smtp_host="127.0.0.1", smtp_port=free_port(), smtp_security="none"), worker=False
    )
    async with AsyncTestClient(app=app, base_url="http://testserver.local") as client:
        await report(client, auth)
        await last_attempt(db)
        await worker_for(app, db, job_backend).run_due()
    job = await send_job(db)
    assert job.state == DONE  # the provider's refusal is the outcome; nothing for an administrator to retry
    [invitation] = await db.all(Invitation)
    assert invitation.state == InvitationState.failed
    assert invitation.failure is not None and invitation.failure.startswith("delivery: SMTP delivery failed")


async def test_invitations_past_their_expiry_are_expired_by_the_cron(
    loop_client: Client,
    loop_app: Litestar,
    auth: dict[str, str],
    smtp: SmtpServer,
    db: TestDatabase,
    job_backend: JobBackend,
) -> None:
    ids = [await report(loop_client, auth, f"c{n}", f"r{n}@example.org") for n in range(4)]
    worker = worker_for(loop_app, db, job_backend)
    await worker.run_due()
    past = utcnow() - timedelta(minutes=1)
    answered, late, in_time, in_flight = (uuid.UUID(i) for i in ids)
    async with unit_of_work(db.sessions) as session:
        await session.execute(
            update(Invitation).where(Invitation.id.in_([answered, late, in_flight])).values(expires_at=past)
        )
        await session.execute(update(Invitation).where(Invitation.id == answered).values(responded_at=past))
        await session.execute(
            update(Invitation).where(Invitation.id == in_flight).values(state=InvitationState.sending)
        )
    before = utcnow()
    await worker.schedule_crons()
    await worker.run_due()
    states = {i.id: (i.state, i.state_changed_at) for i in await db.all(Invitation)}
    assert states[late][0] == InvitationState.expired and states[late][1] is not None and states[late][1] >= before
    assert states[answered][0] == InvitationState.sent
    assert states[in_time][0] == InvitationState.sent
    assert states[in_flight][0] == InvitationState.sending  # its send job settles it
    assert "invitations.expire" in {j.name for j in await db.all(Job) if j.state == DONE}


async def test_file_backend_mail_is_deleted_after_seven_days(
    settings: Settings, catalogue: None, auth: dict[str, str], db: TestDatabase, job_backend: JobBackend
) -> None:
    app = create_app(settings, worker=False)
    async with AsyncTestClient(app=app, base_url="http://testserver.local") as client:
        await report(client, auth, "c1", "r1@example.org")
        await report(client, auth, "c2", "r2@example.org")
        worker = worker_for(app, db, job_backend)
        await worker.run_due()
        old, recent = sorted(settings.mail_dir.glob("*.eml"))
        eight_days_ago = time.time() - 8 * 86400
        os.utime(old, (eight_days_ago, eight_days_ago))
        stray = settings.mail_dir / "half-written.tmp"
        stray.write_bytes(b"")
        os.utime(stray, (eight_days_ago, eight_days_ago))
        await worker.schedule_crons()
        await worker.run_due()
    assert sorted(settings.mail_dir.iterdir()) == [recent]
