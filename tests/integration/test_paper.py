"""Paper surveys: a contact reachable only by post is invited by letter; its address is held encrypted, shown in
subject access, corrected by rectification and gone with erasure. Staff print the due letters as one PDF (one A4
page each, with a QR code to the web survey) which marks them sent, and key in returned forms by reference, once.
Bad input changes nothing and says why."""

from __future__ import annotations

import io
import re
import uuid
import zipfile
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import zxingcpp
from litestar import Litestar
from litestar.testing import AsyncTestClient
from PIL import Image
from pypdf import PdfReader
from sqlalchemy import select, update

from civicvoice.app import create_app
from civicvoice.core.audit import Actor, AuditEvent
from civicvoice.core.db import unit_of_work
from civicvoice.core.jobs import Job
from civicvoice.core.settings import Settings
from privacy.access import build_zip, gather
from privacy.erasure import erase
from privacy.exceptions import InvalidIdentifier, KeyDestroyed
from privacy.models import DataSubject
from privacy.rectification import Correction, rectify
from privacy.vault import IdentityClaim, Vault
from surveys.letter_models import Letter, LetterBatch
from surveys.letter_references import check_character, printed
from surveys.models import Answer, Invitation, InvitationEvent, Response
from surveys.rules import InvitationChannel, InvitationPolicy
from tests.integration.support import TestDatabase
from tests.integration.test_privacy_pages import signed_in_dpo
from tests.integration.test_staff_login import csrf_from, make_user, sign_in

Client = AsyncTestClient[Litestar]

PAPER_POLICY = InvitationPolicy(
    delay=timedelta(0),
    default_sampling_rate=1.0,
    quiet_hours={},
    enabled_channels=frozenset({InvitationChannel.email, InvitationChannel.sms, InvitationChannel.paper}),
)
ADDRESS = {"lines": ["Flat 2", "1  High Street", "Llanfairpwll"], "postcode": "ll61 5uj"}
HELD = "Flat 2\n1 High Street\nLlanfairpwll\nLL61 5UJ"
REFERENCE = re.compile(r"Reference: ([2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z])")


@pytest.fixture
async def paper_app(settings: Settings, db: TestDatabase) -> Litestar:
    await db.load_catalogue(PAPER_POLICY)
    return create_app(settings, worker=False)


@pytest.fixture
async def paper(paper_app: Litestar) -> AsyncIterator[Client]:
    async with AsyncTestClient(app=paper_app, base_url="http://testserver.local") as client:
        yield client


def vault_of(app: Litestar) -> Vault:
    vault: Vault = app.state.services.get(Vault)
    return vault


def contact(ref: str, **customer: Any) -> dict[str, Any]:
    return {
        "source": "crm",
        "external_id": ref,
        "channel": "post",
        "service": "council-tax",
        "occurred_at": (datetime.now(UTC) - timedelta(minutes=5)).isoformat(),
        "customer": {"source_id": f"C-{ref}", **customer},
    }


async def report(client: Client, auth: dict[str, str], ref: str, **customer: Any) -> dict[str, Any]:
    answer = await client.post("/api/v1/contacts", json=contact(ref, **customer), headers=auth)
    assert answer.status_code == 202, answer.text
    body: dict[str, Any] = answer.json()
    return body


async def signed_in(client: Client, db: TestDatabase) -> str:
    await make_user(db, "quality_reviewer")
    return await sign_in(client, "quality_reviewer@council.gov.uk")


async def print_batch(client: Client, token: str, limit: str = "50") -> Any:
    return await client.post("/staff/letters/batches", data={"csrf_token": token, "limit": limit})


def text_positions(reader: PdfReader, page: int, texts: list[str]) -> list[tuple[float, float]]:
    """Where each text's baseline starts on the page, in millimetres from the left and from the top."""
    found: dict[str, tuple[float, float]] = {}

    def visit(text: str, cm: Any, tm: Any, font: Any, size: Any) -> None:
        if text.strip() in texts:
            found.setdefault(text.strip(), (tm[4] / 72 * 25.4, 297 - tm[5] / 72 * 25.4))

    reader.pages[page].extract_text(visitor_text=visit)
    assert set(found) == set(texts), found
    return [found[text] for text in texts]


