"""A complaint becomes a case with working-day deadlines; it is acknowledged, answered, escalated to a different
officer and closed; while open its complainant is not surveyed and their records are held against erasure."""

from __future__ import annotations

from datetime import date

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from civicvoice.app import build_services, extensions, features
from civicvoice.core.audit import Actor
from civicvoice.core.db import unit_of_work
from civicvoice.core.errors import Conflict, InvalidInput
from civicvoice.core.settings import Settings
from feedback.cases import (
    CaseStatus,
    ComplaintCase,
    acknowledge,
    answer_stage,
    close,
    escalate,
    open_case,
    with_open_complaints,
)
from feedback.models import CommentClassification
from privacy.deadlines import WorkingCalendar
from privacy.erasure import ErasureBlocked, erase
from privacy.holds import LEGAL_HOLDS
from privacy.vault import Vault
from surveys.models import Answer
from tests.integration.smtp import SmtpServer
from tests.integration.support import TestDatabase
from tests.integration.test_staff_login import csrf_from, make_user, sign_in
from tests.integration.test_staff_recent_feedback import give_feedback
from tests.integration.test_survey_loop import contact, worker_for

Client = AsyncTestClient[Litestar]
CALENDAR = WorkingCalendar.of()
OFFICER = Actor("staff", "officer-1")


async def a_complaint(
    client: Client, app: Litestar, auth: dict[str, str], db: TestDatabase, smtp: SmtpServer
) -> Answer:
    await give_feedback(
        client,
        app,
        auth,
        db,
        smtp,
        1,
        service="waste-and-recycling",
        agent="A1",
        improve="Nobody came to fix the broken bin, three weeks now and no reply. Disgraceful.",
    )
    await worker_for(app, db).run_due()
    async with db.sessions() as session:
        answer = await session.scalar(select(Answer).where(Answer.text_ciphertext.is_not(None)))
    assert answer is not None
    return answer


async def test_a_case_goes_through_both_stages_on_working_days(
    loop_client: Client,
    loop_app: Litestar,
    auth: dict[str, str],
    db: TestDatabase,
    smtp: SmtpServer,
    settings: Settings,
) -> None:
    answer = await a_complaint(loop_client, loop_app, auth, db, smtp)
    services = await build_services(settings, db.sessions, features())
    vault = services.get(Vault)
    async with unit_of_work(db.sessions) as session:
        # Friday 18 December 2026: 5 working days skip the weekend, Christmas Day and Boxing Day (observed).
        case = await open_case(
            session, CALENDAR, answer_id=answer.id, owner_id="officer-1", actor=OFFICER, today=date(2026, 12, 18)
        )
        assert case.acknowledge_due == date(2026, 12, 29) and case.status == CaseStatus.received
        with pytest.raises(Conflict, match="already has case"):
            await open_case(session, CALENDAR, answer_id=answer.id, owner_id="officer-1", actor=OFFICER)
        subject_id = case.subject_id
        assert subject_id is not None and subject_id in await with_open_complaints(session, [subject_id])
        await acknowledge(session, CALENDAR, case, actor=OFFICER, today=date(2026, 12, 21))
        assert case.stage1_due == date(2027, 1, 7)  # 10 working days: not 25, 28 December or 1 January
        with pytest.raises(InvalidInput, match="upheld"):
            await answer_stage(session, vault, case, outcome="maybe", letter="Dear resident", actor=OFFICER)
        await answer_stage(
            session,
            vault,
            case,
            outcome="partly_upheld",
            letter="Dear resident, ...",
            actor=OFFICER,
            today=date(2027, 1, 5),
        )
        assert case.status == CaseStatus.stage1_answered
        with pytest.raises(InvalidInput, match="different officer"):
            await escalate(session, CALENDAR, case, stage2_owner_id="officer-1", actor=OFFICER)
        await escalate(session, CALENDAR, case, stage2_owner_id="officer-2", actor=OFFICER, today=date(2027, 1, 11))
        assert case.stage == 2 and case.stage2_due == date(2027, 2, 8)
    # Open: the complainant is not surveyed meanwhile, whether the next contact comes alone or in a batch (where
    # every known person's open complaints are looked up at once).
    again = contact("c1-again", email="resident1@example.org")
    again.update(service="waste-and-recycling")
    alone = await loop_client.post("/api/v1/contacts", json=again, headers=auth)
    assert alone.status_code == 202 and alone.json()["decision"]["reason"] == "open_complaint", alone.text
    batch = [
        {**contact(f"c1-batch-{n}", email=email), "service": "waste-and-recycling"}
        for n, email in enumerate(("someone.else@example.org", "resident1@example.org"))
    ]
    answered = await loop_client.post("/api/v1/contacts/batch", json={"events": batch}, headers=auth)
    assert answered.status_code == 200, answered.text
    assert [r["decision"]["reason"] for r in answered.json()["results"]] == ["invited", "open_complaint"]
    # Open: erasure of the complainant is blocked with the case named.
    contributions = extensions(features())
    with pytest.raises(ErasureBlocked, match=case.reference):
        async with unit_of_work(db.sessions) as session:
            await erase(session, settings, subject_id, actor=OFFICER, holds=contributions.items(LEGAL_HOLDS))
    async with unit_of_work(db.sessions) as session:
        stored = await session.get(ComplaintCase, case.id)
        assert stored is not None
        await answer_stage(session, vault, stored, outcome="upheld", letter="Stage 2 answer", actor=OFFICER)
        assert stored.status == CaseStatus.closed and stored.closed_at is not None
        assert subject_id not in await with_open_complaints(session, [subject_id])
        with pytest.raises(Conflict):
            await close(session, stored, actor=OFFICER)


