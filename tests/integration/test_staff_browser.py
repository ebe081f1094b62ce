"""The staff side of the REAL app in a real browser: keyboard-only sign-in, filters, pagination and sign-out;
WCAG 2.2 A/AA by axe-core on every staff page state; no console errors or CSP violations; and stored XSS.

The app is served by uvicorn on the test database (SQLite, and PostgreSQL when configured). Feedback arrives
the way it does in production: a contact through the API, an emailed invitation (the file mail backend), the
survey form posted to the link in that email, and the worker's jobs (sending, then sentiment scoring)."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, cast
from urllib.parse import parse_qs, quote, urlencode, urlsplit

import httpx
import pytest
from playwright.async_api import Browser, Page, Request, expect
from playwright.async_api import Response as PageResponse

from civicvoice.core.auth import StaffUser
from civicvoice.core.clock import LONDON
from civicvoice.core.settings import Settings
from civicvoice.staff.web import SESSION_COOKIE
from feedback.models import CommentScore
from surveys.models import Invitation, Response
from tests.integration.browser import (
    axe_violations,
    browser_context,
    describe_violations,
    needs_chromium,
    on_one_database,
)
from tests.integration.live_site import LiveSite, Watch, focused, heading, press, serve_site, tab_to
from tests.integration.support import TestDatabase
from tests.integration.test_staff_login import PASSWORD, csrf_from, make_user

# isort: split
# The module-loop fixtures (see live_site.py): pytest finds them by their names in this module.
from tests.integration.live_site import fixture_api_key, fixture_browser, fixture_catalogue, fixture_db  # noqa: F401

pytestmark = [needs_chromium, on_one_database, pytest.mark.asyncio(loop_scope="module")]

SIGN_IN_HEADING = "Sign in to customer feedback"
BAD_SIGN_IN = "Enter a correct email address and password."
REVIEWER = "quality_reviewer@council.gov.uk"
ADMIN = "admin@council.gov.uk"
# A council officer's browser. (The order of a date field's parts ignores this: see type_date.)
LOCALE = {"locale": "en-GB", "timezone_id": "Europe/London"}


@dataclass
class Site(LiveSite):
    """The live app, its database and its API key, with the ways feedback and staff users come to exist."""

    contacts: int = field(default=0)
    cookies: dict[str, dict[str, Any]] = field(default_factory=dict)

    async def give_feedback(self, *answers: dict[str, str], service: str = "waste-and-recycling") -> None:
        """One resident per answer set: a contact through the API, the emailed invitation, the survey
        posted as a browser without JavaScript posts it, then the worker's scoring."""
        invited: list[uuid.UUID] = []
        async with httpx.AsyncClient(base_url=self.url) as client:
            for _ in answers:
                self.contacts += 1
                email = f"resident{self.contacts}@example.org"
                invited.append(await self.report_contact(client, f"c{self.contacts}", email, service))
        await self.run_jobs()  # sends the invitations
        async with httpx.AsyncClient() as client:
            for invitation_id, answer in zip(invited, answers, strict=True):
                body = self.invitation_email(invitation_id).get_body(("plain",))
                link = re.search(re.escape(self.url) + r"/s/[A-Za-z0-9_\-]+", body.get_content())  # type: ignore[union-attr]
                assert link, f"no survey link to {self.url} in the invitation"
                done = await client.post(link.group(0), data=answer, follow_redirects=False)
                assert done.status_code == 303, done.text
        await self.run_jobs()  # scores the comments

    async def user(self, role: str, email: str | None = None, **kw: Any) -> StaffUser:
        return await make_user(self.db, role, email=email, **kw)

    async def session_cookie(self, email: str) -> dict[str, Any]:
        """Signs in over HTTP (the browser journey itself is test 1) and returns the cookie for a browser."""
        if email in self.cookies:
            return self.cookies[email]
        async with httpx.AsyncClient(base_url=self.url) as client:
            form = await client.get("/staff/sign-in")
            done = await client.post(
                "/staff/sign-in",
                data={"email": email, "password": PASSWORD, "csrf_token": csrf_from(form.text)},
            )
            assert done.status_code == 303, done.text
            token = client.cookies.get(SESSION_COOKIE)
        assert token
        cookie = {
            "name": SESSION_COOKIE,
            "value": token,
            "url": self.url,
            "httpOnly": True,
            "sameSite": "Lax",
        }
        self.cookies[email] = cookie
        return cookie


