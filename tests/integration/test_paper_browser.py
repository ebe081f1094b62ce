"""Paper surveys in a real browser: the print queue prints a batch as a PDF download, the print-ready letter
renders under its own content security policy, a returned form is keyed in by keyboard alone, and the reminders
due are printed from their own page; each page has zero axe-core WCAG A/AA violations, error states included."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import httpx
import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page
from sqlalchemy import update

from civicvoice.core.db import unit_of_work
from civicvoice.core.settings import Settings
from civicvoice.staff.web import SESSION_COOKIE
from surveys.letter_models import Letter
from surveys.letter_references import printed
from surveys.models import Invitation, Response
from tests.integration.browser import (
    axe_violations,
    browser_context,
    describe_violations,
    needs_chromium,
    on_one_database,
)
from tests.integration.live_site import LiveSite, Watch, heading, press, serve_site, tab_to
from tests.integration.support import TestDatabase
from tests.integration.test_paper import ADDRESS, PAPER_POLICY, mistyped
from tests.integration.test_staff_login import PASSWORD, csrf_from, make_user

# isort: split
# The module-loop fixtures (see live_site.py): pytest finds them by their names in this module.
from tests.integration.live_site import fixture_api_key, fixture_browser, fixture_db  # noqa: F401

pytestmark = [needs_chromium, on_one_database, pytest.mark.asyncio(loop_scope="module")]

REVIEWER = "quality_reviewer@council.gov.uk"


@pytest_asyncio.fixture(name="catalogue", loop_scope="module")
async def fixture_catalogue(db: TestDatabase) -> None:
    await db.load_catalogue(PAPER_POLICY)


class Site(LiveSite):
    async def session_cookie(self, email: str = REVIEWER) -> dict[str, Any]:
        async with httpx.AsyncClient(base_url=self.url) as client:
            form = await client.get("/staff/sign-in")
            done = await client.post(
                "/staff/sign-in", data={"email": email, "password": PASSWORD, "csrf_token": csrf_from(form.text)}
            )
            assert done.status_code == 303, done.text
            token = client.cookies.get(SESSION_COOKIE)
        assert token
        return {"name": SESSION_COOKIE, "value": token, "url": self.url, "httpOnly": True}

    async def post_contact(self, ref: str = "B-1") -> None:
        contact = {
            "source": "crm",
            "external_id": ref,
            "channel": "post",
            "service": "council-tax",
            "occurred_at": (datetime.now(UTC) - timedelta(minutes=2)).isoformat(),
            "customer": {"source_id": f"C-{ref}", "name": "Jo Bloggs", "postal_address": ADDRESS},
        }
        async with httpx.AsyncClient(base_url=self.url) as client:
            reply = await client.post("/api/v1/contacts", json=contact, headers=self.auth)
        assert reply.status_code == 202 and reply.json()["decision"]["channel"] == "paper", reply.text


@pytest.fixture
def site(settings: Settings, db: TestDatabase, catalogue: None, auth: dict[str, str]) -> Iterator[Site]:
    with serve_site(Site, settings, db, auth) as served:
        yield served


@asynccontextmanager
async def staff_page(
    browser: Browser, site: Site, *, bypass_csp: bool = True, email: str = REVIEWER
) -> AsyncIterator[Page]:
    # axe-core is injected as a script, which the app's Content-Security-Policy rightly forbids: bypassed for it.
    async with browser_context(browser, bypass_csp=bypass_csp, accept_downloads=True) as context:
        await context.add_cookies([cast(Any, await site.session_cookie(email))])
        yield await context.new_page()


async def no_violations(page: Page, name: str) -> None:
    violations = await axe_violations(page)
    assert violations == [], f"axe found WCAG problems on the {name} page:\n{describe_violations(violations)}"


async def submit(page: Page) -> None:
    async with page.expect_navigation():
        await page.keyboard.press("Enter")


async def test_print_a_batch_view_the_letter_and_key_in_its_return(
    site: Site, browser: Browser, db: TestDatabase
) -> None:
    await make_user(db, "quality_reviewer", email=REVIEWER)
    await site.post_contact()
    async with staff_page(browser, site) as page:
        await page.goto(f"{site.url}/staff/letters")
        assert await heading(page) == "Paper surveys"
        await no_violations(page, "print queue")
        # A wrong batch size: the error summary and the field's message.
        await page.get_by_label("Letters in this batch").fill("none")
        await submit(page)
        assert "There is a problem" in await page.content()
        await no_violations(page, "print queue error")
        # Keyboard: the size field, then Enter on the button downloads the PDF.
        await page.get_by_label("Letters in this batch").fill("10")
        button = await tab_to(page, "the print button", lambda el: el["tag"] == "button", limit=3)
        assert button["text"] == "Print 1 due letters (PDF)"
        async with page.expect_download() as downloading:
            await page.keyboard.press("Enter")
        download = await downloading.value
        assert download.suggested_filename.endswith(".pdf")
    [letter] = await db.all(Letter)

    # The print-ready letter under its own policy: its inline style is allowed by hash, nothing is blocked.
    async with staff_page(browser, site, bypass_csp=False) as page:
        watch = await Watch.attach(page)
        await page.goto(f"{site.url}/staff/letters/letter/{letter.reference}")
        assert await watch.problems() == []
        address = page.locator("address")
        await address.wait_for()
        box = await address.bounding_box()
        sheet = await page.locator(".sheet").bounding_box()
        assert box is not None and sheet is not None
        millimetre = sheet["width"] / 210
        assert round((box["x"] - sheet["x"]) / millimetre) == 20 and round((box["y"] - sheet["y"]) / millimetre) == 50
    async with staff_page(browser, site) as page:
        await page.goto(f"{site.url}/staff/letters/letter/{letter.reference}")
        assert await heading(page) == "Tell us about your recent contact"
        await no_violations(page, "printed letter")

        # Keying in the return by keyboard alone: a mistyped reference first.
        await page.goto(f"{site.url}/staff/letters/returns")
        await no_violations(page, "return reference")
        reference = await tab_to(page, "the reference field", lambda el: el["id"] == "reference", limit=40)
        assert reference["tag"] == "input"
        await page.keyboard.type(mistyped(letter.reference).lower())
        await submit(page)
        assert "mistyped" in await page.content()
        await no_violations(page, "return reference error")
        await page.get_by_label("Reference on the letter").fill(printed(letter.reference))
        await page.get_by_label("Reference on the letter").focus()
        await submit(page)
        assert await heading(page) == "Key in the answers"
        await no_violations(page, "return answers")

        # Question 1: Tab reaches its radios (Left blank is checked), arrow keys choose "Satisfied".
        first = await tab_to(page, "question 1", lambda el: el["type"] == "radio", limit=60)
        assert first["id"] == "satisfaction-blank" and first["checked"]
        await press(page, "ArrowDown")  # wraps round to the first choice, "Very satisfied"
        chosen = await press(page, "ArrowDown")
        assert chosen["id"] == "satisfaction-2" and chosen["checked"] and chosen["value"] == "4"
        comment = await tab_to(page, "the first comment box", lambda el: el["tag"] == "textarea", limit=10)
        assert comment["id"] == "improve"
        await page.keyboard.type("Clearer letters, please.")
        await tab_to(page, "the record button", lambda el: el["text"] == "Record the answers", limit=20)
        await submit(page)
        assert "Answers recorded for letter" in await page.content()
        await no_violations(page, "return recorded")
    [response] = await db.all(Response)
    assert (response.channel, response.satisfaction) == ("paper", 4)


async def test_print_the_reminders_due_by_keyboard(site: Site, browser: Browser, db: TestDatabase) -> None:
    await make_user(db, "quality_reviewer", email="reminders@council.gov.uk")
    await site.post_contact("B-2")
    async with staff_page(browser, site, email="reminders@council.gov.uk") as page:
        await page.goto(f"{site.url}/staff/letters")
        async with page.expect_download():
            await page.get_by_role("button", name="Print 1 due letters (PDF)").click()
        letter = max(await db.all(Letter), key=lambda printed_letter: printed_letter.id)  # the newest
        # Printed 15 days ago, and the survey still open: its one reminder is due.
        async with unit_of_work(db.sessions) as session:
            await session.execute(
                update(Invitation)
                .where(Invitation.id == letter.invitation_id)
                .values(
                    sent_at=datetime.now(UTC) - timedelta(days=15),
                    reminder_at=datetime.now(UTC) - timedelta(days=1),
                    expires_at=datetime.now(UTC) + timedelta(days=15),
                )
            )

        await page.goto(f"{site.url}/staff/letters")
        link = page.get_by_role("link", name="Reminders due (1)")
        async with page.expect_navigation():
            await link.click()
        assert await heading(page) == "Reminders due"
        await no_violations(page, "reminders due")
        await page.get_by_label("Reminders in this batch").fill("many")
        await submit(page)
        assert "There is a problem" in await page.content() and "whole number from 1 to 500" in await page.content()
        await no_violations(page, "reminders due error")

        await page.get_by_label("Reminders in this batch").fill("5")
        button = await tab_to(page, "the print button", lambda el: el["tag"] == "button", limit=3)
        assert button["text"] == "Print 1 reminders (PDF)"
        async with page.expect_download() as downloading:
            await page.keyboard.press("Enter")
        download = await downloading.value
        assert download.suggested_filename.startswith("reminders-") and download.suggested_filename.endswith(".pdf")
        await page.goto(f"{site.url}/staff/letters/reminders")
        assert "No reminders are due." in await page.content()
        await no_violations(page, "no reminders due")
    [invitation] = [i for i in await db.all(Invitation) if i.id == letter.invitation_id]
    assert invitation.reminders_sent == 1
