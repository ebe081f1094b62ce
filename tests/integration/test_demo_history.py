"""The demo's 13 months of history: realistic spread over time and channels, every workspace fed, nothing to send."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from sqlalchemy import func, select

from civicvoice.app import build_services, features
from civicvoice.core.clock import utcnow
from civicvoice.core.db import unit_of_work
from civicvoice.core.jobs import Job
from civicvoice.core.settings import Settings
from civicvoice.demo import load_demo
from civicvoice.demo_history import MONTHS, load_history
from feedback.actions import ActionLink, ImprovementAction
from feedback.callbacks import Callback
from feedback.cases import ComplaintCase
from feedback.models import CommentClassification, CommentScore
from feedback.quality import Evaluation
from feedback.scorecard.formulas import Status
from feedback.scorecard.service import Scorecard
from privacy.audit_chain import seal, verify
from privacy.keyring import Keyring
from surveys.models import Contact, Invitation, Response
from surveys.sending import SEND_INVITATION_JOB
from tests.integration.support import TestDatabase


async def test_history_spans_thirteen_months_feeds_every_workspace_and_sends_nothing(
    settings: Settings, db: TestDatabase
) -> None:
    async with unit_of_work(db.sessions) as session:
        assert await load_demo(session) is not None
    services = await build_services(settings, db.sessions, features())
    async with unit_of_work(db.sessions) as session:
        counts = await load_history(session, services, per_month=40, seed=7)

    now = utcnow()
    contacts = await db.all(Contact)
    assert len(contacts) == counts.contacts > 13 * 25
    months = Counter((c.occurred_at.year, c.occurred_at.month) for c in contacts)
    assert len(months) == MONTHS  # every month of the year and this one
    assert all(c.occurred_at < now for c in contacts)
    assert min(c.occurred_at for c in contacts) < now - timedelta(days=330)
    assert all(timedelta(0) < c.received_at - c.occurred_at < timedelta(minutes=1) for c in contacts)
    # The phone's share falls from the oldest months to the newest.
    ordered = sorted(months)
    phone = Counter((c.occurred_at.year, c.occurred_at.month) for c in contacts if c.channel == "phone")
    early = sum(phone[m] for m in ordered[:4]) / sum(months[m] for m in ordered[:4])
    late = sum(phone[m] for m in ordered[-4:]) / sum(months[m] for m in ordered[-4:])
    assert early > late

    # Answers dated after their invitation, within the history; no invitation of the past is left to send.
    responses = await db.all(Response)
    assert len(responses) == counts.responses > 0
    invitations = {i.id: i for i in await db.all(Invitation)}
    for response in responses:
        invitation = invitations[response.invitation_id]
        assert invitation.sent_at is not None and invitation.sent_at <= response.submitted_at <= now + timedelta(days=3)
        assert invitation.responded_at == response.submitted_at
    assert {i.state for i in invitations.values()} <= {"delivered", "expired"}
    async with db.sessions() as session:
        pending = await session.scalar(
            select(func.count()).select_from(Job).where(Job.name == SEND_INVITATION_JOB, Job.state == "queued")
        )
        assert pending == 0

    # Comments scored and classified; complaints became cases, closed ones answer improvement actions.
    assert await db.count(CommentScore) == counts.comments > 0
    classes = Counter(c.comment_class for c in await db.all(CommentClassification))
    assert classes["complaint"] and classes["compliment"] and classes["suggestion"]
    cases = await db.all(ComplaintCase)
    assert len(cases) == counts.cases > 0
    assert any(c.status == "closed" for c in cases)
    assert await db.count(ImprovementAction) == counts.actions
    assert await db.count(ActionLink) > 0
    evaluations = await db.all(Evaluation)
    assert len(evaluations) == counts.evaluations > 0
    assert all(e.evaluated_at <= now for e in evaluations)
    callbacks = await db.all(Callback)
    assert len(callbacks) == counts.callbacks
    assert all(c.done_at is not None for c in callbacks if c.raised_at < now - timedelta(days=14))

    # The scorecard is filled for every month: last month's figures have values, targets and a status, and the
    # figures other systems hold were entered for it.
    card = services.get(Scorecard)
    last_month = (now.replace(day=1) - timedelta(days=1)).date().replace(day=1)
    async with db.sessions() as session:
        report = await card.report(session, last_month, await card.scope(session))
    satisfaction = report.figure("customer-satisfaction")
    assert satisfaction.value is not None and satisfaction.count > 0
    assert satisfaction.target is not None and satisfaction.status is not Status.no_data
    assert report.figure("ict-reliability").value is not None
    assert report.figure("average-handling-time").value is not None

    # Everything the history did went through the audited services: the chain still verifies once sealed.
    keyring = services.get(Keyring)
    async with unit_of_work(db.sessions) as session:
        await seal(session, keyring)
    async with db.sessions() as session:
        result = await verify(session, keyring)
    assert result.ok and result.checked > 0 and result.unsealed == 0, result
