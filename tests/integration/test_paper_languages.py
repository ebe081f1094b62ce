"""Paper surveys in Welsh: a contact event may say the customer wants Welsh; their letter (PDF and print-ready
HTML) is then printed in Welsh when the survey has Welsh text, its fixed text from the Welsh catalogue, in a
Unicode font that prints ŵ, ŷ and â, and its QR code and link open the survey in Welsh. A council that prints
bilingual letters gets Welsh first, then English. Otherwise, English."""

from __future__ import annotations

import io
import re
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pytest
import zxingcpp
from babel.dates import format_date
from litestar import Litestar
from litestar.testing import AsyncTestClient
from PIL import Image
from pypdf import PdfReader

from civicvoice.app import create_app
from civicvoice.core.audit import Actor
from civicvoice.core.clock import LONDON
from civicvoice.core.db import unit_of_work
from civicvoice.core.settings import Settings
from surveys.catalogue import POST_CONTACT_SURVEY
from surveys.intake import ContactIntake
from surveys.letter_models import Letter
from surveys.letter_references import printed
from surveys.letters import LetterPrinting
from surveys.models import Contact, Invitation
from tests.integration.support import TestDatabase
from tests.integration.test_paper import ADDRESS, PAPER_POLICY, pdf_pages, print_batch, report, signed_in
from tests.integration.test_survey_builder_welsh import with_welsh

Client = AsyncTestClient[Litestar]

# Welsh with the letters a Latin-1 font cannot print: ŵ, ŷ (and â, which it can).
WELSH_TITLE = "Dywedwch wrthym sut aeth eich cyswllt â'r cyngor"
WELSH_CSAT = "Pa mor fodlon oeddech chi â'r gwasanaeth a gawsoch?"
WELSH_IMPROVE = "Beth allen ni ei wneud yn well i'ch tŷ a'ch dŵr?"
WELSH_LABELS = {
    "Very satisfied": "Bodlon iawn",
    "Satisfied": "Bodlon",
    "Neither satisfied nor dissatisfied": "Ddim yn fodlon nac yn anfodlon",
    "Dissatisfied": "Anfodlon",
    "Very dissatisfied": "Anfodlon iawn",
}
POLICY = replace(PAPER_POLICY, expiry=timedelta(days=30))


def welsh_survey() -> dict[str, Any]:
    definition: dict[str, Any] = with_welsh(msgspec.json.decode(msgspec.json.encode(POST_CONTACT_SURVEY)))
    definition["languages"] = ["en", "cy"]
    definition["title"]["cy"] = WELSH_TITLE
    for question in definition["questions"]:
        if question["id"] == "satisfaction":
            question["text"]["cy"] = WELSH_CSAT
        if question["id"] == "improve":
            question["text"]["cy"] = WELSH_IMPROVE
        if question["id"] == "resolved":
            question["choices"] = [
                {"value": value, "label": {"en": english, "cy": welsh}}
                for value, english, welsh in [
                    ("yes", "Yes", "Ydy"),
                    ("partly", "Partly", "Yn rhannol"),
                    ("no", "No", "Nac ydy"),
                ]
            ]
        for choice in question.get("choices") or ():
            choice["label"]["cy"] = WELSH_LABELS.get(choice["label"]["en"], choice["label"]["cy"])
    return definition


async def publish_welsh(client: Client, app: Litestar, db: TestDatabase) -> None:
    admin = {"Authorization": f"Bearer {await db.api_key(['surveys:admin'])}"}
    draft = (await client.post("/api/v1/surveys/post-contact/versions", headers=admin)).json()
    url = f"/api/v1/surveys/post-contact/versions/{draft['number']}"
    saved = await client.put(url, json=welsh_survey(), headers=admin)
    assert saved.status_code == 200, saved.text
    published = await client.post(f"{url}/publish", headers=admin)
    assert published.status_code == 200, published.text
    app.state.services.get(ContactIntake).reference.clear()


@pytest.fixture
async def welsh_app(settings: Settings, db: TestDatabase) -> Litestar:
    await db.load_catalogue(POLICY)
    return create_app(settings.with_changes(letter_reminder_days=3), worker=False)


@pytest.fixture
async def welsh(welsh_app: Litestar) -> AsyncIterator[Client]:
    async with AsyncTestClient(app=welsh_app, base_url="http://testserver.local") as client:
        yield client


def qr_text(reader: PdfReader, page: int) -> str:
    [image] = reader.pages[page].images
    [code] = zxingcpp.read_barcodes(Image.open(io.BytesIO(image.data)))
    return str(code.text)


