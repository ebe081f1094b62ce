"""The kiosk in a real browser against the REAL app: enrolled by its link, answered by a tap and by keyboard alone,
returning to its first screen when left idle (with and without JavaScript, on a short idle setting), every
screen (in English and in Welsh) and the administrator's kiosk pages meeting WCAG 2.2 A/AA (axe-core) with no
console errors or CSP violations. A visitor who switches to Welsh leaves a kiosk that starts again in English."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any, cast

import httpx
import pytest
from playwright.async_api import Browser, Page, expect
from sqlalchemy import select

from civicvoice.core.audit import Actor
from civicvoice.core.db import unit_of_work
from civicvoice.core.settings import Settings
from civicvoice.staff.web import SESSION_COOKIE
from privacy.vault import Vault
from surveys.channels.kiosk import enrol_path, issue_kiosk
from surveys.models import Answer, Kiosk, Response
from surveys.responses import read_answer_text
from tests.integration.browser import (
    axe_violations,
    browser_context,
    describe_violations,
    needs_chromium,
    on_one_database,
)
from tests.integration.live_site import LiveSite, Watch, heading, serve_site, tab_to
from tests.integration.support import TestDatabase
from tests.integration.test_authorisation_matrix import session_cookie
from tests.integration.test_staff_login import make_user
from tests.integration.test_survey_builder_welsh import WELSH_CSAT, publish_in_welsh

# isort: split
# The module-loop fixtures (see live_site.py): pytest finds them by their names in this module.
from tests.integration.live_site import fixture_api_key, fixture_browser, fixture_catalogue, fixture_db  # noqa: F401

pytestmark = [needs_chromium, on_one_database, pytest.mark.asyncio(loop_scope="module")]

IDLE_SECONDS = 1
QUESTION = "Overall, how satisfied were you with the service you received?"


class Site(LiveSite):
    async def offer_welsh(self) -> None:
        """Publish a version of the post-contact survey (the kiosk's) in English and Welsh, through the API."""
        async with httpx.AsyncClient(base_url=self.url) as client:
            await publish_in_welsh(cast(Any, client), self.app, self.db)

    async def enrol_link(self) -> str:
        async with unit_of_work(self.db.sessions) as session:
            issued = await issue_kiosk(session, name="Central Library", service_slug="libraries", actor=Actor.cli())
        return self.url + enrol_path(issued.enrol_key)

    async def admin_cookie(self) -> dict[str, Any]:
        """A signed-in administrator's session cookie (a session row, as signing in makes one)."""
        token = await session_cookie(self.db, (await make_user(self.db, "admin")).id)
        return {"name": SESSION_COOKIE, "value": token, "url": self.url, "httpOnly": True, "sameSite": "Lax"}

    async def responses(self) -> list[tuple[int | None, str | None]]:
        """Each stored response's satisfaction and its comment, decrypted."""
        vault = self.app.state.services.get(Vault)
        found: list[tuple[int | None, str | None]] = []
        async with self.db.sessions() as session:
            for response in (await session.scalars(select(Response))).all():
                assert response.channel == "kiosk" and response.anonymous and response.subject_id is None
                texts = (
                    await session.scalars(
                        select(Answer).where(Answer.response_id == response.id, Answer.text_ciphertext.is_not(None))
                    )
                ).all()
                comment = await read_answer_text(session, vault, response, texts[0]) if texts else None
                found.append((response.satisfaction, comment))
        return found


@pytest.fixture
def idle_seconds() -> int:
    return IDLE_SECONDS


@pytest.fixture
def site(
    settings: Settings, db: TestDatabase, catalogue: None, auth: dict[str, str], idle_seconds: int
) -> Iterator[Site]:
    with serve_site(Site, settings.with_changes(kiosk_idle_seconds=idle_seconds), db, auth) as served:
        yield served


COMMENT_URL = re.compile(r".*/kiosk/comment\?answer=[0-9a-f]{32}\.[0-9]+\.[0-9a-f]{64}$")


@asynccontextmanager
async def tablet(browser: Browser, site: Site, **options: Any) -> AsyncIterator[tuple[Page, Watch]]:
    """A tablet-sized browser, enrolled as the kiosk by opening its link and confirming."""
    options.setdefault("viewport", {"width": 1024, "height": 768})
    async with browser_context(browser, has_touch=True, **options) as context:
        page = await context.new_page()
        watch = await Watch.attach(page, javascript=options.get("java_script_enabled", True))
        await page.goto(await site.enrol_link())
        assert await heading(page) == "Set up this tablet as a kiosk"
        if options.get("bypass_csp"):
            await no_violations_here(page)
        await page.get_by_role("button", name="Set up this tablet").click()
        await expect(page).to_have_url(f"{site.url}/kiosk")
        yield page, watch


async def no_violations_here(page: Page) -> None:
    """axe-core on the page as it is (its context lets axe's script in: bypass_csp=True)."""
    violations = await axe_violations(page)
    assert violations == [], f"{page.url}:\n{describe_violations(violations)}"


async def no_violations(browser: Browser, url: str, cookies: list[dict[str, Any]]) -> None:
    """axe-core on a page, opened with the same cookies in a context that lets axe's script in."""
    async with browser_context(browser, bypass_csp=True, viewport={"width": 1024, "height": 768}) as context:
        await context.add_cookies(cast(Any, cookies))
        page = await context.new_page()
        await page.goto(url)
        violations = await axe_violations(page)
        assert violations == [], f"{url}:\n{describe_violations(violations)}"


# Long enough for axe-core to read each screen before it starts again (the other tests use the short setting).
@pytest.mark.parametrize("idle_seconds", [60])
async def test_a_tap_answers_and_every_screen_is_accessible(site: Site, browser: Browser) -> None:
    # axe-core needs its script let in, so this tablet is not watched for CSP violations (the others are).
    async with tablet(browser, site, bypass_csp=True) as (page, watch):
        cookies = await page.context.cookies()
        [device] = [c for c in cookies if c["name"] == "cv_kiosk"]
        assert device["httpOnly"] and device["sameSite"] == "Strict"
        assert await heading(page) == QUESTION
        await no_violations_here(page)
        # Large touch targets: every answer is a big button.
        buttons = page.locator("button[name=rating]")
        assert await buttons.count() == 5
        for index in range(5):
            box = await buttons.nth(index).bounding_box()
            assert box is not None and box["height"] >= 100 and box["width"] >= 150, box

        await page.get_by_role("button", name="Dissatisfied", exact=True).tap()
        await expect(page).to_have_url(COMMENT_URL)
        assert await heading(page) == "What could we do better? (optional)"
        await no_violations_here(page)
        await page.get_by_label("What could we do better? (optional)").fill("Longer opening hours, please.")
        await page.get_by_role("button", name="Send comment").tap()
        await expect(page).to_have_url(f"{site.url}/kiosk/thanks")
        assert await heading(page) == "Thank you for your feedback"
        await no_violations_here(page)
        assert await watch.problems() == []
    assert await site.responses() == [(2, "Longer opening hours, please.")]

    # The administrator's page, and the page a tablet that is no kiosk gets, meet the same standard.
    admin = [await site.admin_cookie()]
    [kiosk] = await site.db.all(Kiosk)
    for path in ("/staff/kiosks", f"/staff/kiosks/{kiosk.id}/revoke"):
        await no_violations(browser, site.url + path, admin)
    await no_violations(browser, f"{site.url}/kiosk", [])


async def test_keyboard_alone_and_the_idle_reset_on_the_comment_screen(site: Site, browser: Browser) -> None:
    async with tablet(browser, site) as (page, watch):
        choice = await tab_to(page, "the 'Very satisfied' answer", lambda el: el["text"] == "Very satisfied")
        assert choice["tag"] == "button"
        await page.keyboard.press("Enter")  # submits: the next page is checked, not this one's focus
        await expect(page).to_have_url(COMMENT_URL)
        await tab_to(page, "the comment box", lambda el: el["id"] == "comment")
        # Typing keeps the screen: the reset waits for IDLE_SECONDS without a key or a touch.
        for word in ("Very ", "helpful ", "staff."):
            await page.keyboard.type(word)
            await page.wait_for_timeout(IDLE_SECONDS * 1000 // 2)
        assert "/kiosk/comment" in page.url
        await tab_to(page, "Send comment", lambda el: el["text"] == "Send comment")
        await page.keyboard.press("Enter")  # submits: the next page is checked, not this one's focus
        await expect(page).to_have_url(f"{site.url}/kiosk/thanks")
        # Left alone, the thank-you screen starts again for the next person.
        await expect(page).to_have_url(f"{site.url}/kiosk", timeout=IDLE_SECONDS * 1000 + 3000)
        # So does a page reached from the kiosk: its privacy notice.
        await page.get_by_role("link", name="Privacy notice").click()
        await expect(page).to_have_url(f"{site.url}/privacy")
        await expect(page).to_have_url(f"{site.url}/kiosk", timeout=IDLE_SECONDS * 1000 + 3000)

        # A visitor who taps and walks away: the comment screen warns, then starts again; the tap is kept.
        await page.get_by_role("button", name="Neither satisfied nor dissatisfied").click()
        await expect(page).to_have_url(COMMENT_URL)
        await expect(page.locator("#kiosk-idle-warning p")).to_be_visible(timeout=IDLE_SECONDS * 1000)
        await expect(page).to_have_url(f"{site.url}/kiosk", timeout=IDLE_SECONDS * 1000 + 3000)
        assert await watch.problems() == []
    assert sorted(await site.responses(), key=lambda r: r[0] or 0) == [(3, None), (5, "Very helpful staff.")]


async def test_without_javascript_the_kiosk_still_answers_and_returns(site: Site, browser: Browser) -> None:
    async with tablet(browser, site, java_script_enabled=False) as (page, watch):
        await page.get_by_role("button", name="Very dissatisfied").click()
        await page.get_by_role("button", name="Skip").click()
        await expect(page).to_have_url(f"{site.url}/kiosk/thanks")
        await expect(page).to_have_url(f"{site.url}/kiosk", timeout=IDLE_SECONDS * 1000 + 3000)
        assert await watch.problems() == []
    assert await site.responses() == [(1, None)]


@pytest.mark.parametrize("idle_seconds", [60])
async def test_the_welsh_screens_are_accessible_and_answer_in_welsh(site: Site, browser: Browser) -> None:
    await site.offer_welsh()
    async with tablet(browser, site, bypass_csp=True) as (page, watch):
        switch = page.get_by_role("navigation", name="Language")
        cymraeg = switch.get_by_role("link", name="Cymraeg")
        box = await cymraeg.bounding_box()
        assert box is not None and box["height"] >= 60 and box["width"] >= 150, box  # a large touch target
        await cymraeg.tap()
        await expect(page).to_have_url(f"{site.url}/kiosk?lang=cy")
        await expect(page.locator("html")).to_have_attribute("lang", "cy")
        assert await heading(page) == WELSH_CSAT
        # The switch is named in the page's language now.
        welsh_switch = page.get_by_role("navigation", name="Iaith")
        await expect(welsh_switch.get_by_role("link", name="Cymraeg")).to_have_attribute("aria-current", "page")
        await no_violations_here(page)

        await page.get_by_role("button", name="[cy] Dissatisfied", exact=True).tap()
        await expect(page).to_have_url(re.compile(r".*/kiosk/comment\?answer=[^&]+&lang=cy$"))
        assert await heading(page) == "[cy] What could we do better? (dewisol)"
        await no_violations_here(page)
        await page.get_by_role("button", name="Anfon sylw").tap()  # empty: nothing to add, on to thanks
        await expect(page).to_have_url(f"{site.url}/kiosk/thanks?lang=cy")
        assert await heading(page) == "Diolch am eich adborth"
        await no_violations_here(page)
        await page.get_by_role("link", name="Dechrau eto").tap()
        await expect(page).to_have_url(f"{site.url}/kiosk")
        await expect(page.locator("html")).to_have_attribute("lang", "en")
        assert await watch.problems() == []
    assert await site.responses() == [(2, None)]

    # The administrator's page to change the survey a kiosk asks meets the same standard.
    [kiosk] = await site.db.all(Kiosk)
    await no_violations(browser, f"{site.url}/staff/kiosks/{kiosk.id}/survey", [await site.admin_cookie()])


async def test_a_kiosk_left_in_welsh_starts_again_in_english(site: Site, browser: Browser) -> None:
    await site.offer_welsh()
    async with tablet(browser, site) as (page, watch):
        await expect(page.locator("html")).to_have_attribute("lang", "en")
        await page.get_by_role("link", name="Cymraeg").click()
        await expect(page.locator("html")).to_have_attribute("lang", "cy")
        # Nobody taps: the first screen returns to home, in English, for the next visitor.
        await expect(page).to_have_url(f"{site.url}/kiosk", timeout=IDLE_SECONDS * 1000 + 3000)
        await expect(page.locator("html")).to_have_attribute("lang", "en")
        assert await heading(page) == QUESTION
        # In English the first screen stays for as long as it takes.
        await page.wait_for_timeout(IDLE_SECONDS * 1000 + 1000)
        assert page.url == f"{site.url}/kiosk"
        assert await watch.problems() == []
