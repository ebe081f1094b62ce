"""Closing the loop: a very dissatisfied answer or a request to be contacted raises one callback, due within the
set working hours; staff see who to call (audited) and record what happened."""

from __future__ import annotations

from datetime import UTC, datetime

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from civicvoice.core.audit import AuditEvent
from civicvoice.core.db import unit_of_work
from feedback.callbacks import Callback, raise_callbacks
from privacy.deadlines import WorkingCalendar
from tests.integration.smtp import SmtpServer
from tests.integration.support import TestDatabase
from tests.integration.test_staff_login import csrf_from, make_user, sign_in
from tests.integration.test_staff_recent_feedback import give_feedback
from tests.integration.test_survey_loop import contact, links, worker_for

Client = AsyncTestClient[Litestar]


async def test_callbacks_are_raised_once_and_closed(
    loop_client: Client, loop_app: Litestar, auth: dict[str, str], db: TestDatabase, smtp: SmtpServer
) -> None:
    # One very dissatisfied, one satisfied who asks to be contacted, one satisfied who does not.
    await give_feedback(
        loop_client, loop_app, auth, db, smtp, 1, service="council-tax", agent="A1", improve="Awful.", satisfaction=1
    )
    for n, contact_me in ((2, "yes"), (3, "no")):
        event = contact(f"c{n}", email=f"resident{n}@example.org")
        assert (await loop_client.post("/api/v1/contacts", json=event, headers=auth)).status_code == 202
        await worker_for(loop_app, db).run_due()
        survey_path, _ = links(smtp.messages[-1])
        answer = {"satisfaction": "4", "resolved": "yes", "contact_me": contact_me}
        assert (await loop_client.post(survey_path, data=answer, follow_redirects=False)).status_code == 303
    # Friday 20 November 2026, 16:00: 16 working hours (9:00 to 17:00) run to 16:00 on Tuesday, now past.
    friday = datetime(2026, 11, 20, 16, 0, tzinfo=UTC)
    async with unit_of_work(db.sessions) as session:
        assert await raise_callbacks(session, WorkingCalendar.of(), now=friday) == 2
    async with unit_of_work(db.sessions) as session:
        assert await raise_callbacks(session, WorkingCalendar.of(), now=friday) == 0  # once only
    raised = {c.reason: c for c in await db.all(Callback)}
    assert set(raised) == {"very_dissatisfied", "asked"}
    assert raised["asked"].due_at.astimezone(UTC) == datetime(2026, 11, 24, 16, 0, tzinfo=UTC)
    loop_client.cookies.clear()
    await make_user(db, "quality_reviewer")
    await sign_in(loop_client, "quality_reviewer@council.gov.uk")
    page = await loop_client.get("/staff/callbacks")
    assert page.status_code == 200 and "asked to be contacted" in page.text and "Overdue" in page.text
    token = csrf_from(page.text)
    callback = raised["very_dissatisfied"]
    shown = await loop_client.post(f"/staff/callbacks/{callback.id}/contact", data={"csrf_token": token})
    assert shown.status_code == 200 and "resident1@example.org" in shown.text
    bad = await loop_client.post(f"/staff/callbacks/{callback.id}/done", data={"csrf_token": token, "outcome": ""})
    assert bad.status_code == 422 and "Choose what happened" in bad.text
    done = await loop_client.post(
        f"/staff/callbacks/{callback.id}/done",
        data={"csrf_token": token, "outcome": "resolved", "note": "Refund agreed on the phone"},
        follow_redirects=False,
    )
    assert done.status_code == 303
    async with db.sessions() as session:
        stored = await session.get(Callback, callback.id)
        viewed = await session.scalar(select(AuditEvent).where(AuditEvent.action == "feedback.callback.contact_viewed"))
    assert stored is not None and stored.outcome == "resolved" and stored.note_ciphertext is not None
    assert b"Refund" not in stored.note_ciphertext and viewed is not None
    assert "resident1" not in (await loop_client.get("/staff/callbacks")).text
