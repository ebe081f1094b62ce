"""Reminder letters: a paper survey not answered a set number of days (14 by default) after it was printed is due
one reminder letter, with the same reference and QR code, printed by staff from "Reminders due" like any batch
and recorded on the invitation's timeline. Never a second one, and none once the survey was answered or has
closed, or for a person who opted out, objected, was erased or asked not to be surveyed. The clock is frozen."""

from __future__ import annotations

import io
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
import zxingcpp
from litestar import Litestar
from litestar.testing import AsyncTestClient
from PIL import Image
from pypdf import PdfReader
from sqlalchemy import update

from civicvoice.app import create_app
from civicvoice.core.audit import Actor, AuditEvent
from civicvoice.core.db import unit_of_work
from civicvoice.core.settings import Settings
from privacy.erasure import erase
from privacy.models import DataSubject
from surveys.letter_models import Letter, LetterBatch
from surveys.letter_references import printed
from surveys.letters import LetterPrinting, NothingToPrint
from surveys.models import Invitation, InvitationEvent
from surveys.tokens import Purpose, TokenSigner
from surveys.unsubscribe import opt_out
from tests.integration.support import TestDatabase
from tests.integration.test_paper import ADDRESS, PAPER_POLICY, pdf_pages, print_batch, report, signed_in, vault_of

Client = AsyncTestClient[Litestar]

POLICY = replace(PAPER_POLICY, expiry=timedelta(days=30))
T0 = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


