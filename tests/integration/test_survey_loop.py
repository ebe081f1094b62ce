"""The whole survey loop: contact in, email out through a real SMTP server, page, answer, stored, scored."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import text

from civicvoice.app import create_app
from civicvoice.core.jobs import Job, Worker
from civicvoice.core.settings import Settings
from feedback.models import CommentScore
from privacy.models import DataSubject, SuppressionEntry
from privacy.vault import Vault
from surveys.models import Answer, Invitation, Response
from surveys.rules import InvitationPolicy
from surveys.sending import InvitationSender
from tests.integration.smtp import SmtpServer, free_port
from tests.integration.support import TestDatabase

Client = AsyncTestClient[Litestar]


def worker_for(app: Litestar, db: TestDatabase) -> Worker:
    # The test client runs the app in its own event loop: the worker uses the test's engine, the app's services.
    return Worker(app.state.jobs, db.sessions, app.state.services)


def contact(external_id: str, email: str = "resident@example.org", **customer: Any) -> dict[str, Any]:
    return {
        "source": "crm",
        "external_id": external_id,
        "channel": "phone",
        "service": "waste-and-recycling",
        "occurred_at": (datetime.now(UTC) - timedelta(minutes=2)).isoformat(),
        "customer": {"email": email, "name": "Resident Person", **customer},
    }


def links(message: EmailMessage) -> tuple[str, str]:
    body = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    survey = re.search(r"http://testserver\.local(/s/[A-Za-z0-9_\-]+)", body)
    unsubscribe = re.search(r"http://testserver\.local(/u/[A-Za-z0-9_\-]+)", body)
    assert survey and unsubscribe, body
    return survey.group(1), unsubscribe.group(1)


async def report_and_send(
    client: Client, app: Litestar, auth: dict[str, str], db: TestDatabase, external_id: str = "c1", **kw: Any
) -> dict[str, Any]:
    answer = (await client.post("/api/v1/contacts", json=contact(external_id, **kw), headers=auth)).json()
    await worker_for(app, db).run_due()
    return answer


async def test_whole_loop(
    loop_client: Client, loop_app: Litestar, auth: dict[str, str], smtp: SmtpServer, db: TestDatabase
) -> None:
    decision = await report_and_send(loop_client, loop_app, auth, db)
    assert decision["decision"]["invite"] is True

    [message] = smtp.messages
    assert message["To"] == "resident@example.org"
    assert message["Message-ID"] == f"<invitation.{decision['invitation_id']}@example.gov.uk>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message.get_body(("html",)) is not None and message.get_body(("plain",)) is not None
    survey_path, unsubscribe_path = links(message)
    assert message["List-Unsubscribe"] == f"<http://testserver.local{unsubscribe_path}>"
    [invitation] = await db.all(Invitation)
    assert invitation.state == "sent" and invitation.message_ref == message["Message-ID"]

    # Opening the link (as a mail scanner would) does not use it up.
    for _ in range(2):
        page = await loop_client.get(survey_path)
        assert page.status_code == 200
        assert "What could we do better?" in page.text
        assert page.headers["referrer-policy"] == "no-referrer"
        assert page.headers["cache-control"] == "no-store"

    answers = {
        "satisfaction": "2",
        "resolved": "partly",
        "improve": "I waited 40 minutes on hold and the advisor was rude.",
        "praise": "Nothing",
    }
    done = await loop_client.post(survey_path, data=answers, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/survey/thank-you"
    thanks = await loop_client.get("/survey/thank-you")
    assert thanks.status_code == 200 and "Thank you" in thanks.text

    [response] = await db.all(Response)
    assert (response.satisfaction, response.resolved, response.channel) == (2, "partly", "email")
    stored = {a.question_key: a for a in await db.all(Answer)}
    assert set(stored) == {"satisfaction", "resolved", "improve", "praise"}
    assert stored["improve"].text_ciphertext and b"rude" not in stored["improve"].text_ciphertext
    async with db.sessions() as session:
        dump = repr((await session.execute(text("SELECT * FROM answer"))).all())
    assert "rude" not in dump and "hold" not in dump

    # Scoring was queued with the response and runs in the worker.
    assert "feedback.score_response" in {j.name for j in await db.all(Job)}
    await worker_for(loop_app, db).run_due()
    scores = {s.question_key: s for s in await db.all(CommentScore)}
    assert scores["improve"].label == "negative" and scores["improve"].scorer_version
    assert scores["praise"].label == "negative"  # "Nothing" went well

    # Submitting twice keeps one response.
    again = await loop_client.post(survey_path, data=answers, follow_redirects=False)
    assert again.status_code == 409 and "already" in again.text.lower()
    assert await db.count(Response) == 1


async def test_bad_answers_show_the_error_summary_and_keep_what_was_typed(
    loop_client: Client, loop_app: Litestar, auth: dict[str, str], smtp: SmtpServer, db: TestDatabase
) -> None:
    await report_and_send(loop_client, loop_app, auth, db)
    survey_path, _ = links(smtp.messages[0])
    hostile = "<script>alert('x')</script><img src=x onerror=alert(1)> javascript:alert(1)"
    page = await loop_client.post(survey_path, data={"improve": hostile + "x" * 1200})
    assert page.status_code == 400
    assert "govuk-error-summary" in page.text
    assert "Select how satisfied you were" in page.text
    assert "1,200 characters or fewer" in page.text
    assert "<script>alert" not in page.text and "&lt;script&gt;" in page.text
    assert "<img src=x" not in page.text
    assert await db.count(Response) == 0


async def test_line_breaks_count_once(
    loop_client: Client, loop_app: Litestar, auth: dict[str, str], smtp: SmtpServer, db: TestDatabase
) -> None:
    await report_and_send(loop_client, loop_app, auth, db)
    survey_path, _ = links(smtp.messages[0])
    text_with_breaks = ("a" * 99 + "\r\n") * 12  # 1,200 characters when each break counts once
    done = await loop_client.post(
        survey_path, data={"satisfaction": "5", "resolved": "yes", "improve": text_with_breaks}, follow_redirects=False
    )
    assert done.status_code == 303
    assert await db.count(Response) == 1


@pytest.mark.parametrize(
    "value",
    [
        '<b>bold</b> & "quotes"',
        "emoji 👍🏽 and RTL \u202eevil\u202c",
        "zero\u200bwidth",
        "nul\x00byte",
        "Ω≈ç√∫\u02dcµ≤≥÷",
        "😀" * 300,
    ],
)
async def test_odd_text_is_stored_safely(
    loop_client: Client, loop_app: Litestar, auth: dict[str, str], smtp: SmtpServer, db: TestDatabase, value: str
) -> None:
    from surveys.responses import read_answer_text

    await report_and_send(loop_client, loop_app, auth, db)
    survey_path, _ = links(smtp.messages[0])
    done = await loop_client.post(
        survey_path, data={"satisfaction": "4", "resolved": "yes", "improve": value}, follow_redirects=False
    )
    assert done.status_code == 303
    [response] = await db.all(Response)
    [answer] = [a for a in await db.all(Answer) if a.question_key == "improve"]
    async with db.sessions() as session:
        stored = await read_answer_text(session, loop_app.state.services.get(Vault), response, answer)
    assert stored == value.replace("\x00", "").strip()


async def test_expired_forged_and_used_links(
    loop_client: Client, loop_app: Litestar, auth: dict[str, str], smtp: SmtpServer, db: TestDatabase
) -> None:
    await report_and_send(loop_client, loop_app, auth, db)
    survey_path, _ = links(smtp.messages[0])
    forged = survey_path[:-3] + ("AAA" if not survey_path.endswith("AAA") else "BBB")
    page = await loop_client.get(forged)
    assert page.status_code == 404 and "not valid" in page.text
    assert (await loop_client.get("/s/not-a-token")).status_code == 404
    assert (await loop_client.post(forged, data={"satisfaction": "5"})).status_code == 404

    async with db.sessions() as session, session.begin():
        await session.execute(
            text("UPDATE invitation SET expires_at = :t"), {"t": datetime.now(UTC) - timedelta(days=1)}
        )
    expired = await loop_client.get(survey_path)
    assert expired.status_code == 410 and "closed" in expired.text.lower()


async def test_unsubscribe_one_click(
    loop_client: Client, loop_app: Litestar, auth: dict[str, str], smtp: SmtpServer, db: TestDatabase
) -> None:
    await report_and_send(loop_client, loop_app, auth, db)
    _, unsubscribe_path = links(smtp.messages[0])
    confirm = await loop_client.get(unsubscribe_path)
    assert confirm.status_code == 200 and "Unsubscribe" in confirm.text
    # RFC 8058: a POST with this body, no cookie, no CSRF token.
    done = await loop_client.post(
        unsubscribe_path,
        content=b"List-Unsubscribe=One-Click",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert done.status_code == 200
    [subject] = await db.all(DataSubject)
    assert subject.opted_out_at is not None
    assert await db.count(SuppressionEntry) == 1
    # Sticky: a later contact is not invited, even saying opted_out=false.
    await db.set_policy(InvitationPolicy(cap_count=50, delay=timedelta(0)))
    later = (await loop_client.post("/api/v1/contacts", json=contact("c2", opted_out=False), headers=auth)).json()
    assert later["decision"]["invite"] is False
    # Unsubscribing twice is fine.
    assert (
        await loop_client.post(
            unsubscribe_path,
            content=b"List-Unsubscribe=One-Click",
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
    ).status_code == 200


async def test_opt_out_is_rechecked_at_send_time(
    loop_client: Client, loop_app: Litestar, auth: dict[str, str], smtp: SmtpServer, db: TestDatabase
) -> None:
    await loop_client.post("/api/v1/contacts", json=contact("c1"), headers=auth)
    # Before the send job runs, another system reports that the person opted out.
    await loop_client.post("/api/v1/contacts", json=contact("c2", opted_out=True), headers=auth)
    await worker_for(loop_app, db).run_due()
    assert smtp.messages == []
    [invitation] = await db.all(Invitation)
    assert invitation.state == "cancelled" and invitation.failure == "opted_out"


async def test_smtp_down_means_retry_and_nothing_lost(
    settings: Settings, catalogue: None, auth: dict[str, str], db: TestDatabase
) -> None:
    dead_port = free_port()
    app = create_app(
        settings.with_changes(smtp_host="127.0.0.1", smtp_port=dead_port, smtp_security="none"), worker=False
    )
    async with AsyncTestClient(app=app, base_url="http://testserver.local") as client:
        await report_and_send(client, app, auth, db)
        [invitation] = await db.all(Invitation)
        assert invitation.state == "queued" and invitation.send_attempts == 1
        [job] = [j for j in await db.all(Job) if j.name == "invitations.send"]
        assert job.state == "queued" and job.attempts == 1 and job.run_at > datetime.now(UTC)
        assert "SMTP" in (job.last_error or "")
    # The server comes back; the retry delivers.
    server = SmtpServer(port=dead_port)
    server.start()
    try:
        app = create_app(
            settings.with_changes(smtp_host="127.0.0.1", smtp_port=dead_port, smtp_security="none"), worker=False
        )
        async with AsyncTestClient(app=app, base_url="http://testserver.local"):
            await worker_for(app, db).run_due(now=datetime.now(UTC) + timedelta(hours=1))
        assert len(server.messages) == 1
        [invitation] = await db.all(Invitation)
        assert invitation.state == "sent" and invitation.send_attempts == 2
    finally:
        server.stop()


async def test_crash_between_acceptance_and_commit_resends_the_same_message_id(
    loop_client: Client,
    loop_app: Litestar,
    auth: dict[str, str],
    smtp: SmtpServer,
    db: TestDatabase,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    crashes = {"left": 1}
    original = InvitationSender.mark_sent

    async def crash_once(self: InvitationSender, *args: Any, **kwargs: Any) -> None:
        if crashes["left"]:
            crashes["left"] -= 1
            raise RuntimeError("process killed after the SMTP server accepted the message")
        await original(self, *args, **kwargs)

    monkeypatch.setattr(InvitationSender, "mark_sent", crash_once)
    await report_and_send(loop_client, loop_app, auth, db)
    assert len(smtp.messages) == 1
    [invitation] = await db.all(Invitation)
    assert invitation.state == "sending"  # the acceptance was never recorded
    await worker_for(loop_app, db).run_due(now=datetime.now(UTC) + timedelta(hours=1))
    assert len(smtp.messages) == 2
    first, second = smtp.messages
    assert first["Message-ID"] == second["Message-ID"]
    [invitation] = await db.all(Invitation)
    assert invitation.state == "sent"


async def test_file_mail_backend_without_smtp(
    settings: Settings, catalogue: None, auth: dict[str, str], db: TestDatabase
) -> None:
    app = create_app(settings, worker=False)
    async with AsyncTestClient(app=app, base_url="http://testserver.local") as client:
        await report_and_send(client, app, auth, db)
    files = list(settings.mail_dir.glob("*.eml"))
    assert len(files) == 1 and (files[0].stat().st_mode & 0o777) == 0o600
    assert b"/s/" in files[0].read_bytes()
    [invitation] = await db.all(Invitation)
    assert invitation.state == "sent"