def embedded_fonts(reader: PdfReader) -> set[str]:
    """The fonts embedded in the PDF (a font that is only named would print Welsh letters as gaps or boxes)."""
    names = set()
    for page in reader.pages:
        resources: Any = page["/Resources"]
        for font in resources["/Font"].values():
            descendant = font.get_object()["/DescendantFonts"][0].get_object()
            if "/FontFile2" in descendant["/FontDescriptor"].get_object():
                names.add(str(descendant["/BaseFont"]))
    return names


def flat(text: str) -> str:
    """Text extracted from a PDF with its line breaks and justified spacing made single spaces."""
    return " ".join(text.split())


def welsh_day(moment: datetime) -> str:
    return format_date(moment.astimezone(LONDON).date(), "d MMMM y", locale="cy")


async def test_a_welsh_speaker_gets_a_welsh_letter_when_the_survey_has_welsh(
    welsh: Client, welsh_app: Litestar, auth: dict[str, str], db: TestDatabase
) -> None:
    # Before the survey has Welsh, a Welsh speaker's letter is in English.
    await report(welsh, auth, "W-0", name="Gwenllian Ŷw", postal_address=ADDRESS, preferred_language="cy")
    await publish_welsh(welsh, welsh_app, db)
    await report(welsh, auth, "W-1", name="Siân Ŵyn", postal_address=ADDRESS, preferred_language="cy")
    await report(welsh, auth, "W-2", name="Jo Bloggs", postal_address=ADDRESS, preferred_language="en")
    await report(welsh, auth, "W-3", postal_address=ADDRESS)  # no preference: English
    contacts = {c.preferred_language for c in await db.all(Contact)}
    assert contacts == {"cy", "en", None}

    token = await signed_in(welsh, db)
    batch = await print_batch(welsh, token)
    assert batch.status_code == 200
    reader = PdfReader(io.BytesIO(batch.content))
    pages = [flat(page) for page in pdf_pages(batch.content)]
    assert len(pages) == 4
    names = ("Gwenllian", "Siân", "Jo", "customer")
    by_name = {name: number for number, page in enumerate(pages) for name in names if name in page}
    welsh_page = flat(pages[by_name["Siân"]])
    # The survey's own Welsh text, and the letter's fixed text from the Welsh catalogue, with ŵ, ŷ and â intact.
    for text in (
        "Annwyl Siân Ŵyn, buoch mewn cysylltiad â ni yn ddiweddar ynghylch Council Tax.",
        WELSH_TITLE,
        WELSH_CSAT,
        "Bodlon iawn",
        "tŷ a'ch dŵr",
        "Ticiwch un blwch.",
        "Ysgrifennwch eich ateb yn y blwch.",
        "Cyfeirnod:",
        "Sganiwch â chamera eich ffôn i ateb ar-lein",
        "Sut rydym yn defnyddio eich gwybodaeth:",
    ):
        assert text in welsh_page, text
    for english in ("Dear", "Tick one box", "Reference:", "Tell us about your recent contact", "Very satisfied"):
        assert english not in welsh_page, english
    found = re.search(r"Cyfeirnod: (\S+)", welsh_page)
    assert found is not None
    reference = found.group(1)
    [letter] = [letter for letter in await db.all(Letter) if printed(letter.reference) == reference]
    [invitation] = [i for i in await db.all(Invitation) if i.id == letter.invitation_id]
    assert f"erbyn {welsh_day(invitation.expires_at)}" in welsh_page  # "1 Rhagfyr 2026"
    assert any("DejaVuSans" in name for name in embedded_fonts(reader))

    # English for the others: an English preference, none, or a survey version without Welsh.
    for name in ("Gwenllian", "Jo", "customer"):
        page = pages[by_name[name]]
        assert "Tick one box." in page and "Tell us about your recent contact" in page and "Ticiwch" not in page
    assert "Dear Gwenllian Ŷw" in pages[by_name["Gwenllian"]]

    # The QR code and the printed link open the survey in Welsh.
    link = re.search(r"Ar-lein: (http://\S+)", welsh_page)
    assert link is not None and link.group(1).endswith("?lang=cy")
    assert qr_text(reader, by_name["Siân"]) == link.group(1)
    opened = await welsh.get(link.group(1).removeprefix("http://testserver.local"), follow_redirects=False)
    assert opened.status_code == 303 and opened.headers["location"].endswith("?lang=cy")
    survey_page = await welsh.get(opened.headers["location"])
    assert '<html lang="cy"' in survey_page.text and WELSH_TITLE.replace("'", "&#39;") in survey_page.text
    english_link = qr_text(reader, by_name["Jo"])
    assert english_link.endswith("?lang=en")  # the survey has Welsh: the English letter's link says English
    assert qr_text(reader, by_name["Gwenllian"]).count("?") == 0  # its version is English only

    # The print-ready HTML letter, in Welsh, marked as Welsh.
    html = await welsh.get(f"/staff/letters/letter/{reference}")
    assert html.status_code == 200 and '<html lang="cy-GB">' in html.text
    for text in (
        "Annwyl Siân Ŵyn",
        WELSH_CSAT.replace("'", "&#39;"),
        "tŷ a&#39;ch dŵr",
        "Ticiwch un blwch.",
        "Ar-lein:",
    ):
        assert text in html.text, text
    assert "Dear" not in html.text and "Tick one box" not in html.text

    # Its reminder is in Welsh too.
    printing: LetterPrinting = welsh_app.state.services.get(LetterPrinting)
    sent_at = max(i.sent_at for i in await db.all(Invitation) if i.sent_at)
    async with unit_of_work(db.sessions) as session:
        reminders = await printing.print_reminders(
            session, actor=Actor.cli(), now=sent_at + timedelta(days=3, minutes=1)
        )
    assert reminders.letters == 4
    reminder_pages = [flat(page) for page in pdf_pages(reminders.pdf)]
    [welsh_reminder] = [page for page in reminder_pages if "Siân" in page]
    assert f"Nodyn atgoffa: {WELSH_TITLE}" in welsh_reminder
    assert f"Ysgrifennon ni atoch ar {welsh_day(sent_at)}" in welsh_reminder
    assert reference in welsh_reminder
    [english_reminder] = [page for page in reminder_pages if "Jo Bloggs" in page]
    assert "Reminder: Tell us about your recent contact" in english_reminder