def pdf_pages(content: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(content)).pages]


async def test_an_address_is_held_encrypted_invites_by_post_and_follows_the_person(
    paper: Client, paper_app: Litestar, auth: dict[str, str], db: TestDatabase, settings: Settings
) -> None:
    only_post = await report(paper, auth, "P-1", name="Siân Ŵyn", postal_address=ADDRESS)
    assert only_post["decision"]["channel"] == "paper" and only_post["decision"]["invite"] is True
    # Printed from the print queue, never sent by a job.
    assert not [job for job in await db.all(Job) if job.name.startswith("invitations.")]
    # Email and post: email comes first; the address is still held.
    both = await report(paper, auth, "P-2", email="jo@example.org", postal_address=ADDRESS)
    assert both["decision"]["channel"] == "email"

    vault = vault_of(paper_app)
    [invitation] = [i for i in await db.all(Invitation) if i.channel == "paper"]
    async with db.sessions() as session:
        subject = await session.get(DataSubject, invitation.subject_id)
        assert subject is not None and subject.identity_ciphertext is not None
        assert b"High Street" not in subject.identity_ciphertext and b"LL61" not in subject.identity_ciphertext
        identity = await vault.identity(session, subject)
        assert identity.addresses == (HELD,) and identity.name == "Siân Ŵyn"
        # Subject access: the address is in the person's package.
        record = await gather(session, vault, subject.id)
    assert record.identity["addresses"] == ["Flat 2, 1 High Street, Llanfairpwll, LL61 5UJ"]
    package = zipfile.ZipFile(io.BytesIO(build_zip(record, council="Test Council", prepared=datetime.now(UTC))))
    assert "Flat 2, 1 High Street, Llanfairpwll, LL61 5UJ" in package.read("report.html").decode()

    # A new address replaces nothing but goes last: letters go to the latest.
    await report(paper, auth, "P-3", source_id="C-P-1", postal_address={"lines": ["2 New Road"], "postcode": "TC1 2AB"})
    async with db.sessions() as session:
        subject = await session.get(DataSubject, invitation.subject_id)
        assert subject is not None
        assert (await vault.identity(session, subject)).addresses == (HELD, "2 New Road\nTC1 2AB")

    # Rectification corrects it (the postcode normalised); a wrong one is refused with its reason.
    async with unit_of_work(db.sessions) as session:
        changed = await rectify(
            session, vault, subject.id, Correction(address="3 Mill Lane\ntowncastle\ntc12ab"), actor=Actor.cli()
        )
    assert changed == ["address"]
    with pytest.raises(InvalidIdentifier, match="UK postcode"):
        async with unit_of_work(db.sessions) as session:
            await rectify(session, vault, subject.id, Correction(address="3 Mill Lane, NOWHERE"), actor=Actor.cli())
    async with db.sessions() as session:
        subject = await session.get(DataSubject, invitation.subject_id)
        assert subject is not None
        assert (await vault.identity(session, subject)).addresses == ("3 Mill Lane\ntowncastle\nTC1 2AB",)

    # Erasure destroys the key: the address is gone with the person.
    async with unit_of_work(db.sessions) as session:
        assert (await erase(session, settings, subject.id, actor=Actor.cli(), holds=())).erased
    async with db.sessions() as session:
        gone = await session.get(DataSubject, subject.id)
        assert gone is not None and gone.identity_ciphertext is None
        with pytest.raises(KeyDestroyed):
            await vault.decrypt(session, subject.id, "subject.identity", subject.id, b"x")


BAD_ADDRESSES = [
    ({"lines": ["1 High Street"], "postcode": "NOT A CODE"}, "customer.postal_address.postcode"),
    ({"lines": [], "postcode": "TC1 2AB"}, "customer.postal_address.lines"),
    ({"lines": ["x" * 61], "postcode": "TC1 2AB"}, "customer.postal_address.lines"),
    ({"lines": ["1 High Street"]}, "postcode"),
    ({"lines": ["1 High Street"], "postcode": "TC1 2AB", "country": "UK"}, "country"),
]