@pytest.fixture
def site(settings: Settings, db: TestDatabase, catalogue: None, auth: dict[str, str]) -> Iterator[Site]:
    with serve_site(Site, settings, db, auth) as served:
        yield served


# ------------------------------------------------------------------------------------------------- helpers


@asynccontextmanager
async def staff_page(browser: Browser, site: Site, email: str | None, **options: Any) -> AsyncIterator[Page]:
    """A page in a fresh context, signed in as `email` (or anonymous)."""
    async with browser_context(browser, **LOCALE, **options) as context:
        if email:
            await context.add_cookies([cast(Any, await site.session_cookie(email))])
        yield await context.new_page()


async def enter_and_wait(page: Page) -> PageResponse | None:
    async with page.expect_navigation() as navigation:
        await page.keyboard.press("Enter")
    return await navigation.value


async def type_date(page: Page, day: date) -> None:
    """Types a date into the focused <input type="date">, in the order its day, month and year show.

    That order follows the browser's own locale (Chromium ignores the page's language, the context's
    locale, LANG and --lang for it), so a sighted keyboard user's reading of the field is done here by
    typing 01 02 2003 first and seeing which date it made; Shift+Tab goes back to the first part to retype."""
    await page.keyboard.type("01022003")
    orders = {"2003-02-01": "%d%m%Y", "2003-01-02": "%m%d%Y"}
    probe = (await focused(page))["value"]
    assert probe in orders, f"a date field with its parts in an order this test does not know: {probe!r}"
    await page.keyboard.press("Shift+Tab")
    await page.keyboard.press("Shift+Tab")
    await page.keyboard.type(day.strftime(orders[probe]))
    typed = await focused(page)
    assert typed["value"] == day.isoformat(), typed


async def result_rows(page: Page) -> int:
    return await page.locator("table.govuk-table tbody tr").count()


def london_today() -> date:
    # The page reads dates as the council's (Europe/London) days.
    return datetime.now(LONDON).date()


