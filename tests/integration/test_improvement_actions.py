"""Improvement actions: added to the register, linked to the complaints that prompted them, done with evidence,
and published on the public "You said, we did" page; bad input says what to fix and changes nothing."""

from __future__ import annotations

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select

from feedback.actions import ActionLink, ImprovementAction
from tests.integration.smtp import SmtpServer
from tests.integration.support import TestDatabase
from tests.integration.test_complaint_cases import a_complaint
from tests.integration.test_staff_login import csrf_from, make_user, sign_in

Client = AsyncTestClient[Litestar]


async def test_an_action_from_complaint_to_the_public_page(
    loop_client: Client, loop_app: Litestar, auth: dict[str, str], db: TestDatabase, smtp: SmtpServer
) -> None:
    answer = await a_complaint(loop_client, loop_app, auth, db, smtp)
    await make_user(db, "quality_reviewer")
    await sign_in(loop_client, "quality_reviewer@council.gov.uk")
    inbox = await loop_client.get("/staff/feedback")
    token = csrf_from(inbox.text)
    case_page = await loop_client.post(
        "/staff/cases/new", data={"csrf_token": token, "answer_id": str(answer.id)}, follow_redirects=False
    )
    case_reference = case_page.headers["location"].rsplit("/", 1)[1]
    register = await loop_client.get("/staff/actions")
    missing = await loop_client.post("/staff/actions", data={"csrf_token": token, "title": "", "description": "x"})
    assert missing.status_code == 422 and "Give the action a title" in missing.text
    created = await loop_client.post(
        "/staff/actions",
        data={
            "csrf_token": csrf_from(register.text),
            "title": "Text before bin collection",
            "description": "Residents get a text the evening before collection.",
            "due_on": "2099-01-31",
        },
        follow_redirects=False,
    )
    assert created.status_code == 303
    action_path = created.headers["location"]
    for data, expected in (
        ({"case": case_reference}, 303),
        ({"case": case_reference}, 422),  # linked once only
        ({"case": "CC-0000-NOPE"}, 404),
        ({"status": "done"}, 422),  # done needs evidence
        ({"status": "done", "evidence": "Texts went out from 1 March", "published": "yes"}, 422),  # wording missing
        (
            {
                "status": "done",
                "evidence": "Texts went out from 1 March",
                "you_said": "Bins were missed",
                "we_did": "We now text you the evening before",
                "published": "yes",
            },
            303,
        ),
    ):
        answered = await loop_client.post(action_path, data={"csrf_token": token, **data}, follow_redirects=False)
        assert answered.status_code == expected, (data, answered.text[:300])
    async with db.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(ActionLink)) == 1
        action = await session.scalar(select(ImprovementAction))
    assert action is not None and action.status == "done" and action.done_on is not None and action.published
    shown = await loop_client.get(action_path)
    assert case_reference in shown.text
    listing = await loop_client.get("/staff/actions")
    assert "Text before bin collection" in listing.text
    loop_client.cookies.clear()
    public = await loop_client.get("/you-said-we-did")
    assert public.status_code == 200 and "We now text you the evening before" in public.text
    assert case_reference not in public.text and "Texts went out" not in public.text


async def test_comments_that_prompted_an_action_are_linked_from_the_inbox(
    loop_client: Client, loop_app: Litestar, auth: dict[str, str], db: TestDatabase, smtp: SmtpServer
) -> None:
    answer = await a_complaint(loop_client, loop_app, auth, db, smtp)
    await make_user(db, "quality_reviewer")
    token = await sign_in(loop_client, "quality_reviewer@council.gov.uk")
    # No open action: the inbox offers no link.
    assert "Link to an improvement action" not in (await loop_client.get("/staff/feedback")).text
    created = await loop_client.post(
        "/staff/actions",
        data={"csrf_token": token, "title": "Repair bins within a week", "description": "A repair rota."},
        follow_redirects=False,
    )
    reference = created.headers["location"].rsplit("/", 1)[1]
    inbox = await loop_client.get("/staff/feedback")
    assert "Link to an improvement action" in inbox.text and reference in inbox.text
    unchosen = await loop_client.post(
        f"/staff/feedback/comments/{answer.id}/action", data={"csrf_token": token, "action": ""}
    )
    assert unchosen.status_code == 422
    linked = await loop_client.post(
        f"/staff/feedback/comments/{answer.id}/action",
        data={"csrf_token": token, "action": reference, "back": "/staff/feedback?page=1"},
        follow_redirects=False,
    )
    assert linked.status_code == 303 and linked.headers["location"] == "/staff/feedback?page=1"
    again = await loop_client.post(
        f"/staff/feedback/comments/{answer.id}/action", data={"csrf_token": token, "action": reference}
    )
    assert again.status_code == 409
    page = await loop_client.get(f"/staff/actions/{reference}")
    # The comment shows on the action's page, redacted like every list of comments.
    assert "Nobody came to fix the broken bin" in page.text
    register = await loop_client.get("/staff/actions")
    assert "Comments" in register.text
