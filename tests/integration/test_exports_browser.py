"""The export and import pages in a real browser: WCAG 2.2 A/AA by axe-core in every state (the form, its
errors, a background export waiting and ready, the import form, its error and its report), no console errors
or CSP violations, keyboard use, and the progress page updating itself when JavaScript runs."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from openpyxl import load_workbook
from playwright.async_api import Browser, Page, expect
from playwright.async_api import Response as PageResponse
from sqlalchemy import select

from civicvoice.core.auth import StaffUser
from civicvoice.core.settings import Settings
from civicvoice.staff.web import SESSION_COOKIE
from tests.integration.browser import axe_violations, describe_violations, needs_chromium, on_one_database
from tests.integration.live_site import Watch, focused, heading, serve_site
from tests.integration.support import TestDatabase
from tests.integration.test_authorisation_matrix import session_cookie
from tests.integration.test_staff_browser import Site, staff_page

# isort: split
# The module-loop fixtures (see live_site.py): pytest finds them by their names in this module.
from tests.integration.live_site import fixture_api_key, fixture_browser, fixture_catalogue, fixture_db  # noqa: F401

pytestmark = [needs_chromium, on_one_database, pytest.mark.asyncio(loop_scope="module")]

REVIEWER = "quality_reviewer@council.gov.uk"
ADMIN = "admin@council.gov.uk"


@dataclass
class ExportSite(Site):
    async def session_cookie(self, email: str) -> dict[str, Any]:
        """A session made in the database, as the authorisation matrix makes them: no password hashing, which
        on a loaded machine can outlast an HTTP client's patience (the sign-in journey is tested elsewhere)."""
        if email not in self.cookies:
            async with self.db.sessions() as session:
                user = await session.scalar(select(StaffUser).where(StaffUser.email == email))
            assert user is not None
            token = await session_cookie(self.db, user.id)
            self.cookies[email] = {"name": SESSION_COOKIE, "value": token, "url": self.url, "httpOnly": True}
        return self.cookies[email]


@pytest.fixture
def site(settings: Settings, db: TestDatabase, catalogue: None, auth: dict[str, str]) -> Iterator[ExportSite]:
    with serve_site(ExportSite, settings, db, auth) as served:
        yield served


async def staff(site: ExportSite) -> None:
    await site.user("quality_reviewer")
    await site.user("admin")
    events = [
        {
            "source": "crm",
            "external_id": f"b{n}",
            "channel": "phone",
            "service": "council-tax",
            "occurred_at": (datetime.now(UTC) - timedelta(hours=1)).isoformat(),
        }
        for n in range(3)
    ]
    async with httpx.AsyncClient(base_url=site.url, timeout=60) as client:
        answer = await client.post("/api/v1/contacts/batch", json={"events": events}, headers=site.auth)
        assert answer.status_code == 200, answer.text


async def open_form(page: Page, site: ExportSite) -> PageResponse | None:
    return await page.goto(f"{site.url}/staff/exports")


async def identified_without_reason(page: Page, site: ExportSite) -> PageResponse | None:
    await page.goto(f"{site.url}/staff/exports/identified")
    await page.get_by_role("radio", name="Comments").check()
    async with page.expect_navigation() as navigation:
        await page.get_by_role("button", name="Export").click()
    return await navigation.value


async def background_export(page: Page, site: ExportSite) -> PageResponse | None:
    await page.goto(f"{site.url}/staff/exports")
    await page.get_by_role("radio", name="Contacts").check()
    await page.get_by_role("radio", name="CSV").check()
    async with page.expect_navigation() as navigation:
        await page.get_by_role("button", name="Export").click()
    return await navigation.value


async def ready_export(page: Page, site: ExportSite) -> PageResponse | None:
    await background_export(page, site)
    await site.run_jobs()
    return await page.reload()


async def open_import(page: Page, site: ExportSite) -> PageResponse | None:
    return await page.goto(f"{site.url}/staff/imports/contacts")


