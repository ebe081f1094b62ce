"""The public request page: a person asks, receives a one-time code by email (a real SMTP server), enters it,
and the request is recorded with the identity check, a reference and a deadline. Bad input is refused on the
page with nothing stored; codes expire, wrong guesses are limited and codes are rationed per address and client.
"""

from __future__ import annotations

import re
from datetime import timedelta
from email.message import EmailMessage

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select, update

from civicvoice.app import build_services, features
from civicvoice.core.audit import AuditEvent
from civicvoice.core.clock import utcnow
from civicvoice.core.db import create_engine, unit_of_work
from civicvoice.core.mail import Mailer, MailNotAccepted, SmtpTransport
from civicvoice.core.settings import Settings
from privacy.closures import council_calendar
from privacy.public_requests import (
    CODES_PER_ADDRESS,
    CODES_PER_CLIENT,
    IDENTITY_CHECK,
    MAX_ATTEMPTS,
    RequestConfirmation,
    prune_confirmations,
)
from privacy.requests import SubjectRequest, current_deadline, requester_of
from privacy.restriction import is_restricted
from privacy.vault import IdentityClaim, Vault
from tests.integration.smtp import SmtpServer
from tests.integration.support import TestDatabase

Client = AsyncTestClient[Litestar]
START = "/your-data/request"
CODE = re.compile(r"Your code is (\d{6})")


def form(**changes: str) -> dict[str, str]:
    return {
        "kind": "access",
        "name": "Jo Bloggs",
        "email": "Jo.Bloggs@Example.org",
        "phone": "",
        "contact_reference": "CALL-123",
        "details": "Everything about my calls",
        **changes,
    }


def code_in(message: EmailMessage) -> str:
    body = message.get_body(("plain",))
    assert body is not None
    found = CODE.search(body.get_content())
    assert found, "no code in the email"
    return found.group(1)


async def start(client: Client, **changes: str) -> str:
    """Posts the form; returns the code page's path."""
    answer = await client.post(START, data=form(**changes), follow_redirects=False)
    assert answer.status_code == 303, answer.text
    location: str = answer.headers["location"]
    assert location.startswith(f"{START}/confirm/")
    return location


async def count(db: TestDatabase, model: object) -> int:
    async with db.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)  # type: ignore[arg-type]


async def test_a_person_confirms_their_email_and_their_request_is_recorded(
    loop_client: Client, smtp: SmtpServer, db: TestDatabase, mail_settings: Settings
) -> None:
    page = await loop_client.get(START)
    assert page.status_code == 200 and "Ask about your information" in page.text
    assert page.headers["cache-control"] == "no-store"
    confirm = await start(loop_client)
    [sent] = smtp.sink.messages
    assert sent["To"] == "jo.bloggs@example.org" and "code" in sent["Subject"]
    code = code_in(sent)
    # Until the code is entered there is no request; what they typed is stored only encrypted.
    assert await count(db, SubjectRequest) == 0
    async with db.sessions() as session:
        [waiting] = (await session.scalars(select(RequestConfirmation))).all()
    assert waiting.requester_ciphertext is not None and b"Bloggs" not in waiting.requester_ciphertext
    assert code not in waiting.code_digest and confirm.rsplit("/", 1)[1] not in waiting.link_digest
    code_page = await loop_client.get(confirm)
    assert code_page.status_code == 200 and "j***@example.org" in code_page.text

    wrong = "000000" if code != "000000" else "111111"
    refused = await loop_client.post(confirm, data={"code": wrong}, follow_redirects=False)
    assert refused.status_code == 400 and "There is a problem" in refused.text
    assert f"{MAX_ATTEMPTS - 1} tries left" in refused.text
    assert await count(db, SubjectRequest) == 0

    done = await loop_client.post(confirm, data={"code": f" {code} "}, follow_redirects=False)
    assert done.status_code == 303 and "/done/" in done.headers["location"]
    shown = await loop_client.get(done.headers["location"])
    services = await build_services(mail_settings, db.sessions, features())
    async with db.sessions() as session:
        [request] = (await session.scalars(select(SubjectRequest))).all()
        requester = await requester_of(session, services.get(Vault), request)
        calendar = await council_calendar(session, mail_settings)
        expected_due = current_deadline(request, calendar)
    assert request.channel == "public" and request.state == "in_progress" and request.kind == "access"
    assert request.identity_method == IDENTITY_CHECK and request.identity_verified_on is not None
    assert request.clock_started_on == request.received_on
    assert requester is not None and requester.name == "Jo Bloggs" and requester.email == "jo.bloggs@example.org"
    assert requester.contact_reference == "CALL-123"
    assert expected_due is not None and request.due_on == expected_due.due
    assert request.reference in shown.text and f"{request.due_on:%-d %B %Y}" in shown.text
    assert "Request received" in shown.text
    # The receipt email carries the reference and the date; the waiting row no longer holds their details.
    receipt = smtp.sink.messages[-1]
    text = receipt.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert request.reference in text and f"{request.due_on:%-d %B %Y}" in text
    async with db.sessions() as session:
        confirmation = await session.scalar(select(RequestConfirmation))
        actions = set((await session.scalars(select(AuditEvent.action))).all())
    assert confirmation is not None and confirmation.requester_ciphertext is None
    assert confirmation.request_id == request.id
    assert {"privacy.request.code_sent", "privacy.request.open"} <= actions
    # The code works once: entering it again shows the same request, it does not make another.
    again = await loop_client.post(confirm, data={"code": code}, follow_redirects=False)
    assert again.status_code == 303 and await count(db, SubjectRequest) == 1
    assert (await loop_client.get(confirm, follow_redirects=False)).status_code == 303


