"""The privacy pages of the REAL app in a real browser: the public request page, done with the keyboard alone and
without JavaScript, through the emailed one-time code to the confirmation with its reference and deadline; and
WCAG 2.2 A/AA by axe-core, with no console errors or CSP violations, on every state of the public pages and of
the DPO's queue, request and retention pages."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from email import message_from_bytes, policy
from typing import Any, cast

import httpx
import pytest
from playwright.async_api import Browser, Page
from playwright.async_api import Response as PageResponse
from sqlalchemy import select

from civicvoice.core.audit import Actor
from civicvoice.core.auth import StaffUser
from civicvoice.core.db import unit_of_work
from civicvoice.core.settings import Settings
from civicvoice.staff.web import SESSION_COOKIE
from privacy.closures import council_calendar
from privacy.request_states import RequestKind
from privacy.requests import Requester, SubjectRequest, open_request
from privacy.vault import IdentityClaim, Vault
from tests.integration.browser import (
    axe_violations,
    browser_context,
    describe_violations,
    needs_chromium,
    on_one_database,
)
from tests.integration.live_site import LiveSite, Watch, heading, press, serve_site, tab_to
from tests.integration.support import TestDatabase
from tests.integration.test_staff_login import PASSWORD, csrf_from, make_user

# isort: split
# The module-loop fixtures (see live_site.py): pytest finds them by their names in this module.
from tests.integration.live_site import fixture_api_key, fixture_browser, fixture_catalogue, fixture_db  # noqa: F401

pytestmark = [needs_chromium, on_one_database, pytest.mark.asyncio(loop_scope="module")]

START = "/your-data/request"
DPO = "dpo@council.gov.uk"
CODE = re.compile(r"Your code is (\d{6})")


@dataclass
class Site(LiveSite):
    """The live app with the ways requests, people and the DPO come to exist."""

    def latest_code(self) -> str:
        files = sorted(self.settings.mail_dir.glob("request-code.*.eml"), key=lambda p: p.stat().st_mtime_ns)
        assert files, "no code email was written"
        message = message_from_bytes(files[-1].read_bytes(), policy=policy.default)
        body = message.get_body(("plain",))  # type: ignore[attr-defined]
        found = CODE.search(body.get_content())
        assert found
        return found.group(1)

    async def start_request(self, **changes: str) -> str:
        """Posts the public form over HTTP; returns the code page's URL."""
        data = {"kind": "access", "name": "Jo Bloggs", "email": "jo@example.org", **changes}
        async with httpx.AsyncClient(base_url=self.url) as client:
            answer = await client.post(START, data=data, follow_redirects=False)
        assert answer.status_code == 303, answer.text
        return self.url + answer.headers["location"]

    async def confirmed_request(self, **changes: str) -> str:
        """A request made and confirmed over HTTP; returns the done page's URL."""
        confirm = await self.start_request(**changes)
        async with httpx.AsyncClient() as client:
            done = await client.post(confirm, data={"code": self.latest_code()}, follow_redirects=False)
        assert done.status_code == 303, done.text
        return self.url + done.headers["location"]

    async def session_cookie(self) -> dict[str, Any]:
        async with unit_of_work(self.db.sessions) as session:
            exists = await session.scalar(select(StaffUser).where(StaffUser.email == DPO))
        if exists is None:
            await make_user(self.db, "dpo")
        async with httpx.AsyncClient(base_url=self.url) as client:
            form = await client.get("/staff/sign-in")
            done = await client.post(
                "/staff/sign-in", data={"email": DPO, "password": PASSWORD, "csrf_token": csrf_from(form.text)}
            )
            assert done.status_code == 303, done.text
            token = client.cookies.get(SESSION_COOKIE)
        assert token
        return {"name": SESSION_COOKIE, "value": token, "url": self.url, "httpOnly": True, "sameSite": "Lax"}

    async def reference_of(self, kind: str) -> str:
        async with self.db.sessions() as session:
            found = await session.scalar(select(SubjectRequest.reference).where(SubjectRequest.kind == kind))
        assert found
        return str(found)


@pytest.fixture
def site(settings: Settings, db: TestDatabase, catalogue: None, auth: dict[str, str]) -> Iterator[Site]:
    with serve_site(Site, settings, db, auth) as served:
        yield served


