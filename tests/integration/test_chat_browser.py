"""The end-of-chat widget in a real browser: a chat platform's page (served by the test on another origin, with a
strict content security policy) includes the one script tag with the token its server obtained; the widget is
answered by keyboard alone, says so to a screen reader, and has no WCAG 2.2 A/AA violations (axe-core), in English
and in Welsh when the platform asks for it."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page, expect

from civicvoice.core.settings import Settings
from privacy.vault import Vault
from surveys.models import Answer, Response
from surveys.responses import read_answer_text
from surveys.rules import InvitationChannel, InvitationPolicy
from surveys.signed_requests import sign_request
from tests.integration.browser import (
    axe_violations,
    browser_context,
    describe_violations,
    needs_chromium,
    on_one_database,
)
from tests.integration.live_site import LiveSite, Watch, press, serve_site, tab_to
from tests.integration.support import TestDatabase
from tests.integration.test_survey_builder_welsh import WELSH_CSAT, publish_in_welsh

# isort: split
# The module-loop fixtures (see live_site.py): pytest finds them by their names in this module.
from tests.integration.live_site import fixture_api_key, fixture_browser, fixture_db  # noqa: F401

pytestmark = [needs_chromium, on_one_database, pytest.mark.asyncio(loop_scope="module")]

PLATFORM = "webchat"
SECRET = "w" * 40
POLICY = InvitationPolicy(
    delay=timedelta(0),
    default_sampling_rate=1.0,
    quiet_hours={},
    enabled_channels=frozenset({InvitationChannel.email, InvitationChannel.chat}),
)


class ChatPlatformPage(ThreadingHTTPServer):
    """The chat platform's page, on an origin of its own: whatever `html` holds, under a strict CSP that lets in
    only the widget's origin."""

    html = ""
    csp = ""


class _Handler(BaseHTTPRequestHandler):
    server: ChatPlatformPage

    def do_GET(self) -> None:
        body = self.server.html.encode()
        self.send_response(200)
        self.send_header("content-type", "text/html; charset=utf-8")
        self.send_header("content-security-policy", self.server.csp)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        return  # the page's URL carries nothing secret, but the test's output stays quiet


@pytest.fixture(scope="module")
def chat_page() -> Iterator[ChatPlatformPage]:
    server = ChatPlatformPage(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, name="chat-platform-page", daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        thread.join(timeout=5)
        server.server_close()


def origin_of(server: ChatPlatformPage) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}"


@dataclass
class Site(LiveSite):
    async def offer_welsh(self) -> None:
        """Publish a version of the post-contact survey in English and Welsh, through the API."""
        async with httpx.AsyncClient(base_url=self.url) as client:
            await publish_in_welsh(client, self.app, self.db)  # type: ignore[arg-type]

    async def chat_token(self, chat_id: str, body: bytes = b"") -> str:
        """The chat platform reports the chat, then its server asks for the widget's script tag."""
        async with httpx.AsyncClient(base_url=self.url) as client:
            contact = {
                "source": PLATFORM,
                "external_id": chat_id,
                "channel": "web_chat",
                "service": "libraries",
                "occurred_at": (datetime.now(UTC) - timedelta(minutes=1)).isoformat(),
                "customer": {"source_id": f"visitor-{chat_id}", "email": f"{chat_id.lower()}@example.org"},
            }
            reported = await client.post("/api/v1/contacts", json=contact, headers=self.auth)
            assert reported.json()["decision"]["channel"] == "chat", reported.text
            path = f"/api/v1/chat/chats/{chat_id}/token"
            issued = await client.post(
                path,
                content=body,
                headers={
                    **sign_request(PLATFORM, SECRET, "POST", path, body, datetime.now(UTC)),
                    "content-type": "application/json",
                },
            )
            assert issued.status_code == 201, issued.text
            embed: str = issued.json()["embed"]
            return embed


@pytest_asyncio.fixture(name="site", loop_scope="module")
async def fixture_site(
    settings: Settings, db: TestDatabase, api_key: str, chat_page: ChatPlatformPage
) -> AsyncIterator[Site]:
    await db.load_catalogue(POLICY)
    chat_settings = settings.with_changes(chat_secrets={PLATFORM: SECRET}, chat_allowed_origins=(origin_of(chat_page),))
    with serve_site(Site, chat_settings, db, {"Authorization": f"Bearer {api_key}"}) as site:
        chat_page.csp = (
            f"default-src 'none'; script-src {site.url}; connect-src {site.url}; style-src {site.url}; "
            "base-uri 'none'; form-action 'none'"
        )
        yield site


def host_page(embed: str) -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Chat with the council</title></head>'
        "<body><main><h1>Chat with the council</h1><p>Agent: Is there anything else I can help with?</p>"
        f"<p>You: No, thank you.</p>{embed}</main></body></html>"
    )