class Clock:
    """The letters' clock, frozen; moved on by the test."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    frozen = Clock(T0)
    monkeypatch.setattr("surveys.letters.utcnow", frozen)
    return frozen


@pytest.fixture
async def reminder_app(settings: Settings, db: TestDatabase) -> Litestar:
    await db.load_catalogue(POLICY)
    return create_app(settings, worker=False)


@pytest.fixture
async def paper(reminder_app: Litestar) -> AsyncIterator[Client]:
    async with AsyncTestClient(app=reminder_app, base_url="http://testserver.local") as client:
        yield client


def flat(text: str) -> str:
    return " ".join(text.split())


async def contacts_reported_just_before(client: Client, auth: dict[str, str], refs: list[str]) -> dict[str, uuid.UUID]:
    """Contacts reported (occurred a few minutes before now), one invitation by post each, by ref."""
    invitations = {}
    for ref in refs:
        answer = await client.post(
            "/api/v1/contacts",
            json={
                "source": "crm",
                "external_id": ref,
                "channel": "post",
                "service": "council-tax",
                "occurred_at": (datetime.now(UTC) - timedelta(minutes=5)).isoformat(),
                "customer": {"source_id": f"C-{ref}", "name": f"Person {ref}", "postal_address": ADDRESS},
            },
            headers=auth,
        )
        assert answer.status_code == 202 and answer.json()["decision"]["channel"] == "paper", answer.text
        invitations[ref] = uuid.UUID(answer.json()["invitation_id"])
    return invitations


async def steps(db: TestDatabase, invitation_id: uuid.UUID) -> list[tuple[str, str | None]]:
    events = sorted(
        (e for e in await db.all(InvitationEvent) if e.invitation_id == invitation_id), key=lambda e: (e.at, e.id)
    )
    return [(e.state, e.detail) for e in events]


async def test_an_unanswered_letter_gets_one_reminder_and_nobody_else_does(
    paper: Client, reminder_app: Litestar, auth: dict[str, str], db: TestDatabase, settings: Settings, clock: Clock
) -> None:
    ids = await contacts_reported_just_before(
        paper, auth, ["plain", "answered", "objected", "erased", "dns", "closing"]
    )
    # Printed now; from here on the letters' clock only moves when the test moves it.
    clock.now = printed_at = datetime.now(UTC)
    token = await signed_in(paper, db)
    first = await print_batch(paper, token)
    assert first.status_code == 200 and len(pdf_pages(first.content)) == 6
    invitations = {i.id: i for i in await db.all(Invitation)}
    assert {invitations[i].reminder_at for i in ids.values()} == {printed_at + timedelta(days=14)}
    letters = {letter.invitation_id: letter for letter in await db.all(Letter)}
    first_reader = PdfReader(io.BytesIO(first.content))
    qr_by_reference = {}
    for number, page in enumerate(pdf_pages(first.content)):
        found = re.search(r"Reference: (\S+)", page)
        assert found is not None
        [image] = first_reader.pages[number].images
        [code] = zxingcpp.read_barcodes(Image.open(io.BytesIO(image.data)))
        qr_by_reference[found.group(1)] = code.text

    # What happens to each after printing: answered online, objected (opted out), erased, "do not survey", and
    # one whose survey closes before a reminder could be due.
    signer: TokenSigner = reminder_app.state.services.get(TokenSigner)
    survey_link = "/s/" + signer.sign(ids["answered"], Purpose.survey, invitations[ids["answered"]].expires_at)
    answered = await paper.post(survey_link, data={"satisfaction": "5", "resolved": "yes"}, follow_redirects=False)
    assert answered.status_code == 303
    vault = vault_of(reminder_app)
    async with unit_of_work(db.sessions) as session:
        assert await opt_out(session, vault, invitations[ids["objected"]].subject_id, reason="objection")
        await erase(session, settings, invitations[ids["erased"]].subject_id, actor=Actor.cli(), holds=())
        await session.execute(
            update(DataSubject).where(DataSubject.id == invitations[ids["dns"]].subject_id).values(do_not_survey=True)
        )
        await session.execute(
            update(Invitation).where(Invitation.id == ids["closing"]).values(expires_at=printed_at + timedelta(days=10))
        )

    # A minute short of 14 days: nothing is due yet.
    printing: LetterPrinting = reminder_app.state.services.get(LetterPrinting)
    clock.now = printed_at + timedelta(days=14, minutes=-1)
    async with db.sessions() as session:
        assert await printing.reminders_due(session) == []
    queue = await paper.get("/staff/letters")
    assert "Reminders due (0)" in queue.text
    too_soon = await paper.post("/staff/letters/reminders", data={"csrf_token": token, "limit": "50"})
    assert too_soon.status_code == 409 and "No reminder letters are due to print" in too_soon.text
    assert "not answered 14 days after it was printed" in too_soon.text

    # 14 days on: every letter not answered and still open is due (who may not be written to is found at print).
    clock.now = printed_at + timedelta(days=14)
    queue = await paper.get("/staff/letters")
    assert "Reminders due (4)" in queue.text
    due_page = await paper.get("/staff/letters/reminders")
    assert due_page.status_code == 200 and "Council Tax" in due_page.text
    assert "Print 4 reminders (PDF)" in due_page.text
    for wrong in ("", "none", "0", "501"):
        refused = await paper.post("/staff/letters/reminders", data={"csrf_token": token, "limit": wrong})
        assert refused.status_code == 422 and "whole number from 1 to 500" in refused.text
    no_csrf = await paper.post("/staff/letters/reminders", data={"limit": "50"})
    assert no_csrf.status_code == 403
    assert {i.reminders_sent for i in await db.all(Invitation)} == {0}

    done = await paper.post("/staff/letters/reminders", data={"csrf_token": token, "limit": "50"})
    assert done.status_code == 200 and done.headers["content-type"] == "application/pdf"
    assert done.headers["content-disposition"].startswith('attachment; filename="reminders-')
    [reminder] = [flat(text) for text in pdf_pages(done.content)]
    plain = letters[ids["plain"]]
    shown = printed(plain.reference)
    # It says it is a reminder, and carries the same reference and the same QR code and link.
    assert "Reminder: Tell us about your recent contact" in reminder
    assert f"This is a reminder. We wrote to you on {printed_at:%-d %B %Y}" in reminder
    assert f"Reference: {shown}" in reminder and "Person plain" in reminder
    [image] = PdfReader(io.BytesIO(done.content)).pages[0].images
    [code] = zxingcpp.read_barcodes(Image.open(io.BytesIO(image.data)))
    assert code.text == qr_by_reference[shown] and f"Online: {code.text}" in reminder

    # The timeline says so; the others' reminders are called off, with the reason, never to be printed.
    assert ("reminded", f"reminder letter printed, reference {shown}") in await steps(db, ids["plain"])
    for ref, reason in (("objected", "opted_out"), ("erased", "erased"), ("dns", "do_not_survey")):
        assert ("reminder_cancelled", reason) in await steps(db, ids[ref]), ref
    for ref in ("answered", "closing"):
        assert not [state for state, _ in await steps(db, ids[ref]) if state.startswith("remind")], ref
    invitations = {i.id: i for i in await db.all(Invitation)}
    assert [ref for ref, i in ids.items() if invitations[i].reminders_sent] == ["plain"]
    [reminder_batch] = [batch for batch in await db.all(LetterBatch) if batch.reminders]
    assert reminder_batch.letters == 1
    assert {letter.invitation_id for letter in await db.all(Letter) if letter.reminder_batch_id} == {ids["plain"]}
    assert "letters.reminders_printed" in {event.action for event in await db.all(AuditEvent)}

    # Never a second reminder: nothing is due the day after, or later.
    for later in (timedelta(days=15), timedelta(days=29)):
        clock.now = printed_at + later
        async with db.sessions() as session:
            assert await printing.reminders_due(session) == []
            with pytest.raises(NothingToPrint):
                await printing.print_reminders(session, actor=Actor.cli())
    again = await paper.post("/staff/letters/reminders", data={"csrf_token": token, "limit": "50"})
    assert again.status_code == 409

    # The reminder batch is listed with the others and can be downloaded again, still a reminder.
    queue = await paper.get("/staff/letters")
    assert "Reminders due (0)" in queue.text and "Reminders</td>" in queue.text
    reprint = await paper.get(f"/staff/letters/batches/{reminder_batch.id}/pdf")
    assert reprint.status_code == 200 and "-reprint.pdf" in reprint.headers["content-disposition"]
    assert reprint.headers["content-disposition"].startswith('attachment; filename="reminders-')
    [again_text] = [flat(text) for text in pdf_pages(reprint.content)]
    assert "Reminder: Tell us about your recent contact" in again_text and shown in again_text


async def test_a_reminder_that_could_not_come_before_the_survey_closes_is_never_due(
    settings: Settings, db: TestDatabase, auth: dict[str, str], clock: Clock
) -> None:
    await db.load_catalogue(PAPER_POLICY)  # surveys close after 7 days; reminders come after 14
    app = create_app(settings, worker=False)
    async with AsyncTestClient(app=app, base_url="http://testserver.local") as client:
        await report(client, auth, "S-1", postal_address=ADDRESS)
        clock.now = printed_at = datetime.now(UTC)
        token = await signed_in(client, db)
        assert (await print_batch(client, token)).status_code == 200
        [invitation] = await db.all(Invitation)
        assert invitation.state == "sent" and invitation.reminder_at is None
        printing: LetterPrinting = app.state.services.get(LetterPrinting)
        for later in (timedelta(days=6), timedelta(days=14), timedelta(days=20)):
            clock.now = printed_at + later
            async with db.sessions() as session:
                assert await printing.reminders_due(session) == []