async def test_a_bad_address_is_refused_naming_its_field_and_nothing_is_stored(
    paper: Client, auth: dict[str, str], db: TestDatabase
) -> None:
    for address, field in BAD_ADDRESSES:
        answer = await paper.post("/api/v1/contacts", json=contact("BAD", postal_address=address), headers=auth)
        assert answer.status_code in (400, 422), answer.text
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert field in answer.text, (field, answer.text)
    assert await db.count(DataSubject) == 0 and await db.count(Invitation) == 0


async def test_staff_print_due_letters_as_one_pdf_which_marks_them_sent(
    paper: Client, paper_app: Litestar, auth: dict[str, str], db: TestDatabase, settings: Settings
) -> None:
    await report(paper, auth, "L-1", name="Siân Ŵyn", postal_address=ADDRESS)
    await report(paper, auth, "L-2", postal_address={"lines": ["9 Quay Street"], "postcode": "TC9 9ZZ"})
    erased = await report(paper, auth, "L-3", postal_address={"lines": ["1 Gone Road"], "postcode": "TC1 1AA"})
    async with unit_of_work(db.sessions) as session:
        gone = await session.get(Invitation, uuid.UUID(erased["invitation_id"]))
        assert gone is not None and gone.subject_id is not None
        await erase(session, settings, gone.subject_id, actor=Actor.cli(), holds=())
    token = await signed_in(paper, db)

    queue = await paper.get("/staff/letters")
    assert queue.status_code == 200 and "Council Tax" in queue.text and "Print 3 due letters" in queue.text

    for wrong in ("", "abc", "0", "501", "-1"):
        refused = await print_batch(paper, token, wrong)
        assert refused.status_code == 422 and "whole number from 1 to 500" in refused.text
    assert await db.count(Letter) == 0 and {i.state for i in await db.all(Invitation)} == {"queued"}

    batch = await print_batch(paper, token)
    assert batch.status_code == 200 and batch.headers["content-type"] == "application/pdf"
    assert batch.headers["content-disposition"].startswith('attachment; filename="letters-')
    pages = pdf_pages(batch.content)
    assert len(pages) == 2  # one A4 page per letter; the erased person's letter is not printed
    reader = PdfReader(io.BytesIO(batch.content))
    assert [(round(float(p.mediabox.width)), round(float(p.mediabox.height))) for p in reader.pages] == [(595, 842)] * 2
    first = pages[0]
    for text in ("Siân Ŵyn", "Flat 2", "1 High Street", "Llanfairpwll", "LL61 5UJ", "Dear Siân Ŵyn", "Council Tax"):
        assert text in first, text
    assert "Overall, how satisfied were you" in first and "Very dissatisfied" in first
    assert "9 Quay Street" in pages[1] and "Dear customer" in pages[1]
    # The address block sits where a DL window envelope shows it: 20 mm from the left, from 50 mm down, 85 x 35 mm.
    assert all(20 <= x <= 25 and 50 <= y <= 85 for x, y in text_positions(reader, 0, ["Siân Ŵyn", "LL61 5UJ"]))
    references = [REFERENCE.search(page) for page in pages]
    assert all(references)
    letters = {letter.reference: letter for letter in await db.all(Letter)}
    assert {printed(r) for r in letters} == {m.group(1) for m in references if m}

    # The QR code holds the short link printed beside it, and the short link opens the survey.
    short = re.search(r"(http://\S+/r/\S+)", first.replace("\n", " "))
    assert short is not None
    [image] = reader.pages[0].images
    decoded = zxingcpp.read_barcodes(Image.open(io.BytesIO(image.data)))
    assert [code.text for code in decoded] == [short.group(1)]
    opened = await paper.get(short.group(1).removeprefix("http://testserver.local"), follow_redirects=False)
    assert opened.status_code == 303 and opened.headers["location"].startswith("/s/")

    # Marked sent, with the reference; the erased person's invitation is cancelled, not printed.
    states = {i.id: (i.state, i.message_ref, i.failure) for i in await db.all(Invitation)}
    assert states[uuid.UUID(erased["invitation_id"])][0] == "cancelled"
    assert states[uuid.UUID(erased["invitation_id"])][2] == "erased"
    for letter in letters.values():
        assert states[letter.invitation_id][:2] == ("sent", f"letter:{letter.reference}")
    [recorded] = await db.all(LetterBatch)
    assert recorded.letters == 2
    actions = {e.action for e in await db.all(AuditEvent)}
    assert "letters.printed" in actions

    # Nothing left to print: a clear answer, no empty PDF.
    again = await print_batch(paper, token)
    assert again.status_code == 409 and "No letters are due to print" in again.text

    # The batch can be downloaded again (same references), and one letter seen as print-ready HTML.
    reprint = await paper.get(f"/staff/letters/batches/{recorded.id}/pdf")
    assert reprint.status_code == 200
    assert {m.group(1) for m in (REFERENCE.search(p) for p in pdf_pages(reprint.content)) if m} == {
        printed(r) for r in letters
    }
    missing = await paper.get(f"/staff/letters/batches/{uuid.uuid4()}/pdf")
    assert missing.status_code == 404
    reference = next(r for r, letter in letters.items() if states[letter.invitation_id][0] == "sent")
    html = await paper.get(f"/staff/letters/letter/{printed(reference).lower()}")
    assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
    assert "style-src 'sha256-" in html.headers["content-security-policy"]
    assert printed(reference) in html.text and "<svg" in html.text and "/r/" in html.text
    unknown = await paper.get("/staff/letters/letter/2222-2222-2")
    assert unknown.status_code == 404  # well formed (all zeros check out), but no letter has it


