"""The scorecard figures import page in a real browser: WCAG 2.2 A/AA by axe-core on the upload form, its error
state and its report, no console errors or CSP violations, and the form used by keyboard."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime

import pytest
from playwright.async_api import Browser, Page, expect
from playwright.async_api import Response as PageResponse

from civicvoice.core.settings import Settings
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
MONTH = f"{datetime.now(UTC):%Y-%m}"


@pytest.fixture
def site(settings: Settings, db: TestDatabase, catalogue: None, auth: dict[str, str]) -> Iterator[ExportSite]:
    with serve_site(ExportSite, settings, db, auth) as served:
        yield served


async def open_form(page: Page, site: ExportSite) -> PageResponse | None:
    return await page.goto(f"{site.url}/staff/imports/figures")


async def upload(page: Page, site: ExportSite, content: bytes, name: str) -> PageResponse | None:
    await page.goto(f"{site.url}/staff/imports/figures")
    await page.get_by_label("Spreadsheet").set_input_files({"name": name, "mimeType": "text/csv", "buffer": content})
    async with page.expect_navigation() as navigation:
        await page.get_by_role("button", name="Import").click()
    return await navigation.value


async def bad_file(page: Page, site: ExportSite) -> PageResponse | None:
    return await upload(page, site, b"Month,Service,Shoe size\r\n2026-01,parking,9\r\n", "odd.csv")


async def report(page: Page, site: ExportSite) -> PageResponse | None:
    rows = (
        "Month,Service,Measure,Team,Value\r\n"
        f"{MONTH},council-tax,utilisation,A,80\r\n"
        f"{MONTH},parking,utilisation,,9\r\n"  # not this manager's service: a rejected row in the report
    )
    return await upload(page, site, rows.encode(), "figures.csv")


STATES: list[tuple[str, Callable[[Page, ExportSite], Awaitable[PageResponse | None]], int, str]] = [
    ("form", open_form, 200, "Import scorecard figures"),
    ("error", bad_file, 422, "Import scorecard figures"),
    ("report", report, 200, "Figures imported"),
]


async def test_the_figures_import_pages_meet_wcag_22_aa_and_work_by_keyboard(
    site: ExportSite, browser: Browser
) -> None:
    await site.user("service_manager", service_scope=["council-tax"])
    for name, reach, status, title in STATES:
        async with staff_page(browser, site, MANAGER) as page:
            watch = await Watch.attach(page)
            reply = await reach(page, site)
            assert reply is not None and reply.status == status, await page.content()
            assert await heading(page) == title
            assert await watch.problems(status) == []
            if name == "error":
                await expect(page.locator(".govuk-error-summary")).to_contain_text("Unknown column: Shoe size")
            if name == "report":
                await expect(page.locator("#stored")).to_have_text("1")
                await expect(page.get_by_role("table")).to_contain_text("your own services")
        async with staff_page(browser, site, MANAGER, bypass_csp=True) as page:
            reply = await reach(page, site)
            assert reply is not None and reply.status == status
            violations = await axe_violations(page)
        assert violations == [], f"axe found WCAG problems on the {name} page:\n{describe_violations(violations)}"

    # Keyboard: the codes open from their summary with Enter, the error summary's link moves focus to the field.
    async with staff_page(browser, site, MANAGER) as page:
        await open_form(page, site)
        await page.locator(".govuk-details__summary").focus()
        await page.keyboard.press("Enter")
        await expect(page.get_by_role("cell", name="council-tax")).to_be_visible()
        await bad_file(page, site)
        await page.locator(".govuk-error-summary a").focus()
        await page.keyboard.press("Enter")
        assert (await focused(page)).get("id") == "file"
