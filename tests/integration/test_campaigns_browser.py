"""A campaign's list and progress in a real browser: the survey page, the report of people added and the page with
an error meet WCAG 2.2 A/AA by axe-core with no console errors or CSP violations, and an administrator pastes a
list and adds it by keyboard alone with JavaScript off."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import msgspec
import pytest
from playwright.async_api import Browser, Page

from civicvoice.core.audit import Actor
from civicvoice.core.clock import utcnow
from civicvoice.core.db import unit_of_work
from civicvoice.core.settings import Settings
from surveys.builder import Campaign, create_survey, find_survey, publish_version, set_campaign
from surveys.campaigns import today_in_london
from surveys.definitions import SurveyKind, decode_definition
from surveys.models import CampaignRecipient
from tests.integration.browser import axe_violations, describe_violations, needs_chromium, on_one_database
from tests.integration.live_site import Watch, heading, serve_site, tab_to
from tests.integration.support import TestDatabase
from tests.integration.test_campaigns import DEFINITION
from tests.integration.test_staff_browser import Site, enter_and_wait, staff_page

# isort: split
# The module-loop fixtures (see live_site.py): pytest finds them by their names in this module.
from tests.integration.live_site import fixture_api_key, fixture_browser, fixture_catalogue, fixture_db  # noqa: F401

pytestmark = [needs_chromium, on_one_database, pytest.mark.asyncio(loop_scope="module")]

ADMIN = "admin@council.gov.uk"
PAGE = "/staff/surveys/key-accounts"


@pytest.fixture
def site(settings: Settings, db: TestDatabase, catalogue: None, auth: dict[str, str]) -> Iterator[Site]:
    with serve_site(Site, settings, db, auth) as served:
        yield served


async def make_campaign(site: Site, slug: str) -> None:
    today = today_in_london(utcnow())
    async with unit_of_work(site.db.sessions) as session:
        await create_survey(
            session,
            Actor.cli(),
            slug=slug,
            name="Key accounts",
            kind=SurveyKind.campaign,
            channels=None,
            definition=decode_definition(msgspec.json.encode(DEFINITION)),
        )
        found = await find_survey(session, slug)
        await publish_version(session, Actor.cli(), found, 1)
        campaign = Campaign(today + timedelta(days=1), today + timedelta(days=30), 20)
        await set_campaign(session, Actor.cli(), found, campaign)


async def submit(page: Page, selector: str) -> int:
    async with page.expect_navigation() as navigation:
        await page.locator(selector).click()
    reply = await navigation.value
    assert reply is not None
    return reply.status


async def test_the_list_and_progress_pages_meet_wcag_22_aa(site: Site, browser: Browser) -> None:
    await site.user("admin", ADMIN)
    await make_campaign(site, "key-accounts")
    found: list[str] = []

    async def check(page: Page, watch: Watch, name: str, status: int = 200) -> None:
        if violations := await axe_violations(page):
            found.append(f"{name}:\n{describe_violations(violations)}")
        assert await watch.problems(status) == [], name
        watch.clear()

    async with staff_page(browser, site, ADMIN, bypass_csp=True) as page:
        watch = await Watch.attach(page)
        await page.goto(site.url + PAGE)
        assert await page.locator("#progress-recipients").inner_text() == "0"
        await check(page, watch, "a campaign with its progress")

        await page.fill("#recipients", "email,name,organisation\nann@example.org,Ann,Acme\nnot-an-address,Bob,\n")
        assert await submit(page, "form[action$='/recipients'] button") == 200
        assert " ".join((await heading(page)).split()) == "People added to the list"
        assert await page.locator("#recipients-rejected tbody tr").count() == 1
        assert await page.locator("#progress-recipients").inner_text() == "1"
        await check(page, watch, "people added")

        await page.goto(site.url + PAGE)
        assert await submit(page, "form[action$='/recipients'] button") == 422
        assert await page.locator(".govuk-error-summary a[href='#recipients']").count() == 1
        await check(page, watch, "a campaign: nothing to add", 422)
    assert found == [], "axe found WCAG problems:\n" + "\n".join(found)


async def test_a_list_is_pasted_and_added_by_keyboard_without_javascript(site: Site, browser: Browser) -> None:
    await site.user("admin", ADMIN)
    await make_campaign(site, "key-accounts")
    async with staff_page(browser, site, ADMIN, java_script_enabled=False) as page:
        watch = await Watch.attach(page, javascript=False)
        await page.goto(site.url + PAGE)
        await tab_to(page, "the list", lambda e: e["id"] == "recipients", limit=80)
        await page.keyboard.type("email\nann@example.org\nbob@example.org\n")
        await tab_to(page, "the file", lambda e: e["id"] == "recipients_file", limit=5)
        await tab_to(page, "Add", lambda e: e["text"] == "Add to the list", limit=5)
        reply = await enter_and_wait(page)
        assert reply is not None and reply.status == 200
        assert await page.locator("#progress-recipients").inner_text() == "2"
        assert await watch.problems() == []
    assert len(await site.db.all(CampaignRecipient)) == 2
