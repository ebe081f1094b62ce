"""The REAL app on a live server for tests in a real browser, and what those tests share: the module-loop
fixtures, the live site, a watcher for what goes wrong on a page, and keyboard helpers.

A test module imports the fixture_* functions (pytest finds fixtures in a module's own namespace), marks its
tests `pytest.mark.asyncio(loop_scope="module")`, subclasses `LiveSite` with what its tests need and builds it
in its own `site` fixture with `serve_site`."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any, TypeVar, cast

import httpx
import pytest
import pytest_asyncio
from litestar import Litestar
from litestar.types import Receive, Scope, Send
from playwright.async_api import Browser, ConsoleMessage, Dialog, Page

from civicvoice.app import create_app
from civicvoice.core.jobs import Worker
from civicvoice.core.settings import Settings
from tests.integration.browser import LiveServer, chromium
from tests.integration.support import TestDatabase

# ------------------------------------------------------------------------------------------------ fixtures
#
# The browser is shared by the module, so the tests run in the module's event loop. The conftest's database
# fixtures would run in a loop of their own, and an asyncpg connection only works in the loop that opened it:
# these are the same fixtures, run in the module's loop. Each test module that imports them gets its own
# browser and its own loop, as if it had defined them itself. They are named as pytest's docs advise for a
# fixture imported into the module that requests it: `fixture_db` is the fixture `db`, so no test's argument
# shadows an imported name.


@pytest_asyncio.fixture(name="browser", scope="module", loop_scope="module")
async def fixture_browser() -> AsyncIterator[Browser]:
    async with chromium() as running:
        yield running


@pytest_asyncio.fixture(name="db", loop_scope="module")
async def fixture_db(settings: Settings) -> AsyncIterator[TestDatabase]:
    database = TestDatabase(settings)
    try:
        yield database
    finally:
        await database.close()


@pytest_asyncio.fixture(name="catalogue", loop_scope="module")
async def fixture_catalogue(db: TestDatabase) -> None:
    await db.load_catalogue()


@pytest_asyncio.fixture(name="api_key", loop_scope="module")
async def fixture_api_key(db: TestDatabase) -> str:
    return await db.api_key(["contacts:write"])


# ---------------------------------------------------------------------------------------------- the site


class AppOnLiveServer:
    """The real app, built when uvicorn first calls it (the lifespan start-up). By then the live server has
    bound its port, so settings.base_url, and with it every link in an invitation email, names that server."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.server: LiveServer | None = None
        self.app: Litestar | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.app is None:
            assert self.server is not None
            assert self.server.port
            self.app = create_app(self.settings.with_changes(base_url=self.server.url), worker=False)
        await self.app(scope, receive, send)


@dataclass
class LiveSite:
    """The live app, its database and its API key. A test module subclasses it with the ways the things its
    tests need (invitations, feedback, staff users) come to exist."""

    server: LiveServer
    app: Litestar
    settings: Settings
    db: TestDatabase
    auth: dict[str, str]

    @property
    def url(self) -> str:
        return self.server.url

    async def run_jobs(self) -> None:
        # The live server runs the app in its own thread and loop; the worker runs here, on the test's engine,
        # with the services the app built at start-up (as test_survey_loop.py's worker_for does).
        await Worker(self.app.state.jobs, self.db.sessions, self.app.state.services).run_due()

    async def report_contact(
        self, client: httpx.AsyncClient, external_id: str, email: str, service: str = "waste-and-recycling"
    ) -> uuid.UUID:
        """Reports a contact through the API (`client` has the site's URL as its base) for a resident the rules
        invite, and returns the invitation's id; run_jobs() then sends the email."""
        contact = {
            "source": "crm",
            "external_id": external_id,
            "channel": "phone",
            "service": service,
            "occurred_at": (datetime.now(UTC) - timedelta(minutes=2)).isoformat(),
            "customer": {"email": email, "name": "Resident Person"},
        }
        reply = await client.post("/api/v1/contacts", json=contact, headers=self.auth)
        assert reply.status_code == 202, reply.text
        decision = reply.json()
        assert decision["decision"]["invite"] is True, decision
        return uuid.UUID(decision["invitation_id"])

    def invitation_email(self, invitation_id: uuid.UUID) -> EmailMessage:
        """The invitation email, as the file mail backend wrote it."""
        eml = self.settings.mail_dir / f"invitation.{invitation_id}.eml"
        return message_from_bytes(eml.read_bytes(), policy=policy.default)


SiteT = TypeVar("SiteT", bound=LiveSite)