@asynccontextmanager
async def page_for(browser: Browser, site: Site, *, staff: bool = False, **options: Any) -> AsyncIterator[Page]:
    async with browser_context(browser, locale="en-GB", timezone_id="Europe/London", **options) as context:
        if staff:
            await context.add_cookies([cast(Any, await site.session_cookie())])
        yield await context.new_page()


async def enter_and_wait(page: Page) -> PageResponse | None:
    async with page.expect_navigation() as navigation:
        await page.keyboard.press("Enter")
    return await navigation.value


# ----------------------------------------------------------------------------------- keyboard, no JavaScript


async def test_a_request_made_with_the_keyboard_alone_and_no_javascript(site: Site, browser: Browser) -> None:
    async with page_for(browser, site, java_script_enabled=False) as page:
        watch = await Watch.attach(page, javascript=False)
        await page.goto(site.url + START)
        assert await heading(page) == "Ask about your information"
        # Sent empty: the error summary lists what to fix, each linked to its field.
        await tab_to(page, "the Continue button", lambda e: e["tag"] == "button")
        reply = await enter_and_wait(page)
        assert reply is not None and reply.status == 400
        summary = page.locator(".govuk-error-summary")
        assert "Select what you want to ask for" in await summary.inner_text()
        assert await summary.locator("a[href='#kind']").count() == 1
        assert await watch.problems(400) == []
        watch.clear()

        # Choose "Stop us surveying you" with the arrow keys, as radios are used.
        await tab_to(page, "the first request type", lambda e: e["id"] == "kind")
        for _ in range(4):
            await press(page, "ArrowDown")
        chosen = await press(page, "Tab")
        assert chosen["id"] == "name"
        await page.keyboard.type("Jo Bloggs")
        await press(page, "Tab")
        await page.keyboard.type("jo@example.org")
        await tab_to(page, "the Continue button", lambda e: e["tag"] == "button")
        reply = await enter_and_wait(page)
        assert reply is not None and reply.status == 200
        assert await heading(page) == "Check your email"
        assert "j***@example.org" in await page.locator("main").inner_text()

        # A wrong code, then the right one, typed in the code field.
        await tab_to(page, "the code field", lambda e: e["id"] == "code")
        wrong = "000000" if site.latest_code() != "000000" else "111111"
        await page.keyboard.type(wrong)
        reply = await enter_and_wait(page)
        assert reply is not None and reply.status == 400
        assert "The code is not right" in await page.locator(".govuk-error-summary").inner_text()
        assert await watch.problems(400) == []
        watch.clear()
        await tab_to(page, "the code field", lambda e: e["id"] == "code")
        await page.keyboard.type(site.latest_code())
        reply = await enter_and_wait(page)
        assert reply is not None and reply.status == 200
        assert await heading(page) == "Request received"
        panel = await page.locator(".govuk-panel").inner_text()
        reference = await site.reference_of("objection")
        assert reference in panel
        async with site.db.sessions() as session:
            request = await session.scalar(select(SubjectRequest).where(SubjectRequest.reference == reference))
        assert request is not None and request.due_on is not None
        assert f"{request.due_on:%-d %B %Y}" in await page.locator("main").inner_text()
        assert await watch.problems() == []


# ------------------------------------------------------------------------------------------------- axe-core


@dataclass(frozen=True)
class PageState:
    reach: Callable[[Page, Site], Awaitable[PageResponse | None]]
    heading: str
    status: int = 200
    staff: bool = False


async def _goto(page: Page, url: str) -> PageResponse | None:
    return await page.goto(url)


async def _post_form(page: Page, site: Site, data: dict[str, str]) -> PageResponse | None:
    await page.goto(site.url + START)
    for name, value in data.items():
        field = page.locator(f"[name='{name}']")
        if name == "kind":
            await page.locator(f"input[name='kind'][value='{value}']").check()
        elif await field.count():
            await field.fill(value)
    async with page.expect_navigation() as navigation:
        await page.locator("form button[type=submit]").click()
    return await navigation.value


async def _code_with_error(page: Page, site: Site) -> PageResponse | None:
    await page.goto(await site.start_request(email="errors@example.org"))
    await page.locator("#code").fill("12ab")
    async with page.expect_navigation() as navigation:
        await page.locator("form button[type=submit]").first.click()
    return await navigation.value