async def test_bad_input_is_shown_on_the_page_and_nothing_is_stored_or_sent(
    loop_client: Client, smtp: SmtpServer, db: TestDatabase
) -> None:
    cases = [
        (form(kind=""), ["Select what you want to ask for"]),
        (form(name="  ", email=""), ["Enter your full name", "Enter your email address"]),
        (form(email="jo@example"), ["needs a full domain"]),
        (form(phone="call me"), ["does not look like a phone number"]),
        (form(kind="rectification", details=""), ["Tell us what is wrong and what it should say"]),
        (form(kind="complaint", details=""), ["Tell us what your complaint is about"]),
        (form(details="x" * 2001), ["2000 characters or fewer"]),
        (form(kind="delete-everything"), ["Select what you want to ask for"]),
    ]
    for data, messages in cases:
        answer = await loop_client.post(START, data=data, follow_redirects=False)
        assert answer.status_code == 400, data
        assert "There is a problem" in answer.text and 'class="govuk-error-summary"' in answer.text
        assert answer.text.count("govuk-error-message") == len(messages), answer.text
        for message in messages:
            assert message in answer.text
        assert "<title>Error:" in answer.text
    # What they typed is kept in the form, escaped.
    kept = await loop_client.post(START, data=form(kind="", name="<b>Jo</b>"))
    assert "&lt;b&gt;Jo&lt;/b&gt;" in kept.text and "<b>Jo</b>" not in kept.text
    assert await count(db, RequestConfirmation) == 0 and await count(db, SubjectRequest) == 0
    assert smtp.sink.messages == []
    gone = await loop_client.get(f"{START}/confirm/not-a-real-token")
    assert gone.status_code == 404 and "Start your request again" in gone.text


async def test_codes_are_rationed_per_address_and_per_client(
    loop_client: Client, smtp: SmtpServer, db: TestDatabase
) -> None:
    for _ in range(CODES_PER_ADDRESS):
        await start(loop_client)
    refused = await loop_client.post(START, data=form(), follow_redirects=False)
    assert refused.status_code == 429 and "Wait an hour" in refused.text and "There is a problem" in refused.text
    assert len(smtp.sink.messages) == CODES_PER_ADDRESS
    assert await count(db, RequestConfirmation) == CODES_PER_ADDRESS
    # Another address from the same client, until the client's own ration runs out too.
    for n in range(CODES_PER_CLIENT - CODES_PER_ADDRESS):
        await start(loop_client, email=f"person{n}@example.org")
    client_refused = await loop_client.post(START, data=form(email="new@example.org"), follow_redirects=False)
    assert client_refused.status_code == 429
    assert len(smtp.sink.messages) == CODES_PER_CLIENT
    # An hour later the ration is back.
    async with unit_of_work(db.sessions) as session:
        await session.execute(update(RequestConfirmation).values(last_sent_at=utcnow() - timedelta(hours=2)))
    await start(loop_client, email="new@example.org")


