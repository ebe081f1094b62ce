"""The scorecard in a real browser: the dashboard and a drill-down reached by keyboard alone with JavaScript off,
and every scorecard page meeting WCAG 2.2 A/AA (axe-core) with no console errors or CSP violations."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import httpx
import pytest
from playwright.async_api import Browser, Page
from playwright.async_api import Response as PageResponse

from civicvoice.core.clock import utcnow
from civicvoice.core.db import unit_of_work
from civicvoice.core.settings import Settings
from civicvoice.staff.web import SESSION_COOKIE
from feedback.scorecard.formulas import ServiceLevelThresholds
from feedback.scorecard.rollups import month_start, previous_month
from feedback.scorecard.upkeep import fill_history
from tests.integration.browser import (
    axe_violations,
    browser_context,
    describe_violations,
    needs_chromium,
    on_one_database,
)
from tests.integration.live_site import LiveSite, Watch, heading, serve_site, tab_to
from tests.integration.scorecard_data import Builder, ContactSpec
from tests.integration.support import TestDatabase
from tests.integration.test_staff_login import PASSWORD, csrf_from, make_user

# isort: split
# The module-loop fixtures (see live_site.py): pytest finds them by their names in this module.
from tests.integration.live_site import fixture_api_key, fixture_browser, fixture_catalogue, fixture_db  # noqa: F401

pytestmark = [needs_chromium, on_one_database, pytest.mark.asyncio(loop_scope="module")]

REVIEWER = "quality_reviewer@council.gov.uk"
MANAGER = "service_manager@council.gov.uk"


@dataclass
class Site(LiveSite):
    cookies: dict[str, dict[str, Any]] = field(default_factory=dict)

    async def cookie(self, email: str) -> dict[str, Any]:
        """Signs in once per person over HTTP and returns the session cookie for a browser."""
        if email in self.cookies:
            return self.cookies[email]
        async with httpx.AsyncClient(base_url=self.url) as client:
            form = await client.get("/staff/sign-in")
            done = await client.post(
                "/staff/sign-in", data={"email": email, "password": PASSWORD, "csrf_token": csrf_from(form.text)}
            )
            assert done.status_code == 303, done.text
            token = client.cookies.get(SESSION_COOKIE)
        assert token
        self.cookies[email] = {
            "name": SESSION_COOKIE,
            "value": token,
            "url": self.url,
            "httpOnly": True,
            "sameSite": "Lax",
        }
        return self.cookies[email]


@pytest.fixture
def site(settings: Settings, db: TestDatabase, catalogue: None, auth: dict[str, str]) -> Iterator[Site]:
    with serve_site(Site, settings, db, auth) as served:
        yield served


LAST_MONTH = previous_month(month_start(utcnow()))


async def some_months(site: Site) -> None:
    """Three months of contacts on two services and channels, then the rollups as the demo fills them."""
    specs = []
    months = [previous_month(previous_month(LAST_MONTH)), previous_month(LAST_MONTH), LAST_MONTH]
    for index, month in enumerate(months):
        for day in range(1, 25, 3):
            moment = datetime(month.year, month.month, day, 10, tzinfo=UTC)
            specs.append(
                ContactSpec(
                    "council-tax",
                    "phone" if day % 2 else "web_chat",
                    moment,
                    agent="A1",
                    person=day,
                    wait=10 + day * 3,
                    handling=200 + day,
                    invited=True,
                    answered=day % 3 == 1,
                    satisfaction=1 + (day + index) % 5,
                    resolved="yes",
                    sentiment=0.2,
                    evaluation=70.0 + index,
                )
            )
            specs.append(ContactSpec("parking", "email", moment + timedelta(hours=1), wait=3600))
    async with unit_of_work(site.db.sessions) as session:
        await Builder().add(session, specs)
        await fill_history(session, thresholds=ServiceLevelThresholds())
    await make_user(site.db, "quality_reviewer")
    await make_user(site.db, "service_manager", service_scope=["council-tax"])


@asynccontextmanager
async def signed_in(browser: Browser, site: Site, email: str, **options: Any) -> AsyncIterator[Page]:
    async with browser_context(browser, locale="en-GB", timezone_id="Europe/London", **options) as context:
        await context.add_cookies([cast(Any, await site.cookie(email))])
        yield await context.new_page()


async def test_dashboard_and_drill_down_by_keyboard_alone_without_javascript(site: Site, browser: Browser) -> None:
    await some_months(site)
    async with signed_in(browser, site, REVIEWER, java_script_enabled=False) as page:
        await page.goto(f"{site.url}/staff/scorecard?month={LAST_MONTH:%Y-%m}")
        title = await heading(page)
        assert title.startswith("Scorecard") and f"All services, {LAST_MONTH:%B %Y}" in title
        assert await page.locator("svg[role=img]").count() >= 5
        # Every chart has its figures as a table, and the figures table lists every measure.
        assert await page.locator("figure details table").count() == await page.locator("figure svg").count()
        await tab_to(page, "the service list", lambda e: e["id"] == "service")
        names = [name.strip() for name in await page.locator("#service option").all_inner_texts()]
        for _ in range(names.index("Council Tax")):
            await page.keyboard.press("ArrowDown")
        chosen = await page.locator("#service").input_value()
        assert chosen == "council-tax"
        await tab_to(page, "the show button", lambda e: e["tag"] == "button" and "Show figures" in e["text"])
        async with page.expect_navigation():
            await page.keyboard.press("Enter")
        assert f"service={chosen}" in page.url
        await tab_to(
            page,
            "the service level link",
            lambda e: e["tag"] == "a" and e["text"].startswith("Service level"),
            limit=80,
        )
        async with page.expect_navigation():
            await page.keyboard.press("Enter")
        assert (await heading(page)).startswith("Service level") and "measure=service-level" in page.url
        total = await page.locator("#total").inner_text()
        assert total.endswith("records") and total != "0 records"


Reach = Callable[[Page, Site], Awaitable[PageResponse | None]]


async def open_dashboard(page: Page, site: Site) -> PageResponse | None:
    return await page.goto(f"{site.url}/staff/scorecard?month={LAST_MONTH:%Y-%m}&service=council-tax")


async def open_drill_down(page: Page, site: Site) -> PageResponse | None:
    return await page.goto(
        f"{site.url}/staff/scorecard/records?month={LAST_MONTH:%Y-%m}&service=council-tax&measure=average-wait"
    )


async def enter_wrongly(page: Page, site: Site) -> PageResponse | None:
    await page.goto(f"{site.url}/staff/scorecard/entries?month={LAST_MONTH:%Y-%m}")
    await page.fill("#value", "lots")
    async with page.expect_navigation() as navigation:
        await page.click("main button[type=submit]")
    return await navigation.value


async def open_targets(page: Page, site: Site) -> PageResponse | None:
    return await page.goto(f"{site.url}/staff/scorecard/targets")


PAGES: dict[str, tuple[str, Reach, int, str]] = {
    "dashboard": (REVIEWER, open_dashboard, 200, "Scorecard"),
    "drill-down": (REVIEWER, open_drill_down, 200, "Average wait time"),
    "entries-error": (MANAGER, enter_wrongly, 422, "Enter scorecard figures"),
    "targets": (MANAGER, open_targets, 200, "Scorecard targets"),
}


@pytest.mark.parametrize("name", PAGES)
async def test_scorecard_pages_meet_wcag_22_aa_without_console_errors(site: Site, browser: Browser, name: str) -> None:
    await some_months(site)
    who, reach, status, title = PAGES[name]
    async with signed_in(browser, site, who) as page:
        watch = await Watch.attach(page)
        reply = await reach(page, site)
        assert reply is not None and reply.status == status, await page.content()
        assert (await heading(page)).startswith(title)
        assert await watch.problems(status) == []
    async with signed_in(browser, site, who, bypass_csp=True) as page:
        await reach(page, site)
        violations = await axe_violations(page)
    assert violations == [], f"axe found WCAG problems on the scorecard {name} page:\n{describe_violations(violations)}"
