"""Every comment is classified when it is scored; a reviewer confirms or corrects it in one action from the
inbox, and the corrections are the classifier's measured precision and recall."""

from __future__ import annotations

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from civicvoice.core.audit import AuditEvent
from feedback.models import CommentClassification
from tests.integration.smtp import SmtpServer
from tests.integration.support import TestDatabase
from tests.integration.test_staff_login import csrf_from, make_user, sign_in
from tests.integration.test_staff_recent_feedback import give_feedback
from tests.integration.test_survey_loop import worker_for

Client = AsyncTestClient[Litestar]


async def test_comments_are_classified_then_reviewed_and_measured(
    loop_client: Client, loop_app: Litestar, auth: dict[str, str], db: TestDatabase, smtp: SmtpServer
) -> None:
    await give_feedback(
        loop_client,
        loop_app,
        auth,
        db,
        smtp,
        1,
        service="waste-and-recycling",
        agent="A1",
        improve="The bin was missed three weeks running and nobody called me back. Terrible service.",
    )
    await worker_for(loop_app, db).run_due()  # the scoring job
    classified = await db.all(CommentClassification)
    assert len(classified) == 1
    found = classified[0]
    assert found.comment_class == "complaint" and found.classifier_version == "cv-classify-1"
    assert found.reviewed_class is None and 0 < found.confidence <= 1
    await make_user(db, "quality_reviewer")
    await sign_in(loop_client, "quality_reviewer@council.gov.uk")
    inbox = await loop_client.get("/staff/feedback")
    assert "Complaint" in inbox.text and "Confirm or correct" in inbox.text
    # Corrected to a suggestion with the communication theme, in one action, back to the same page.
    saved = await loop_client.post(
        f"/staff/feedback/comments/{found.answer_id}/review",
        data={
            "csrf_token": csrf_from(inbox.text),
            "comment_class": "suggestion",
            "themes": ["communication", "repairs"],
            "back": "/staff/feedback?page=1",
        },
        follow_redirects=False,
    )
    assert saved.status_code == 303 and saved.headers["location"] == "/staff/feedback?page=1"
    async with db.sessions() as session:
        row = await session.scalar(select(CommentClassification))
        audited = await session.scalar(select(AuditEvent).where(AuditEvent.action == "feedback.comment_reviewed"))
    assert (
        row is not None and row.reviewed_class == "suggestion" and row.reviewed_themes == ["communication", "repairs"]
    )
    assert audited is not None and audited.detail == {"class": "suggestion", "agreed": False}
    assert "(reviewed)" in (await loop_client.get("/staff/feedback")).text
    report = await loop_client.get("/staff/feedback/classifier")
    assert report.status_code == 200 and "Measured on 1 comment" in report.text
    # A class that does not exist changes nothing.
    bad = await loop_client.post(
        f"/staff/feedback/comments/{found.answer_id}/review",
        data={"csrf_token": csrf_from(inbox.text), "comment_class": "rant"},
    )
    assert bad.status_code == 422
    async with db.sessions() as session:
        again = await session.scalar(select(CommentClassification))
    assert again is not None and again.reviewed_class == "suggestion"


async def test_agents_cannot_review(client: Client, db: TestDatabase) -> None:
    await make_user(db, "agent", agent_ref="A1")
    await sign_in(client, "agent@council.gov.uk")
    inbox = await client.get("/staff/feedback")
    assert "Confirm or correct" not in inbox.text
    refused = await client.get("/staff/feedback/classifier")
    assert refused.status_code == 403