@contextmanager
def serve_site(kind: type[SiteT], settings: Settings, db: TestDatabase, auth: dict[str, str]) -> Iterator[SiteT]:
    """The app served on a live server for the length of the block, as a `kind` of LiveSite; for a module's
    `site` fixture: `with serve_site(Site, settings, db, auth) as site: yield site`."""
    lazy = AppOnLiveServer(settings)
    server = LiveServer(cast(Litestar, lazy))
    lazy.server = server
    with server:
        assert lazy.app is not None
        yield kind(server, lazy.app, lazy.app.state.settings, db, auth)


# ------------------------------------------------------------------------------------------------- helpers


class Watch:
    """What goes wrong on a page: console errors, uncaught script errors, CSP violations and dialogs.

    A document that is itself an error (the 4xx pages) makes Chromium log "Failed to load resource" for it;
    that is the status the test asked for, not a fault of the page, so `problems` leaves out exactly that one.
    Without JavaScript no listener runs in the page, but Chromium still logs each CSP violation as a console
    error."""

    def __init__(self, page: Page, javascript: bool = True) -> None:
        self.page = page
        self.javascript = javascript
        self.console: list[ConsoleMessage] = []
        self.found: list[str] = []

    @classmethod
    async def attach(cls, page: Page, *, javascript: bool = True) -> Watch:
        watch = cls(page, javascript)
        await page.expose_function("cvReportViolation", watch.report)
        await page.add_init_script(
            """document.addEventListener("securitypolicyviolation", (event) => {
                window.cvReportViolation(
                    `CSP violation: ${event.effectiveDirective} blocked ${event.blockedURI}`
                    + ` at ${event.sourceFile}:${event.lineNumber}`
                );
            });"""
        )
        page.on("console", watch.log)
        page.on("pageerror", lambda error: watch.found.append(f"script error: {error}"))
        page.on("dialog", watch.dialog)
        return watch

    def clear(self) -> None:
        """Forgets what has been seen (after a page whose problems were checked)."""
        self.console.clear()
        self.found.clear()

    def log(self, message: ConsoleMessage) -> None:
        self.console.append(message)

    def report(self, problem: str) -> None:
        self.found.append(problem)

    async def dialog(self, dialog: Dialog) -> None:
        self.found.append(f"{dialog.type} dialog: {dialog.message!r}")
        await dialog.dismiss()

    async def problems(self, expected_status: int = 200) -> list[str]:
        await self.page.wait_for_load_state("load")
        if self.javascript:
            # Violation events are queued as tasks: let them run first. (Without JavaScript no timer fires.)
            await self.page.evaluate("() => new Promise((done) => requestAnimationFrame(() => setTimeout(done)))")
        document_failed = f"Failed to load resource: the server responded with a status of {expected_status} "
        problems = list(self.found)
        for message in self.console:
            if message.type != "error":
                continue
            if message.text.startswith(document_failed) and message.location.get("url") == self.page.url:
                continue
            problems.append(f"console error: {message.text} ({message.location.get('url')})")
        return problems


async def focused(page: Page) -> dict[str, Any]:
    description: dict[str, Any] = await page.evaluate(
        """() => {
            const el = document.activeElement;
            const style = getComputedStyle(el);
            const outlined = style.outlineStyle !== "none" && parseFloat(style.outlineWidth) > 0
                && !/rgba\\(.*, 0\\)$/.test(style.outlineColor);
            return { tag: el.tagName.toLowerCase(), id: el.id, type: el.type || null, value: el.value ?? null,
                     text: el.textContent.trim().replace(/\\s+/g, " "), checked: !!el.checked,
                     rel: el.getAttribute("rel"), ring: outlined || style.boxShadow !== "none",
                     // The last stop in a date field is Chromium's own calendar button, in the field's
                     // shadow tree: the field no longer matches :focus; the browser draws that button's ring.
                     picker: el.type === "date" && !el.matches(":focus") };
        }"""
    )
    return description


async def press(page: Page, key: str) -> dict[str, Any]:
    """Presses a key; what has the focus then must show it (WCAG 2.4.7), not just have it."""
    await page.keyboard.press(key)
    element = await focused(page)
    if element["tag"] != "body" and not element["picker"]:
        assert element["ring"], f"no visible focus indicator on {element}"
    return element


async def tab_to(
    page: Page, what: str, matches: Callable[[dict[str, Any]], bool], *, limit: int = 25
) -> dict[str, Any]:
    """Presses Tab until the focused element matches; fails naming every element Tab went through."""
    passed: list[str] = []
    for _ in range(limit):
        element = await press(page, "Tab")
        if matches(element):
            return element
        passed.append(f"{element['tag']}#{element['id']} {element['text'][:30]!r}")
    pytest.fail(f"Tab never reached {what}; it went through {passed}")


async def heading(page: Page) -> str:
    return (await page.get_by_role("heading", level=1).inner_text()).strip()