async def printed_letter(client: Client, auth: dict[str, str], db: TestDatabase, token: str, ref: str) -> Letter:
    await report(client, auth, ref, postal_address=ADDRESS)
    assert (await print_batch(client, token)).status_code == 200
    letters: list[Letter] = await db.all(Letter)
    return max(letters, key=lambda letter: letter.id)


def mistyped(reference: str) -> str:
    """The reference with its second character changed: the check character catches it."""
    wrong = "3" if reference[1] != "3" else "4"
    return reference[0] + wrong + reference[2:]


async def test_staff_key_in_a_returned_form_once_against_its_reference(
    paper: Client, auth: dict[str, str], db: TestDatabase
) -> None:
    token = await signed_in(paper, db)
    letter = await printed_letter(paper, auth, db, token, "R-1")
    shown = printed(letter.reference)

    # Found as typed from the paper: lower case and spaces are fine.
    found = await paper.get("/staff/letters/returns", params={"reference": shown.lower().replace("-", " ")})
    assert found.status_code == 200 and f"Letter {shown}" in found.text and "Left blank" in found.text

    # A mistyped reference is caught by its check character; a well-formed unknown one is not found.
    typo = await paper.get("/staff/letters/returns", params={"reference": mistyped(letter.reference)})
    assert typo.status_code == 422 and "mistyped" in typo.text
    bad_chars = await paper.get("/staff/letters/returns", params={"reference": "OOOO-1111-I"})
    assert bad_chars.status_code == 422 and "cannot contain" in bad_chars.text
    body = "KX7RM2QD"
    unknown = await paper.get("/staff/letters/returns", params={"reference": body + check_character(body)})
    assert unknown.status_code == 404 and "No letter has the reference" in unknown.text

    form_token = csrf_from(found.text)
    target = f"/staff/letters/returns/{letter.reference}"
    # Answers that are not on the form, or no answers at all, are refused and nothing is stored.
    wrong = await paper.post(target, data={"csrf_token": form_token, "satisfaction": "9"})
    assert wrong.status_code == 422 and "There is a problem" in wrong.text
    blank = await paper.post(target, data={"csrf_token": form_token, "satisfaction": "", "improve": "  "})
    assert blank.status_code == 422 and "Nothing was keyed in" in blank.text
    no_csrf = await paper.post(target, data={"satisfaction": "4"}, follow_redirects=False)
    assert no_csrf.status_code == 403
    assert await db.count(Response) == 0

    done = await paper.post(
        target,
        data={"csrf_token": form_token, "satisfaction": "4", "resolved": "", "improve": "Shorter forms, please."},
        follow_redirects=False,
    )
    assert done.status_code == 303 and done.headers["location"] == f"/staff/letters/returns?done={letter.reference}"
    confirmation = await paper.get(done.headers["location"])
    assert f"Answers recorded for letter {shown}" in confirmation.text
    [response] = await db.all(Response)
    assert (response.channel, response.satisfaction, response.resolved) == ("paper", 4, None)
    assert response.invitation_id == letter.invitation_id
    answers = {a.question_key: (a.number, a.text_ciphertext is not None) for a in await db.all(Answer)}
    assert answers == {"satisfaction": (4, False), "improve": (None, True)}
    [keyed] = await db.all(Letter)
    assert keyed.keyed_at is not None and keyed.keyed_by is not None
    steps = [e.state for e in await db.all(InvitationEvent) if e.invitation_id == letter.invitation_id]
    assert "answered" in steps

    # A second entry of the same form is refused, whether found again or posted again.
    second = await paper.get("/staff/letters/returns", params={"reference": shown})
    assert second.status_code == 409 and "were keyed in on" in second.text
    twice = await paper.post(target, data={"csrf_token": form_token, "satisfaction": "1"})
    assert twice.status_code == 409 and "were keyed in on" in twice.text
    assert await db.count(Response) == 1