async def _staff_request(page: Page, site: Site, kind: str, email: str) -> PageResponse | None:
    async with unit_of_work(site.db.sessions) as session:
        await site.app.state.services.get(Vault).resolve(session, IdentityClaim(email=email))
    await site.confirmed_request(kind=kind, email=email, details="Something to say about it")
    return await page.goto(f"{site.url}/staff/privacy/requests/{await site.reference_of(kind)}")


async def _code_page(page: Page, site: Site) -> PageResponse | None:
    return await page.goto(await site.start_request(email="code@example.org"))


async def _done(page: Page, site: Site) -> PageResponse | None:
    return await page.goto(await site.confirmed_request(kind="complaint", email="done@example.org", details="Late"))


async def _queue(page: Page, site: Site) -> PageResponse | None:
    await site.confirmed_request(kind="access", email="queue@example.org")
    return await page.goto(site.url + "/staff/privacy/requests")


async def _staff_complaint(page: Page, site: Site) -> PageResponse | None:
    """A complaint recorded by the DPO (not yet acknowledged: the page offers the acknowledgement)."""
    async with unit_of_work(site.db.sessions) as session:
        request = await open_request(
            session,
            site.app.state.services.get(Vault),
            await council_calendar(session, site.settings),
            kind=RequestKind.complaint,
            requester=Requester(name="Jo", email="jo@example.org", details="You lost my letter"),
            channel="staff",
            actor=Actor.cli(),
            identity_required=False,
        )
        reference = request.reference
    return await page.goto(f"{site.url}/staff/privacy/requests/{reference}")


PAGE_STATES: dict[str, PageState] = {
    "request form": PageState(lambda p, s: _goto(p, s.url + START), "Ask about your information"),
    "request form with errors": PageState(
        lambda p, s: _post_form(p, s, {"name": "", "email": "nope", "phone": "call me"}),
        "Ask about your information",
        400,
    ),
    "code page": PageState(lambda p, s: _code_page(p, s), "Check your email"),
    "code page with an error": PageState(_code_with_error, "Check your email", 400),
    "confirmation": PageState(lambda p, s: _done(p, s), "Request received"),
    "expired link": PageState(
        lambda p, s: _goto(p, s.url + START + "/confirm/not-a-token"), "This link has expired", 404
    ),
    "DPO queue": PageState(lambda p, s: _queue(p, s), "Subject requests", staff=True),
    "DPO rectification request": PageState(
        lambda p, s: _staff_request(p, s, "rectification", "fix@example.org"), "", staff=True
    ),
    "DPO restriction request": PageState(
        lambda p, s: _staff_request(p, s, "restriction", "hold@example.org"), "", staff=True
    ),
    "DPO complaint": PageState(lambda p, s: _staff_complaint(p, s), "", staff=True),
    "DPO new request": PageState(
        lambda p, s: _goto(p, s.url + "/staff/privacy/requests/new"), "Record a subject request", staff=True
    ),
    "DPO retention": PageState(lambda p, s: _goto(p, s.url + "/staff/privacy/retention"), "", staff=True),
}


@pytest.mark.parametrize("name", PAGE_STATES)
async def test_privacy_page_meets_wcag_22_aa_without_console_errors_or_csp_violations(
    site: Site, browser: Browser, name: str
) -> None:
    state = PAGE_STATES[name]
    async with page_for(browser, site, staff=state.staff) as page:
        watch = await Watch.attach(page)
        reply = await state.reach(page, site)
        assert reply is not None
        assert reply.status == state.status, await page.content()
        if state.heading:
            assert await heading(page) == state.heading
        else:
            assert await heading(page)
        assert await watch.problems(state.status) == []
        # axe-core is injected as a script, which the app's own policy forbids: a second context bypasses it.
        html_url = page.url
    async with page_for(browser, site, staff=state.staff, bypass_csp=True) as page:
        if reply.request.method == "GET":
            again = await page.goto(html_url)
        else:
            again = await state.reach(page, site)
        assert again is not None and again.status == state.status
        violations = await axe_violations(page)
    assert violations == [], f"axe found WCAG problems on the {name} page:\n{describe_violations(violations)}"