async def upload(page: Page, site: ExportSite, content: bytes, name: str) -> PageResponse | None:
    await page.goto(f"{site.url}/staff/imports/contacts")
    await page.get_by_label("Contact system").fill("crm")
    await page.get_by_label("Spreadsheet").set_input_files({"name": name, "mimeType": "text/csv", "buffer": content})
    async with page.expect_navigation() as navigation:
        await page.get_by_role("button", name="Import").click()
    return await navigation.value


async def import_bad_file(page: Page, site: ExportSite) -> PageResponse | None:
    return await upload(page, site, b"name,shoe size\r\nJo,9\r\n", "odd.csv")


async def import_report(page: Page, site: ExportSite) -> PageResponse | None:
    when = (datetime.now(UTC) - timedelta(hours=2)).isoformat()
    content = f"external id,channel,service,occurred at\r\ni1,phone,parking,{when}\r\ni2,phone,nowhere,{when}\r\n"
    return await upload(page, site, content.encode(), "contacts.csv")


@dataclass(frozen=True)
class PageState:
    who: str
    reach: Callable[[Page, ExportSite], Awaitable[PageResponse | None]]
    status: int
    heading: str
    background: bool = False


PAGE_STATES = {
    "export-form": PageState(REVIEWER, open_form, 200, "Export data"),
    "identified-errors": PageState(REVIEWER, identified_without_reason, 422, "Export comments as written"),
    "export-waiting": PageState(ADMIN, background_export, 200, "Contacts export", background=True),
    "export-ready": PageState(ADMIN, ready_export, 200, "Contacts export", background=True),
    "import-form": PageState(ADMIN, open_import, 200, "Import contacts"),
    "import-error": PageState(ADMIN, import_bad_file, 422, "Import contacts"),
    "import-report": PageState(ADMIN, import_report, 200, "Import finished"),
}


@pytest.mark.parametrize("name", PAGE_STATES)
async def test_export_and_import_pages_meet_wcag_22_aa_without_console_errors(
    site: ExportSite, browser: Browser, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    state = PAGE_STATES[name]
    await staff(site)
    if state.background:
        monkeypatch.setattr("exports.runs.DIRECT_ROWS", 0)
    async with staff_page(browser, site, state.who) as page:
        watch = await Watch.attach(page)
        reply = await state.reach(page, site)
        assert reply is not None and reply.status == state.status, await page.content()
        assert await heading(page) == state.heading
        assert await watch.problems(state.status) == []
    async with staff_page(browser, site, state.who, bypass_csp=True) as page:
        reply = await state.reach(page, site)
        assert reply is not None and reply.status == state.status
        violations = await axe_violations(page)
    assert violations == [], f"axe found WCAG problems on the {name} page:\n{describe_violations(violations)}"


async def test_the_progress_page_updates_itself_and_the_form_works_by_keyboard(
    site: ExportSite, browser: Browser, monkeypatch: pytest.MonkeyPatch
) -> None:
    await staff(site)
    monkeypatch.setattr("exports.runs.DIRECT_ROWS", 0)
    async with staff_page(browser, site, ADMIN) as page:
        watch = await Watch.attach(page)
        await page.goto(f"{site.url}/staff/exports")
        # Keyboard only: to the first dataset radio, arrow to "Contacts", then submit with Enter.
        await page.get_by_label("Survey responses").focus()
        for _ in range(10):
            if (await focused(page)).get("value") == "contacts":
                break
            await page.keyboard.press("ArrowDown")
        assert (await focused(page))["value"] == "contacts"
        async with page.expect_navigation():
            await page.keyboard.press("Enter")
        status = page.locator("#export-status")
        await expect(status).to_contain_text("We are preparing your export")
        address = page.url
        await site.run_jobs()
        # The page's script fetches it again and swaps the status in: no reload, no navigation.
        await expect(status).to_contain_text("Your export is ready", timeout=15_000)
        assert page.url == address
        assert await watch.problems() == []
        async with page.expect_download() as download_info:
            await page.get_by_role("link", name="Download").click()
        download = await download_info.value
        body = await asyncio.to_thread(Path(await download.path()).read_bytes)
        book = load_workbook(io.BytesIO(body), read_only=True)
        services = [row[2] for row in book["Contacts"].iter_rows(min_row=2, values_only=True)]
        assert services == ["Council Tax"] * 3 and download.suggested_filename.endswith(".xlsx")