async def test_a_form_returned_after_the_survey_closed_is_not_recorded(
    paper: Client, auth: dict[str, str], db: TestDatabase
) -> None:
    token = await signed_in(paper, db)
    letter = await printed_letter(paper, auth, db, token, "X-1")
    async with unit_of_work(db.sessions) as session:
        await session.execute(
            update(Invitation)
            .where(Invitation.id == letter.invitation_id)
            .values(expires_at=datetime.now(UTC) - timedelta(days=1))
        )
    closed = await paper.get("/staff/letters/returns", params={"reference": letter.reference})
    assert closed.status_code == 410 and "closed on" in closed.text and "not recorded" in closed.text
    posted = await paper.post(
        f"/staff/letters/returns/{letter.reference}", data={"csrf_token": token, "satisfaction": "5"}
    )
    assert posted.status_code == 410
    assert await db.count(Response) == 0
    async with db.sessions() as session:
        assert await session.scalar(select(Letter.keyed_at).where(Letter.id == letter.id)) is None


async def test_the_dpo_corrects_an_address_through_a_rectification_request(
    paper: Client, paper_app: Litestar, db: TestDatabase
) -> None:
    vault = vault_of(paper_app)
    async with unit_of_work(db.sessions) as session:
        claim = IdentityClaim(email="jo@example.org", address="1 Old Road\nTC1 2AB")
        person = (await vault.resolve(session, claim)).subject_id
    await signed_in_dpo(paper, db)
    form = await paper.get("/staff/privacy/requests/new")
    created = await paper.post(
        "/staff/privacy/requests/new",
        data={
            "csrf_token": csrf_from(form.text),
            "kind": "rectification",
            "name": "Jo Bloggs",
            "email": "jo@example.org",
            "details": "I have moved house",
        },
        follow_redirects=False,
    )
    page = await paper.get(created.headers["location"])
    assert "Correct postal address" in page.text
    token = csrf_from(page.text)
    wrong = await paper.post(
        created.headers["location"] + "/fulfil", data={"csrf_token": token, "address": "2 New Road\nnowhere"}
    )
    assert wrong.status_code == 422 and "UK postcode" in wrong.text
    done = await paper.post(
        created.headers["location"] + "/fulfil",
        data={"csrf_token": token, "address": "2 New Road\r\nTowncastle\r\ntc9 9zz"},
        follow_redirects=False,
    )
    assert done.status_code == 303, done.text
    async with db.sessions() as session:
        subject = await session.get(DataSubject, person)
        assert subject is not None
        assert (await vault.identity(session, subject)).addresses == ("2 New Road\nTowncastle\nTC9 9ZZ",)
        audit = await session.scalar(select(AuditEvent).where(AuditEvent.action == "privacy.rectify"))
    assert audit is not None and audit.detail["fields"] == ["address"] and "New Road" not in str(audit.detail)