async def widget_ready(page: Page) -> None:
    await expect(page.get_by_role("group", name="Overall, how satisfied")).to_be_visible()


async def test_the_widget_passes_axe_in_its_first_state_and_with_an_error(
    browser: Browser, site: Site, chat_page: ChatPlatformPage
) -> None:
    chat_page.html = host_page(await site.chat_token("CHAT-AXE"))
    async with browser_context(browser, bypass_csp=True) as context:
        page = await context.new_page()
        await page.goto(origin_of(chat_page))
        await widget_ready(page)
        notice = page.get_by_role("link", name="How we use your feedback (privacy notice, opens in a new tab)")
        await expect(notice).to_have_attribute("href", f"{site.url}/privacy")
        violations = await axe_violations(page)
        assert violations == [], describe_violations(violations)
        await page.get_by_role("button", name="Send feedback").click()
        await expect(page.get_by_text("Select how satisfied you were")).to_be_visible()
        violations = await axe_violations(page)
        assert violations == [], describe_violations(violations)


async def test_a_customer_answers_by_keyboard_under_the_chat_pages_own_csp(
    browser: Browser, site: Site, chat_page: ChatPlatformPage, db: TestDatabase
) -> None:
    chat_page.html = host_page(await site.chat_token("CHAT-KEYS"))
    async with browser_context(browser) as context:
        page = await context.new_page()
        watch = await Watch.attach(page)
        await page.goto(origin_of(chat_page))
        await widget_ready(page)

        # Sending with nothing chosen: the error is shown and the focus goes to the first choice, in the fieldset
        # the error describes.
        await tab_to(page, "the send button", lambda el: el["tag"] == "button")
        first = await press(page, "Enter")
        assert first["type"] == "radio" and first["value"] == "5" and not first["checked"]
        fieldset = page.get_by_role("group", name="Overall, how satisfied")
        await expect(fieldset).to_have_accessible_description("Select how satisfied you were")

        chosen = await press(page, "ArrowDown")
        assert chosen["type"] == "radio" and chosen["checked"] and chosen["value"] == "4"
        comment = await press(page, "Tab")
        assert comment["tag"] == "textarea"
        await page.keyboard.type("The librarian found the book quickly.")
        assert (await press(page, "Tab"))["tag"] == "button"
        await press(page, "Enter")

        status = page.get_by_role("status")
        await expect(status).to_have_text("Thank you for your feedback.")
        await expect(status).to_be_focused()
        await expect(page.get_by_role("group", name="Overall, how satisfied")).to_be_hidden()
        assert await watch.problems() == []

    [response] = await db.all(Response)
    assert (response.satisfaction, response.channel) == (4, "chat")
    [comment_row] = [a for a in await db.all(Answer) if a.question_key == "improve"]
    async with db.sessions() as session:
        text = await read_answer_text(session, site.app.state.services.get(Vault), response, comment_row)
    assert text == "The librarian found the book quickly."


async def test_the_widget_in_welsh_passes_axe_and_answers(
    browser: Browser, site: Site, chat_page: ChatPlatformPage, db: TestDatabase
) -> None:
    await site.offer_welsh()
    embed = await site.chat_token("CHAT-CY", b'{"language": "cy"}')
    assert 'data-language="cy"' in embed
    chat_page.html = host_page(embed)
    async with browser_context(browser, bypass_csp=True) as context:
        page = await context.new_page()
        await page.goto(origin_of(chat_page))
        fieldset = page.get_by_role("group", name=WELSH_CSAT)
        await expect(fieldset).to_be_visible()
        widget = page.locator("section.cvw")
        await expect(widget).to_have_attribute("lang", "cy")
        await expect(page.get_by_label("[cy] What could we do better? (dewisol)")).to_be_visible()
        await expect(page.get_by_text("Gallwch nodi hyd at 1,200 nod.")).to_be_visible()
        notice = page.get_by_role("link", name="Sut rydym yn defnyddio eich adborth (hysbysiad preifatrwydd")
        await expect(notice).to_have_attribute("href", f"{site.url}/privacy")
        violations = await axe_violations(page)
        assert violations == [], describe_violations(violations)

        await page.get_by_role("button", name="Anfon adborth").click()
        await expect(fieldset).to_have_accessible_description("Dewiswch pa mor fodlon oeddech chi")
        violations = await axe_violations(page)
        assert violations == [], describe_violations(violations)

        await page.get_by_label("[cy] Satisfied", exact=True).check()
        await page.get_by_role("button", name="Anfon adborth").click()
        status = page.get_by_role("status")
        await expect(status).to_have_text("Diolch am eich adborth.")
        violations = await axe_violations(page)
        assert violations == [], describe_violations(violations)

    [response] = await db.all(Response)
    assert (response.satisfaction, response.channel) == (4, "chat")