async def test_wrong_codes_are_limited_and_a_new_code_replaces_the_old(
    loop_client: Client, smtp: SmtpServer, db: TestDatabase
) -> None:
    confirm = await start(loop_client)
    first = code_in(smtp.sink.messages[-1])
    wrong = "000000" if first != "000000" else "111111"
    for _ in range(MAX_ATTEMPTS):
        await loop_client.post(confirm, data={"code": wrong})
    locked = await loop_client.post(confirm, data={"code": first})
    assert locked.status_code == 400 and "too many times" in locked.text
    assert await count(db, SubjectRequest) == 0
    resent = await loop_client.post(f"{confirm}/resend", follow_redirects=False)
    assert resent.status_code == 303
    banner = await loop_client.get(resent.headers["location"])
    assert "We have sent you a new code" in banner.text
    second = code_in(smtp.sink.messages[-1])
    if second != first:
        old = await loop_client.post(confirm, data={"code": first})
        assert old.status_code == 400 and await count(db, SubjectRequest) == 0
    malformed = await loop_client.post(confirm, data={"code": "12ab"})
    assert malformed.status_code == 400 and "must be 6 digits" in malformed.text
    done = await loop_client.post(confirm, data={"code": second}, follow_redirects=False)
    assert done.status_code == 303 and await count(db, SubjectRequest) == 1
    async with db.sessions() as session:
        actions = list((await session.scalars(select(AuditEvent.action))).all())
    assert actions.count("privacy.request.code_sent") == 2 and "privacy.request.code_locked" in actions


async def test_an_expired_code_does_not_work(loop_client: Client, smtp: SmtpServer, db: TestDatabase) -> None:
    confirm = await start(loop_client)
    code = code_in(smtp.sink.messages[-1])
    async with unit_of_work(db.sessions) as session:
        await session.execute(update(RequestConfirmation).values(expires_at=utcnow() - timedelta(seconds=1)))
    expired = await loop_client.post(confirm, data={"code": code})
    assert expired.status_code == 400 and "expired" in expired.text
    assert await count(db, SubjectRequest) == 0


async def test_a_restriction_request_restricts_the_person_and_a_complaint_is_acknowledged(
    loop_client: Client, smtp: SmtpServer, db: TestDatabase, mail_settings: Settings
) -> None:
    services = await build_services(mail_settings, db.sessions, features())
    vault = services.get(Vault)
    async with unit_of_work(db.sessions) as session:
        person = (await vault.resolve(session, IdentityClaim(email="jo.bloggs@example.org"))).subject_id
    confirm = await start(loop_client, kind="restriction", details="My address is wrong; stop until fixed")
    await loop_client.post(confirm, data={"code": code_in(smtp.sink.messages[-1])})
    async with db.sessions() as session:
        request = await session.scalar(select(SubjectRequest).where(SubjectRequest.kind == "restriction"))
        assert request is not None and request.subject_id == person
        assert await is_restricted(session, person)
    confirm = await start(loop_client, kind="complaint", email="other@example.org", details="You lost my letter")
    await loop_client.post(confirm, data={"code": code_in(smtp.sink.messages[-1])})
    async with db.sessions() as session:
        complaint = await session.scalar(select(SubjectRequest).where(SubjectRequest.kind == "complaint"))
    assert complaint is not None and complaint.acknowledged_on == complaint.received_on
    assert "acknowledges your complaint" in smtp.sink.messages[-1].get_body(("plain",)).get_content()  # type: ignore[union-attr]