async def test_the_case_pages(
    loop_client: Client, loop_app: Litestar, auth: dict[str, str], db: TestDatabase, smtp: SmtpServer
) -> None:
    answer = await a_complaint(loop_client, loop_app, auth, db, smtp)
    async with db.sessions() as session:
        classified = await session.scalar(select(CommentClassification))
    assert classified is not None and classified.comment_class == "complaint"
    await make_user(db, "quality_reviewer")
    await make_user(db, "quality_reviewer", email="second@council.gov.uk")
    await make_user(db, "service_manager", service_scope=["parking"])
    await sign_in(loop_client, "quality_reviewer@council.gov.uk")
    inbox = await loop_client.get("/staff/feedback")
    assert "Open a complaint case" in inbox.text
    opened = await loop_client.post(
        "/staff/cases/new",
        data={"csrf_token": csrf_from(inbox.text), "answer_id": str(answer.id)},
        follow_redirects=False,
    )
    assert opened.status_code == 303
    page = await loop_client.get(opened.headers["location"])
    token = csrf_from(page.text)
    assert "Record the acknowledgement" in page.text
    base = opened.headers["location"]
    for action, data in (
        ("acknowledge", {}),
        ("notes", {"text": "Called Mrs Jones back"}),
        ("answer", {"outcome": "not_upheld", "letter": "Our answer"}),
    ):
        done = await loop_client.post(f"{base}/{action}", data={"csrf_token": token, **data}, follow_redirects=False)
        assert done.status_code == 303, (action, done.text)
    refused = await loop_client.post(
        f"{base}/escalate", data={"csrf_token": token, "stage2_owner": "quality_reviewer@council.gov.uk"}
    )
    assert refused.status_code == 422 and "different officer" in refused.text
    escalated = await loop_client.post(
        f"{base}/escalate", data={"csrf_token": token, "stage2_owner": "second@council.gov.uk"}, follow_redirects=False
    )
    assert escalated.status_code == 303
    shown = await loop_client.get(base)
    assert "Stage 2" in shown.text and "Called Mrs Jones back" in shown.text and "Our answer" in shown.text
    unknown = await loop_client.post(f"{base}/explode", data={"csrf_token": token})
    assert unknown.status_code == 404
    listing = await loop_client.get("/staff/cases")
    assert base.rsplit("/", 1)[1] in listing.text
    # A service manager of another service sees neither the case nor its page.
    loop_client.cookies.clear()
    await sign_in(loop_client, "service_manager@council.gov.uk")
    assert base.rsplit("/", 1)[1] not in (await loop_client.get("/staff/cases")).text
    assert (await loop_client.get(base)).status_code == 404