def query_of(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


# --------------------------------------------------------------------------------------- 1: keyboard only


async def test_keyboard_only_sign_in_filter_page_through_and_sign_out(
    site: Site, browser: Browser, monkeypatch: pytest.MonkeyPatch
) -> None:
    await site.user("quality_reviewer", REVIEWER)
    await site.give_feedback(
        {"satisfaction": "2", "resolved": "no", "improve": "The bin was missed twice."},
        {"satisfaction": "4", "resolved": "yes", "praise": "Quick and kind."},
    )
    await site.give_feedback(
        {"satisfaction": "5", "resolved": "yes", "praise": "Sorted my bill."}, service="council-tax"
    )
    monkeypatch.setattr("feedback.inbox.PAGE_SIZE", 1)  # the live server runs in this process
    today = london_today()

    async with staff_page(browser, site, None) as page:
        watch = await Watch.attach(page)
        await page.goto(f"{site.url}/staff/feedback")
        assert page.url == f"{site.url}/staff/sign-in?next=/staff/feedback"
        assert await heading(page) == SIGN_IN_HEADING

        # Sign in: Tab to the email field, type, Tab to the password, type, Enter submits. A typo first.
        skip = await press(page, "Tab")
        assert (skip["tag"], skip["text"]) == ("a", "Skip to main content"), skip
        email = await press(page, "Tab")
        assert (email["tag"], email["id"]) == ("input", "email"), email
        await page.keyboard.type(REVIEWER)
        password = await press(page, "Tab")
        assert (password["id"], password["type"]) == ("password", "password"), password
        await page.keyboard.type(PASSWORD.upper())
        refused = await enter_and_wait(page)
        assert refused is not None
        assert refused.status == 401
        assert await watch.problems(401) == []
        watch.clear()

        # The error summary takes the focus; its link leads back to the field, which kept the email.
        summary = await focused(page)
        assert summary["text"].startswith("There is a problem"), summary
        link = await press(page, "Tab")
        assert (link["tag"], link["text"]) == ("a", BAD_SIGN_IN), link
        await page.keyboard.press("Enter")
        email = await focused(page)
        assert (email["id"], email["value"]) == ("email", REVIEWER), email
        password = await press(page, "Tab")
        assert (password["id"], password["value"]) == ("password", ""), password
        await page.keyboard.type(PASSWORD)
        signed_in = await enter_and_wait(page)
        assert signed_in is not None
        assert signed_in.status == 200
        assert page.url == f"{site.url}/staff/feedback"
        assert await heading(page) == "Recent feedback"
        await expect(page.locator("#result-count")).to_have_text("3 responses")
        assert await watch.problems() == []

        # The filters: a select answers to typing the start of an option, a date to typing its digits.
        service = await tab_to(page, "the service filter", lambda el: el["id"] == "service")
        assert service["value"] == "", service
        await page.keyboard.type("Bins")
        assert (await focused(page))["value"] == "waste-and-recycling"
        channel = await press(page, "Tab")
        assert channel["id"] == "channel", channel
        await page.keyboard.type("Email")
        assert (await focused(page))["value"] == "email"
        date_from = await press(page, "Tab")
        assert date_from["id"] == "from", date_from
        await type_date(page, today - timedelta(days=1))
        # Tab moves through the day, month and year of a date field before it leaves it.
        await tab_to(page, "the to-date filter", lambda el: el["id"] == "to", limit=4)
        await type_date(page, today + timedelta(days=1))
        await tab_to(page, "Apply filters", lambda el: el["tag"] == "button" and el["text"] == "Apply filters", limit=4)
        filtered = await enter_and_wait(page)
        assert filtered is not None
        assert filtered.status == 200
        assert query_of(page.url) == {
            "service": ["waste-and-recycling"],
            "channel": ["email"],
            "from": [(today - timedelta(days=1)).isoformat()],
            "to": [(today + timedelta(days=1)).isoformat()],
        }
        await expect(page.locator("#result-count")).to_have_text("2 responses")
        assert await result_rows(page) == 1
        # The form shows the filters in use.
        await expect(page.locator("#service")).to_have_value("waste-and-recycling")
        await expect(page.locator("#channel")).to_have_value("email")
        await expect(page.locator(".govuk-pagination__item--current")).to_have_text("Page 1 of 2")
        newest = await page.locator(".cv-comment").all_inner_texts()
        assert newest == ["Quick and kind."]

        # Pagination keeps the filters.
        # Past each row's review and demand forms (closed details: one stop each).
        await tab_to(page, "the next page link", lambda el: el["rel"] == "next", limit=40)
        second = await enter_and_wait(page)
        assert second is not None
        assert second.status == 200
        assert query_of(page.url)["page"] == ["2"]
        assert query_of(page.url)["service"] == ["waste-and-recycling"]
        await expect(page.locator(".govuk-pagination__item--current")).to_have_text("Page 2 of 2")
        assert await page.locator(".cv-comment").all_inner_texts() == ["The bin was missed twice."]
        await tab_to(page, "the previous page link", lambda el: el["rel"] == "prev", limit=40)
        first = await enter_and_wait(page)
        assert first is not None
        assert query_of(page.url)["page"] == ["1"]
        assert await watch.problems() == []

        # Sign out: the button sits after the staff navigation links (one per feature page the role may use).
        await tab_to(page, "Sign out", lambda el: el["tag"] == "button" and el["text"] == "Sign out", limit=25)
        out = await enter_and_wait(page)
        assert out is not None
        assert out.status == 200
        assert page.url == f"{site.url}/staff/sign-in"
        await page.goto(f"{site.url}/staff/feedback")
        assert page.url.startswith(f"{site.url}/staff/sign-in?next=")  # the session has ended
        assert await watch.problems() == []


# ------------------------------------------------------------------ 2 and 3: WCAG 2.2 AA, console and CSP


async def no_one(site: Site) -> None:
    return None


async def reviewer(site: Site) -> None:
    await site.user("quality_reviewer", REVIEWER)


async def reviewer_with_feedback(site: Site) -> None:
    await reviewer(site)
    await site.give_feedback(
        {"satisfaction": "1", "resolved": "no", "improve": "Nobody called back. Ring me on 07700 900123."},
        {"satisfaction": "5", "resolved": "yes", "praise": "Very helpful & quick."},
        {"satisfaction": "3", "resolved": "partly"},
    )


async def admin(site: Site) -> None:
    await site.user("admin", ADMIN)


async def admin_and_colleague(site: Site) -> None:
    await admin(site)
    await site.user("service_manager", "manager@council.gov.uk", service_scope=["parking"])


async def open_sign_in(page: Page, site: Site) -> PageResponse | None:
    return await page.goto(f"{site.url}/staff/sign-in")


async def sign_in_wrongly(page: Page, site: Site) -> PageResponse | None:
    await page.goto(f"{site.url}/staff/sign-in")
    await page.locator("#email").fill(ADMIN)
    await page.locator("#password").fill("not the password at all")
    reply = await enter_and_wait(page)
    await expect(page.locator(".govuk-error-summary")).to_contain_text(BAD_SIGN_IN)
    return reply


async def open_filtered_feedback(page: Page, site: Site) -> PageResponse | None:
    # Filters applied and more than one page of rows, so the pagination is checked too.
    today = london_today()
    reply = await page.goto(
        f"{site.url}/staff/feedback?service=waste-and-recycling&channel=email"
        f"&from={today - timedelta(days=7)}&to={today + timedelta(days=1)}"
    )
    assert await result_rows(page) == 2
    await expect(page.locator(".govuk-pagination")).to_be_visible()
    await expect(page.locator(".cv-comment").first).to_be_visible()
    return reply


async def open_empty_feedback(page: Page, site: Site) -> PageResponse | None:
    reply = await page.goto(f"{site.url}/staff/feedback")
    await expect(page.locator("#main-content")).to_contain_text("No responses match these filters.")
    return reply


async def open_users(page: Page, site: Site) -> PageResponse | None:
    reply = await page.goto(f"{site.url}/staff/users?done=created")  # with the success banner
    await expect(page.locator("table")).to_contain_text("manager@council.gov.uk")
    return reply


async def open_new_user(page: Page, site: Site) -> PageResponse | None:
    return await page.goto(f"{site.url}/staff/users/new")


async def create_user_wrongly(page: Page, site: Site) -> PageResponse | None:
    await page.goto(f"{site.url}/staff/users/new")
    await page.locator("#email").fill("not-an-email")
    await page.locator("#password").fill("short")
    reply = await enter_and_wait(page)
    await expect(page.locator(".govuk-error-summary")).to_be_visible()
    return reply


async def open_colleague(page: Page, site: Site) -> PageResponse | None:
    [colleague] = [u for u in await site.db.all(StaffUser) if u.email == "manager@council.gov.uk"]
    return await page.goto(f"{site.url}/staff/users/{colleague.id}")


async def reset_password_wrongly(page: Page, site: Site) -> PageResponse | None:
    await open_colleague(page, site)
    await page.locator("#password").fill("short")
    reply = await enter_and_wait(page)
    await expect(page.locator(".govuk-error-summary")).to_be_visible()
    return reply


async def reviewer_with_an_invitation(site: Site) -> None:
    await reviewer(site)
    async with httpx.AsyncClient(base_url=site.url) as client:
        site.contacts += 1
        await site.report_contact(client, f"c{site.contacts}", f"resident{site.contacts}@example.org")
    await site.run_jobs()  # sends it: the timeline has sending and sent


async def open_invitations(page: Page, site: Site) -> PageResponse | None:
    reply = await page.goto(f"{site.url}/staff/invitations?state=sent")
    await expect(page.locator("table")).to_contain_text("Sent")
    return reply


async def open_invitation_timeline(page: Page, site: Site) -> PageResponse | None:
    [invitation] = await site.db.all(Invitation)
    return await page.goto(f"{site.url}/staff/invitations/{invitation.id}")


@dataclass(frozen=True)
class PageState:
    prepare: Callable[[Site], Awaitable[None]]
    who: str | None
    reach: Callable[[Page, Site], Awaitable[PageResponse | None]]
    status: int
    heading: str


PAGE_STATES = {
    "sign-in": PageState(no_one, None, open_sign_in, 200, SIGN_IN_HEADING),
    "sign-in-wrong-password": PageState(admin, None, sign_in_wrongly, 401, SIGN_IN_HEADING),
    "feedback-filtered": PageState(reviewer_with_feedback, REVIEWER, open_filtered_feedback, 200, "Recent feedback"),
    "feedback-empty": PageState(reviewer, REVIEWER, open_empty_feedback, 200, "Recent feedback"),
    "users": PageState(admin_and_colleague, ADMIN, open_users, 200, "Staff users"),
    "user-new": PageState(admin_and_colleague, ADMIN, open_new_user, 200, "Add a staff user"),
    "user-new-errors": PageState(admin_and_colleague, ADMIN, create_user_wrongly, 400, "Add a staff user"),
    "user-reset": PageState(admin_and_colleague, ADMIN, open_colleague, 200, "Test service_manager"),
    "user-reset-error": PageState(admin_and_colleague, ADMIN, reset_password_wrongly, 400, "Test service_manager"),
    "invitations": PageState(reviewer_with_an_invitation, REVIEWER, open_invitations, 200, "Invitations"),
    "invitation-timeline": PageState(reviewer_with_an_invitation, REVIEWER, open_invitation_timeline, 200, "Timeline"),
}


@pytest.mark.parametrize("name", PAGE_STATES)
async def test_staff_page_meets_wcag_22_aa_without_console_errors_or_csp_violations(
    site: Site, browser: Browser, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    state = PAGE_STATES[name]
    await state.prepare(site)
    monkeypatch.setattr("feedback.inbox.PAGE_SIZE", 2)

    # Under the app's own Content-Security-Policy, as staff get the page.
    async with staff_page(browser, site, state.who) as page:
        watch = await Watch.attach(page)
        reply = await state.reach(page, site)
        assert reply is not None
        assert reply.status == state.status, await page.content()
        assert await heading(page) == state.heading
        assert await watch.problems(state.status) == []

    # axe-core is injected as a script, which that policy rightly forbids: this context bypasses it.
    async with staff_page(browser, site, state.who, bypass_csp=True) as page:
        reply = await state.reach(page, site)
        assert reply is not None
        assert reply.status == state.status
        violations = await axe_violations(page)
    assert violations == [], f"axe found WCAG problems on the {name} page:\n{describe_violations(violations)}"


async def test_the_watch_sees_csp_violations_and_dialogs(site: Site, browser: Browser) -> None:
    # Guards the tests here against passing because nothing is listening.
    async with staff_page(browser, site, None) as page:
        watch = await Watch.attach(page)
        await page.goto(f"{site.url}/staff/sign-in")
        await page.evaluate(
            """() => {
                const script = document.createElement("script");
                script.textContent = "alert('inline')";
                document.body.append(script);
                alert("from the test");
            }"""
        )
        problems = await watch.problems()
    assert any(found.startswith("CSP violation: script-src-elem blocked inline") for found in problems), problems
    assert any(found.startswith("console error: ") for found in problems), problems
    assert "alert dialog: 'from the test'" in problems, problems


# ------------------------------------------------------------------------------------------ stored XSS

HOSTILE = [
    "<script>window.__xss=1</script>",
    '<img src=x onerror="window.__xss=1">',
    '<a href="javascript:window.__xss=1">x</a>',
    '"><svg onload=window.__xss=1>',
]
PERSONAL = "Email jo.bloggs@example.org or ring 07700 900123 about it."
REDACTED = "Email [email removed] or ring [phone removed] about it."


async def test_hostile_comments_never_run_on_the_staff_page(site: Site, browser: Browser) -> None:
    await site.user("quality_reviewer", REVIEWER)
    await site.give_feedback(
        *({"satisfaction": "1", "resolved": "no", "improve": text} for text in [*HOSTILE, PERSONAL])
    )
    assert await site.db.count(Response) == 5
    assert await site.db.count(CommentScore) == 5  # the scoring job ran over every hostile comment

    # Under the app's policy, as staff get the page; then with it bypassed, so escaping alone has to keep
    # the page safe (the policy is the second line of defence, not the first).
    for bypass_csp in (False, True):
        async with staff_page(browser, site, REVIEWER, bypass_csp=bypass_csp) as page:
            await hostile_comments_are_inert(page, site, f"bypass_csp={bypass_csp}")


async def hostile_comments_are_inert(page: Page, site: Site, mode: str) -> None:
    watch = await Watch.attach(page)
    requested: list[str] = []

    def record(request: Request) -> None:
        requested.append(request.url)

    page.on("request", record)
    reply = await page.goto(f"{site.url}/staff/feedback")
    assert reply is not None
    assert reply.status == 200
    await expect(page.locator("#result-count")).to_have_text("5 responses")
    # Give any handler, onload or onerror a chance to run before looking.
    await page.wait_for_load_state("networkidle")
    assert await page.evaluate("() => typeof window.__xss") == "undefined", mode
    assert await watch.problems() == [], mode

    # Each comment is shown as the text the resident typed, not as markup.
    shown = await page.locator(".cv-comment").all_text_contents()
    assert sorted(shown) == sorted([*HOSTILE, REDACTED]), mode
    table = page.locator("table.govuk-table")
    for injected in ("script", "img", "svg", "a[href^='javascript']", "[onerror]", "[onload]"):
        assert await table.locator(injected).count() == 0, (mode, injected)
    html = await page.content()
    assert "&lt;script&gt;window.__xss=1&lt;/script&gt;" in html, mode
    assert "jo.bloggs@example.org" not in html, mode
    assert "07700 900123" not in html, mode
    assert not [url for url in requested if url.rstrip("/").endswith("/x")], mode  # no <img src=x> loaded
    # Were a script ever to run, it could not read the session: the cookie is HttpOnly.
    assert SESSION_COOKIE not in await page.evaluate("() => document.cookie"), mode


REFLECTED = '"><img src=x onerror="window.__xss=1"><script>alert(1)</script>'  # the filter's 64-character limit


async def test_hostile_input_reflected_by_staff_pages_never_runs(site: Site, browser: Browser) -> None:
    # What a page echoes back from the request: the email typed at a failed sign-in, the hidden "next"
    # path, the service filter. With the policy bypassed, so escaping alone is what is tested.
    await site.user("quality_reviewer", REVIEWER)
    async with staff_page(browser, site, None, bypass_csp=True) as page:
        watch = await Watch.attach(page)
        await page.goto(f"{site.url}/staff/sign-in?next={quote('/staff/feedback' + REFLECTED)}")
        await page.locator("#email").fill(REFLECTED)
        await page.locator("#password").fill("not the password at all")
        reply = await enter_and_wait(page)
        assert reply is not None
        assert reply.status == 401
        await expect(page.locator("#email")).to_have_value(REFLECTED)
        await expect(page.locator("input[name=next]")).to_have_value("/staff/feedback" + REFLECTED)
        assert await page.locator("main img, main script").count() == 0
        assert await page.evaluate("() => typeof window.__xss") == "undefined"
        assert await watch.problems(401) == []

    async with staff_page(browser, site, REVIEWER, bypass_csp=True) as page:
        watch = await Watch.attach(page)
        reply = await page.goto(f"{site.url}/staff/feedback?{urlencode({'service': REFLECTED})}")
        assert reply is not None
        assert reply.status == 200
        await expect(page.locator("#main-content")).to_contain_text("No responses match these filters.")
        assert await page.locator("main img, main script").count() == 0
        assert await page.evaluate("() => typeof window.__xss") == "undefined"
        assert await watch.problems() == []