async def test_waiting_requests_are_pruned_after_a_day(loop_client: Client, smtp: SmtpServer, db: TestDatabase) -> None:
    confirm = await start(loop_client)
    assert await count(db, RequestConfirmation) == 1
    async with unit_of_work(db.sessions) as session:
        assert await prune_confirmations(session) == 0
        assert await prune_confirmations(session, now=utcnow() + timedelta(hours=25)) == 1
    assert await count(db, RequestConfirmation) == 0
    gone = await loop_client.get(confirm)
    assert gone.status_code == 404 and "expired" in gone.text


class CheckingTransport:
    """Delivers through the real SMTP transport, first noting how many confirmations another connection can see
    (committed ones only); or refuses every message, as a mail server that is down."""

    def __init__(self, settings: Settings, *, down: bool = False) -> None:
        self.settings = settings
        self.down = down
        self.visible_at_send: list[int] = []

    async def deliver(self, message: EmailMessage) -> None:
        if self.down:
            raise MailNotAccepted("SMTP delivery failed: SMTPConnectError")
        engine = create_engine(self.settings, pooled=False)  # its own connection, on the app's event loop
        try:
            async with engine.connect() as connection:
                found = await connection.scalar(select(func.count()).select_from(RequestConfirmation))
                self.visible_at_send.append(int(found or 0))
        finally:
            await engine.dispose()
        await SmtpTransport(self.settings).deliver(message)  # keeps no connection


async def test_the_code_is_sent_after_its_request_is_committed(
    loop_app: Litestar, loop_client: Client, smtp: SmtpServer, db: TestDatabase, mail_settings: Settings
) -> None:
    """No transaction (on SQLite, the writer lock every other request needs) waits on the mail server."""
    transport = CheckingTransport(mail_settings)
    loop_app.state.services.get(Mailer).transport = transport
    confirm = await start(loop_client)
    assert transport.visible_at_send == [1]
    resent = await loop_client.post(f"{confirm}/resend", follow_redirects=False)
    assert resent.status_code == 303
    assert transport.visible_at_send == [1, 1]
    async with db.sessions() as session:
        sent = await session.scalar(select(RequestConfirmation.codes_sent))
    assert sent == 2 and len(smtp.sink.messages) == 2


async def test_a_code_the_mail_server_does_not_take_keeps_nothing_and_costs_no_ration(
    loop_app: Litestar, loop_client: Client, smtp: SmtpServer, db: TestDatabase, mail_settings: Settings
) -> None:
    mailer = loop_app.state.services.get(Mailer)
    working = mailer.transport
    mailer.transport = CheckingTransport(mail_settings, down=True)
    for _ in range(CODES_PER_ADDRESS + 1):
        refused = await loop_client.post(START, data=form(), follow_redirects=False)
        assert refused.status_code == 503, refused.text
        assert "could not send the code" in refused.text and "There is a problem" in refused.text
        assert 'value="Jo Bloggs"' in refused.text  # what they typed is still in the form
    assert await count(db, RequestConfirmation) == 0
    # The server is back: the ration is untouched, and a resend that fails costs nothing either.
    mailer.transport = working
    confirm = await start(loop_client)
    mailer.transport = CheckingTransport(mail_settings, down=True)
    failed = await loop_client.post(f"{confirm}/resend", follow_redirects=False)
    assert failed.status_code == 503 and "could not send the code" in failed.text
    mailer.transport = working
    async with db.sessions() as session:
        assert await session.scalar(select(RequestConfirmation.codes_sent)) == 1
        actions = list((await session.scalars(select(AuditEvent.action))).all())
    assert actions.count("privacy.request.code_not_sent") == CODES_PER_ADDRESS + 2
    assert actions.count("privacy.request.code_sent") == CODES_PER_ADDRESS + 3
    await loop_client.post(f"{confirm}/resend", follow_redirects=False)
    await loop_client.post(confirm, data={"code": code_in(smtp.sink.messages[-1])})
    assert await count(db, SubjectRequest) == 1
