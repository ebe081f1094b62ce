"""The scorecard in a real browser: the dashboard and a drill-down reached by keyboard alone with JavaScript off,
every scorecard page meeting WCAG 2.2 A/AA (axe-core) with no console errors or CSP violations, and the demand
outlook of the demo's history drawn with the figures `forecast` gives."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, cast

import httpx
import pytest
from playwright.async_api import Browser, Page
from playwright.async_api import Response as PageResponse

from civicvoice.app import build_services, features
from civicvoice.core.clock import utcnow
from civicvoice.core.db import unit_of_work
from civicvoice.core.settings import Settings
from civicvoice.demo_history import load_history
from civicvoice.staff.web import SESSION_COOKIE
from feedback.scorecard.charts import format_value
from feedback.scorecard.forecast import Frequency, forecast_demand, series_from_counts
from feedback.scorecard.forecasting import OUTLOOK_MONTHS
from feedback.scorecard.formulas import ServiceLevelThresholds
from feedback.scorecard.measures import Unit
from feedback.scorecard.rollups import month_start, previous_month
from feedback.scorecard.upkeep import fill_history
from surveys.models import Contact
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
ADMIN = "admin@council.gov.uk"


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
    await make_user(site.db, "admin")


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


async def open_service_levels(page: Page, site: Site) -> PageResponse | None:
    return await page.goto(f"{site.url}/staff/scorecard/service-levels")


async def set_service_levels_wrongly(page: Page, site: Site) -> PageResponse | None:
    await page.goto(f"{site.url}/staff/scorecard/service-levels")
    await page.fill("#phone", "0")
    await page.fill("#web_chat", "a minute")
    async with page.expect_navigation() as navigation:
        await page.click("main button[type=submit]")
    return await navigation.value


PAGES: dict[str, tuple[str, Reach, int, str]] = {
    "dashboard": (REVIEWER, open_dashboard, 200, "Scorecard"),
    "drill-down": (REVIEWER, open_drill_down, 200, "Average wait time"),
    "entries-error": (MANAGER, enter_wrongly, 422, "Enter scorecard figures"),
    "targets": (MANAGER, open_targets, 200, "Scorecard targets"),
    "service-levels": (ADMIN, open_service_levels, 200, "Service-level thresholds"),
    "service-levels-error": (ADMIN, set_service_levels_wrongly, 422, "Service-level thresholds"),
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


async def test_the_outlook_of_the_demo_history_is_drawn_with_the_figures_forecasting_gives(
    site: Site, browser: Browser
) -> None:
    # The site's catalogue is the demo's (with its published survey); the history comes on top, as `make run` loads it.
    services = await build_services(site.settings, site.db.sessions, features())
    async with unit_of_work(site.db.sessions) as session:
        await load_history(session, services, per_month=12, seed=7)
    await make_user(site.db, "quality_reviewer")
    # Expected, from the raw contacts: each service and channel's monthly series up to last month, forecast as
    # `forecast` does, summed per coming month.
    counts: dict[tuple[Any, str], Counter[date]] = defaultdict(Counter)
    for contact in await site.db.all(Contact):
        if month_start(contact.occurred_at) <= LAST_MONTH:
            counts[(contact.service_id, contact.channel)][month_start(contact.occurred_at)] += 1
    expected: dict[date, list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0])
    for series_counts in counts.values():
        series = series_from_counts(series_counts, frequency=Frequency.monthly, last=LAST_MONTH)
        outlook = forecast_demand(series, frequency=Frequency.monthly, horizon=OUTLOOK_MONTHS)
        for period, point in outlook.periods(LAST_MONTH, Frequency.monthly):
            for index, value in enumerate((point.value, point.low, point.high)):
                expected[period][index] += value
    rows = [
        [f"{period:%b %Y}", *(format_value(value, Unit.number) for value in expected[period])]
        for period in sorted(expected)
    ]
    assert len(rows) == OUTLOOK_MONTHS
    async with signed_in(browser, site, REVIEWER) as page:
        await page.goto(f"{site.url}/staff/scorecard")
        chart = page.locator("figure", has=page.locator("svg[aria-labelledby^=outlook]"))
        assert await chart.locator("svg title").text_content() == "Demand forecast for the coming months"
        assert "95% interval" in (await chart.locator("svg desc").text_content() or "")
        assert await chart.locator("svg rect").count() >= 1  # the interval band in the legend
        table = chart.locator("table")
        head = [cell.strip() for cell in await table.locator("thead th").all_text_contents()]
        assert head == ["Period", "Forecast", "Forecast: low", "Forecast: high"]
        shown = [
            [cell.strip() for cell in await row.locator("th, td").all_text_contents()]
            for row in await table.locator("tbody tr").all()
        ]
        assert shown == rows
        # One service's outlook is that service's own (the filters apply to it).
        await page.goto(f"{site.url}/staff/scorecard?service=council-tax&channel=phone")
        narrowed = page.locator("figure", has=page.locator("svg[aria-labelledby^=outlook]")).locator("tbody tr")
        first = [cell.strip() for cell in await narrowed.first.locator("th, td").all_text_contents()]
        assert first[0] == rows[0][0] and first[1:] != rows[0][1:]
    async with signed_in(browser, site, REVIEWER, bypass_csp=True) as page:
        await page.goto(f"{site.url}/staff/scorecard")
        assert await page.locator("svg[aria-labelledby^=outlook]").count() == 1
        violations = await axe_violations(page)
    assert violations == [], (
        f"axe found WCAG problems on the dashboard with its outlook:\n{describe_violations(violations)}"
    )
