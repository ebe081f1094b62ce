"""Seeing a comment as written is a permission of its own, asks a reason and is audited with the reason
encrypted; every list shows comments redacted; and no role's pages leak another service's or agent's data."""

from __future__ import annotations

import asyncio
import json
from datetime import date

from click.testing import CliRunner
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from civicvoice.cli import cli
from civicvoice.core.audit import Actor, AuditEvent
from civicvoice.core.db import unit_of_work
from civicvoice.core.settings import Settings
from feedback.callbacks import Callback
from feedback.cases import open_case
from feedback.originals import OriginalTextGrant
from feedback.quality import evaluate
from privacy.audit_reasons import read_reason
from privacy.deadlines import WorkingCalendar
from privacy.vault import Vault
from surveys.models import Answer, Contact, Response, Service
from tests.integration.support import TestDatabase
from tests.integration.test_keys_and_cli import env_for
from tests.integration.test_staff_login import make_user, sign_in
from tests.integration.test_staff_recent_feedback import IDENTIFYING, rows

# isort: split
from tests.integration.test_staff_recent_feedback import feedback  # noqa: F401 - the fixture, by name

Client = AsyncTestClient[Litestar]
REVIEWER = "quality_reviewer@council.gov.uk"
ADMIN = "admin@council.gov.uk"


async def comment_of(db: TestDatabase, service: str, agent: str) -> Answer:
    async with db.sessions() as session:
        answer = await session.scalar(
            select(Answer)
            .join(Response, Response.id == Answer.response_id)
            .join(Contact, Contact.id == Response.contact_id)
            .join(Service, Service.id == Response.service_id)
            .where(Service.slug == service, Contact.agent_ref == agent, Answer.text_ciphertext.is_not(None))
        )
    assert answer is not None
    return answer


async def cli_run(settings: Settings, *args: str) -> tuple[int, str]:
    runner = CliRunner()
    result = await asyncio.to_thread(runner.invoke, cli, list(args), env=env_for(settings))
    return result.exit_code, result.output


async def test_the_original_needs_its_own_permission_a_reason_and_is_audited(
    feedback: Client,  # noqa: F811 - the fixture
    db: TestDatabase,
    settings: Settings,
    loop_app: Litestar,
) -> None:
    await make_user(db, "quality_reviewer", REVIEWER)
    await make_user(db, "admin", ADMIN)
    answer = await comment_of(db, "waste-and-recycling", "A1")
    csrf = await sign_in(feedback, REVIEWER)
    # Without the permission: no link, and the page itself refuses.
    inbox = await feedback.get("/staff/feedback")
    assert "See as written" not in inbox.text and "07700 900123" not in inbox.text
    refused = await feedback.get(f"/staff/feedback/comments/{answer.id}/original")
    assert refused.status_code == 403
    assert refused.json()["type"] == "/problems/needs-original-text-permission"

    # Only an administrator grants it (audited), through the command line.
    code, output = await cli_run(settings, "feedback", "originals", "grant", REVIEWER, "--as", REVIEWER)
    assert code != 0 and "administrator" in output
    code, output = await cli_run(settings, "feedback", "originals", "grant", REVIEWER, "--as", ADMIN)
    assert code == 0, output
    assert json.loads(output.strip().splitlines()[-1]) == {
        "email": REVIEWER,
        "may_see_originals": True,
        "changed": True,
    }
    assert len(await db.all(OriginalTextGrant)) == 1

    # The inbox still shows the comment redacted; the link asks for a reason first.
    inbox = await feedback.get("/staff/feedback")
    assert "See as written" in inbox.text and "07700 900123" not in inbox.text
    ask = await feedback.get(f"/staff/feedback/comments/{answer.id}/original")
    assert ask.status_code == 200 and "07700 900123" not in ask.text and "[phone removed]" in ask.text
    assert ask.headers["cache-control"] == "no-store"
    no_reason = await feedback.post(
        f"/staff/feedback/comments/{answer.id}/original", data={"csrf_token": csrf, "reason": "  "}
    )
    assert no_reason.status_code == 422 and "07700 900123" not in no_reason.text
    assert "Say why you need to see this comment" in no_reason.text

    async def viewings() -> list[AuditEvent]:
        async with db.sessions() as session:
            found = await session.scalars(
                select(AuditEvent).where(AuditEvent.action == "feedback.comment_original_viewed")
            )
            return list(found.all())

    assert await viewings() == []
    reason = "Resident rang to complain again; need the number she gave to call her back"
    shown = await feedback.post(
        f"/staff/feedback/comments/{answer.id}/original", data={"csrf_token": csrf, "reason": reason}
    )
    assert shown.status_code == 200 and IDENTIFYING in shown.text.replace("&#39;", "'")
    assert shown.headers["cache-control"] == "no-store"
    [viewed] = await viewings()
    assert viewed.target_id == str(answer.id) and viewed.reason_ciphertext is not None
    assert reason not in json.dumps(viewed.detail or {})
    vault = loop_app.state.services.get(Vault)
    async with db.sessions() as session:
        assert await read_reason(session, vault, viewed) == reason

    # Revoked: refused again.
    code, _ = await cli_run(settings, "feedback", "originals", "revoke", REVIEWER, "--as", ADMIN)
    assert code == 0
    assert (await feedback.get(f"/staff/feedback/comments/{answer.id}/original")).status_code == 403