async def test_a_council_printing_bilingual_letters_puts_welsh_first(
    settings: Settings, db: TestDatabase, auth: dict[str, str]
) -> None:
    await db.load_catalogue(POLICY)
    app = create_app(settings.with_changes(letter_language="bilingual"), worker=False)
    async with AsyncTestClient(app=app, base_url="http://testserver.local") as client:
        await publish_welsh(client, app, db)
        await report(client, auth, "B-1", name="Siân Ŵyn", postal_address=ADDRESS)
        token = await signed_in(client, db)
        batch = await print_batch(client, token)
        assert batch.status_code == 200
        text = flat(" ".join(pdf_pages(batch.content)))
        # Welsh, then English: the heading, the letter, each question and each box.
        assert text.index(WELSH_TITLE) < text.index("Tell us about your recent contact")
        assert text.index("Annwyl Siân Ŵyn") < text.index("Dear Siân Ŵyn")
        assert text.index(WELSH_CSAT) < text.index("Overall, how satisfied were you")
        assert "Bodlon iawn / Very satisfied" in text
        assert "Ticiwch un blwch." in text and "Tick one box." in text
        reader = PdfReader(io.BytesIO(batch.content))
        assert qr_text(reader, 0).endswith("?lang=cy")

        [letter] = await db.all(Letter)
        html = await client.get(f"/staff/letters/letter/{letter.reference}")
        assert '<html lang="cy-GB">' in html.text
        assert '<div class="letter-text" lang="en">' in html.text  # the English part is marked as English
        assert html.text.index("Annwyl Siân Ŵyn") < html.text.index("Dear Siân Ŵyn")


async def test_a_language_we_cannot_write_in_is_refused_and_nothing_is_stored(
    welsh: Client, auth: dict[str, str], db: TestDatabase
) -> None:
    for wrong in ("fr", "CY", "", 1):
        answer = await welsh.post(
            "/api/v1/contacts",
            json={
                "source": "crm",
                "external_id": "L-1",
                "channel": "post",
                "service": "council-tax",
                "occurred_at": (datetime.now(UTC) - timedelta(minutes=5)).isoformat(),
                "customer": {"source_id": "C-L-1", "postal_address": ADDRESS, "preferred_language": wrong},
            },
            headers=auth,
        )
        assert answer.status_code in (400, 422), answer.text
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert "customer.preferred_language" in answer.text
    assert await db.count(Contact) == 0 and await db.count(Invitation) == 0
