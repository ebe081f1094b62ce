"""The scorecard-by-email page in a real browser: WCAG 2.2 A/AA by axe-core in each state (not subscribed, an
error, subscribed), no console errors or CSP violations, and the whole journey by keyboard without JavaScript."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass

import pytest
from playwright.async_api import Browser, Page
from playwright.async_api import Response as PageResponse

from civicvoice.core.settings import Settings
from exports.models import ReportSubscription
from tests.integration.browser import axe_violations, describe_violations, needs_chromium, on_one_database
from tests.integration.live_site import Watch, focused, heading, serve_site
from tests.integration.support import TestDatabase
from tests.integration.test_exports_browser import ExportSite
from tests.integration.test_staff_browser import staff_page

# isort: split
# The module-loop fixtures (see live_site.py): pytest finds them by their names in this module.
from tests.integration.live_site import fixture_api_key, fixture_browser, fixture_catalogue, fixture_db  # noqa: F401

pytestmark = [needs_chromium, on_one_database, pytest.mark.asyncio(loop_scope="module")]

MANAGER = "service_manager@council.gov.uk"
PAGE = "/staff/reports/subscription"


@pytest.fixture
def site(settings: Settings, db: TestDatabase, catalogue: None, auth: dict[str, str]) -> Iterator[ExportSite]:
    with serve_site(ExportSite, settings, db, auth) as served:
        yield served


async def open_form(page: Page, site: ExportSite) -> PageResponse | None:
    return await page.goto(f"{site.url}{PAGE}")


async def submit(page: Page, button: str | re.Pattern[str]) -> PageResponse | None:
    async with page.expect_navigation() as navigation:
        await page.get_by_role("button", name=button).click()
    return await navigation.value


async def without_a_choice(page: Page, site: ExportSite) -> PageResponse | None:
    await open_form(page, site)
    return await submit(page, "Subscribe")


async def subscribed(page: Page, site: ExportSite) -> PageResponse | None:
    await open_form(page, site)
    await page.get_by_role("radio", name="Weekly").check()
    await page.get_by_role("radio", name="A link to the spreadsheet").check()
    # "Subscribe" the first time, "Save my choice" once subscribed (the axe pass reaches this state again).
    return await submit(page, re.compile("^(Subscribe|Save my choice)$"))


@dataclass(frozen=True)
class PageState:
    reach: Callable[[Page, ExportSite], Awaitable[PageResponse | None]]
    status: int


PAGE_STATES = {
    "form": PageState(open_form, 200),
    "error": PageState(without_a_choice, 422),
    "subscribed": PageState(subscribed, 200),
}


async def test_the_subscription_page_meets_wcag_22_aa_without_console_errors(
    site: ExportSite, browser: Browser
) -> None:
    """Every state in one test, on one live server: starting one per state costs more than the checks."""
    await site.user("service_manager", service_scope=["parking"])
    for name, state in PAGE_STATES.items():
        async with staff_page(browser, site, MANAGER) as page:
            watch = await Watch.attach(page)
            reply = await state.reach(page, site)
            assert reply is not None and reply.status == state.status, f"{name}: {await page.content()}"
            assert await heading(page) == "Scorecard by email"
            assert await watch.problems(state.status) == [], name
        async with staff_page(browser, site, MANAGER, bypass_csp=True) as page:
            reply = await state.reach(page, site)
            assert reply is not None and reply.status == state.status
            violations = await axe_violations(page)
        assert violations == [], f"axe found WCAG problems on the {name} page:\n{describe_violations(violations)}"


async def test_subscribe_and_stop_by_keyboard_without_javascript(site: ExportSite, browser: Browser) -> None:
    await site.user("service_manager", service_scope=["parking"])
    async with staff_page(browser, site, MANAGER, java_script_enabled=False) as page:
        await open_form(page, site)
        await page.get_by_label("Monthly").focus()
        await page.keyboard.press("ArrowDown")  # arrows move between radios: to "Weekly"
        assert (await focused(page))["value"] == "weekly"
        await page.keyboard.press("Tab")  # to the next group: its first radio, "attached"
        await page.keyboard.press("Space")
        assert (await focused(page))["value"] == "attachment"
        async with page.expect_navigation():
            await page.keyboard.press("Enter")
        assert "You receive it weekly: the spreadsheet attached." in await page.content()
        (subscription,) = await site.db.all(ReportSubscription)
        assert (subscription.frequency, subscription.delivery) == ("weekly", "attachment")
        stop = page.get_by_role("button", name="Stop sending it")
        await stop.focus()
        async with page.expect_navigation():
            await page.keyboard.press("Enter")
        assert "You will no longer receive the scorecard by email." in await page.content()
    assert await site.db.count(ReportSubscription) == 0