async def test_nothing_leaks_across_services_or_agents(
    feedback: Client,  # noqa: F811 - the fixture
    db: TestDatabase,
    settings: Settings,
) -> None:
    """A council-tax manager and agent A2 try every door into waste-and-recycling's and agent A1's data."""
    admin = await make_user(db, "admin", ADMIN)
    manager = await make_user(db, "service_manager", "manager@council.gov.uk", service_scope=["council-tax"])
    agent = await make_user(db, "agent", "agent@council.gov.uk", agent_ref="A2")
    waste = await comment_of(db, "waste-and-recycling", "A1")
    async with unit_of_work(db.sessions) as session:
        for user in (manager, agent):
            session.add(OriginalTextGrant(staff_user_id=user.id, granted_by=str(admin.id)))
        case = await open_case(
            session,
            WorkingCalendar.of(),
            answer_id=waste.id,
            owner_id=str(admin.id),
            actor=Actor.cli(),
            today=date(2026, 12, 1),
        )
        response = await session.get(Response, waste.response_id)
        assert response is not None
        callback = Callback(
            response_id=response.id,
            subject_id=response.subject_id,
            service_id=response.service_id,
            reason="asked",
            due_at=response.submitted_at,
        )
        session.add(callback)
        contact = await session.get(Contact, response.contact_id)
        assert contact is not None
        await evaluate(
            session,
            contact.id,
            {"greeting": 4, "accuracy": 1, "resolution": 1, "courtesy": 1, "data_protection": 4},
            reviewer_id="r1",
            actor=Actor.cli(),
        )
        case_ref, callback_id, contact_id = case.reference, callback.id, contact.id

    feedback.cookies.clear()
    csrf = await sign_in(feedback, "manager@council.gov.uk")
    assert rows((await feedback.get("/staff/feedback?service=waste-and-recycling")).text) == 0
    assert (await feedback.get(f"/staff/feedback/comments/{waste.id}/original")).status_code == 404
    assert (
        await feedback.post(
            f"/staff/feedback/comments/{waste.id}/original",
            data={"csrf_token": csrf, "reason": "Just curious, honestly"},
        )
    ).status_code == 404
    assert (await feedback.get(f"/staff/cases/{case_ref}")).status_code == 404
    assert case_ref not in (await feedback.get("/staff/cases")).text
    assert str(callback_id) not in (await feedback.get("/staff/callbacks")).text
    assert (
        await feedback.post(f"/staff/callbacks/{callback_id}/contact", data={"csrf_token": csrf})
    ).status_code == 404
    assert (
        await feedback.post(f"/staff/callbacks/{callback_id}/done", data={"csrf_token": csrf, "outcome": "resolved"})
    ).status_code == 404
    scores = await feedback.get("/staff/quality/scores")
    assert scores.status_code == 200 and "45.5" not in scores.text and "A1" not in scores.text
    assert (await feedback.get(f"/staff/quality/contacts/{contact_id}")).status_code == 403
    assert (
        await feedback.post(
            f"/staff/feedback/responses/{waste.response_id}/demand",
            data={"csrf_token": csrf, "demand_type": "value"},
        )
    ).status_code == 403

    feedback.cookies.clear()
    csrf = await sign_in(feedback, "agent@council.gov.uk")
    mine = await feedback.get("/staff/feedback")
    assert "bin was missed" not in mine.text and rows(mine.text) == 2  # only A2's two
    assert (await feedback.get(f"/staff/feedback/comments/{waste.id}/original")).status_code == 404
    scores = await feedback.get("/staff/quality/scores")
    assert scores.status_code == 200 and "A1" not in scores.text
    for page in ("/staff/cases", "/staff/callbacks", "/staff/actions", "/staff/quality"):
        assert (await feedback.get(page)).status_code == 403, page
