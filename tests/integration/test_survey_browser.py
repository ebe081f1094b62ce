"""The respondent's journey through the REAL app in a real browser: a contact reported through the API
becomes an emailed invitation (the file mail backend), and the links in that email are opened in Chromium
against the app served by uvicorn on the test database. Keyboard-only answering with and without JavaScript,
WCAG 2.2 AA by axe-core on every page a respondent can reach, the character count, and no console errors or
CSP violations."""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, Page, expect
from playwright.async_api import Response as PageResponse
from sqlalchemy import update

from civicvoice.core.settings import Settings
from privacy.models import DataSubject
from privacy.vault import Vault
from surveys.answers import check_answers
from surveys.catalogue import POST_CONTACT_SURVEY
from surveys.models import Answer, Invitation, Response
from surveys.responses import read_answer_text
from tests.integration.browser import (
    axe_violations,
    browser_context,
    describe_violations,
    needs_chromium,
    on_one_database,
    open_page,
)
from tests.integration.live_site import LiveSite, Watch, heading, press, serve_site, tab_to
from tests.integration.support import TestDatabase

# isort: split
# The module-loop fixtures (see live_site.py): pytest finds them by their names in this module.
from tests.integration.live_site import fixture_api_key, fixture_browser, fixture_catalogue, fixture_db  # noqa: F401

pytestmark = [needs_chromium, on_one_database, pytest.mark.asyncio(loop_scope="module")]

SURVEY_TITLE = "Tell us about your recent contact"
LIMIT_HINT = "You can enter up to 1,200 characters"


@dataclass(frozen=True)
class Invited:
    invitation_id: uuid.UUID
    survey_url: str
    unsubscribe_url: str


@dataclass
class Site(LiveSite):
    """The live app, its database and its API key; `invite()` turns a contact into an emailed invitation."""

    async def invite(self, external_id: str = "c1", email: str = "resident@example.org") -> Invited:
        async with httpx.AsyncClient(base_url=self.url) as client:
            invitation_id = await self.report_contact(client, external_id, email)
        await self.run_jobs()
        message = self.invitation_email(invitation_id)
        assert message["To"] == email
        body = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        link = re.escape(self.url) + r"/{}/[A-Za-z0-9_\-]+"
        survey = re.search(link.format("s"), body)
        unsubscribe = re.search(link.format("u"), body)
        assert survey, f"the email has no survey link to {self.url}:\n{body}"
        assert unsubscribe, f"the email has no unsubscribe link to {self.url}:\n{body}"
        return Invited(invitation_id, survey.group(0), unsubscribe.group(0))

    async def answer(self, invited: Invited, **answers: str) -> None:
        """Answers the survey the way a browser without JavaScript posts the form."""
        async with httpx.AsyncClient() as client:
            done = await client.post(invited.survey_url, data=answers, follow_redirects=False)
        assert done.status_code == 303, done.text

    async def expire(self, invited: Invited) -> None:
        async with self.db.sessions() as session, session.begin():
            await session.execute(
                update(Invitation)
                .where(Invitation.id == invited.invitation_id)
                .values(expires_at=datetime.now(UTC) - timedelta(days=1))
            )

    async def answers(self) -> tuple[Response, dict[str, Any]]:
        """The one stored response and its answers by question: numbers, choices and decrypted text."""
        [response] = await self.db.all(Response)
        stored: dict[str, Any] = {}
        vault = self.app.state.services.get(Vault)
        async with self.db.sessions() as session:
            for answer in await self.db.all(Answer):
                if answer.text_ciphertext is not None:
                    value: Any = await read_answer_text(session, vault, response, answer)
                else:
                    value = answer.number if answer.number is not None else answer.choice
                stored[answer.question_key] = value
        return response, stored


@pytest.fixture
def site(settings: Settings, db: TestDatabase, catalogue: None, auth: dict[str, str]) -> Iterator[Site]:
    with serve_site(Site, settings, db, auth) as served:
        yield served


# ------------------------------------------------------------------------------------------------- helpers


async def submit_by_keyboard(page: Page, button: str = "Send feedback") -> PageResponse | None:
    await tab_to(page, f"the {button} button", lambda el: el["tag"] == "button" and el["text"] == button, limit=12)
    async with page.expect_navigation() as navigation:
        await page.keyboard.press("Enter")
    return await navigation.value


# --------------------------------------------------------------------------------------- 1: keyboard only


@pytest.mark.parametrize("javascript", [True, False], ids=["javascript", "no-javascript"])
async def test_a_keyboard_only_respondent_answers_the_emailed_survey(
    site: Site, browser: Browser, javascript: bool
) -> None:
    invited = await site.invite()
    async with browser_context(browser, java_script_enabled=javascript) as context:
        page = await context.new_page()
        watch = await Watch.attach(page, javascript=javascript)
        opened = await page.goto(invited.survey_url)
        assert opened is not None
        assert opened.status == 200
        assert await heading(page) == SURVEY_TITLE
        body_class = await page.locator("body").get_attribute("class") or ""
        assert ("govuk-frontend-supported" in body_class) is javascript

        skip = await press(page, "Tab")
        assert (skip["tag"], skip["text"]) == ("a", "Skip to main content"), skip
        await page.keyboard.press("Enter")
        first = await press(page, "Tab")
        assert (first["id"], first["type"], first["checked"]) == ("satisfaction", "radio", False), first

        # Arrow keys move through a radio group and choose as they go: 5, 4, 3, 2 ("Dissatisfied").
        for _ in range(3):
            chosen = await press(page, "ArrowDown")
        assert (chosen["id"], chosen["value"], chosen["checked"]) == ("satisfaction-4", "2", True), chosen

        # Tab leaves the group for the next one; Space chooses the focused option.
        yes = await press(page, "Tab")
        assert (yes["id"], yes["value"], yes["checked"]) == ("resolved", "yes", False), yes
        assert (await press(page, "Space"))["checked"] is True

        improve = await press(page, "Tab")
        assert (improve["tag"], improve["id"]) == ("textarea", "improve"), improve
        await page.keyboard.type("The hold music was far too loud.")

        # Shift+Tab goes back to the chosen answer, and an arrow changes it: "Partly".
        back = await press(page, "Shift+Tab")
        assert (back["id"], back["checked"]) == ("resolved", True), back
        partly = await press(page, "ArrowDown")
        assert (partly["id"], partly["value"], partly["checked"]) == ("resolved-2", "partly", True), partly

        assert (await press(page, "Tab"))["value"] == "The hold music was far too loud."
        praise = await press(page, "Tab")
        assert (praise["tag"], praise["id"]) == ("textarea", "praise"), praise
        await page.keyboard.type("The advisor was kind & patient.")

        done = await submit_by_keyboard(page)
        assert done is not None
        assert done.status == 200
        assert page.url == f"{site.url}/survey/thank-you"
        assert await heading(page) == "Thank you for your feedback"
        assert await watch.problems() == []

    response, stored = await site.answers()
    assert (response.satisfaction, response.resolved, response.channel) == (2, "partly", "email")
    assert stored == {
        "satisfaction": 2,
        "resolved": "partly",
        "improve": "The hold music was far too loud.",
        "praise": "The advisor was kind & patient.",
    }


# ---------------------------------------------------------------- 2 and 4: WCAG 2.2 AA, console and CSP


async def open_survey(page: Page, site: Site, invited: Invited) -> PageResponse | None:
    return await page.goto(invited.survey_url)


async def send_empty_survey(page: Page, site: Site, invited: Invited) -> PageResponse | None:
    await page.goto(invited.survey_url)
    return await submit_by_keyboard(page)


async def send_too_long_answer(page: Page, site: Site, invited: Invited) -> PageResponse | None:
    await page.goto(invited.survey_url)
    await page.get_by_label("Satisfied", exact=True).check()
    await page.get_by_role("group", name="Was your issue resolved?").get_by_label("Yes", exact=True).check()
    await page.locator("#improve").fill("x" * 1201)
    return await submit_by_keyboard(page)


async def open_thank_you(page: Page, site: Site, invited: Invited) -> PageResponse | None:
    return await page.goto(f"{site.url}/survey/thank-you")


async def open_forged_link(page: Page, site: Site, invited: Invited) -> PageResponse | None:
    token = invited.survey_url.rsplit("/", 1)[1]
    forged = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    return await page.goto(f"{site.url}/s/{forged}")


async def open_unsubscribe(page: Page, site: Site, invited: Invited) -> PageResponse | None:
    return await page.goto(invited.unsubscribe_url)


async def unsubscribe_by_keyboard(page: Page, site: Site, invited: Invited) -> PageResponse | None:
    await page.goto(invited.unsubscribe_url)
    return await submit_by_keyboard(page, "Unsubscribe")


async def nothing(site: Site, invited: Invited) -> None:
    return None


async def answered(site: Site, invited: Invited) -> None:
    await site.answer(invited, satisfaction="4", resolved="yes")


async def expired(site: Site, invited: Invited) -> None:
    await site.expire(invited)


@dataclass(frozen=True)
class PageState:
    prepare: Callable[[Site, Invited], Awaitable[None]]
    reach: Callable[[Page, Site, Invited], Awaitable[PageResponse | None]]
    status: int
    heading: str


PAGE_STATES = {
    "survey": PageState(nothing, open_survey, 200, SURVEY_TITLE),
    "survey-errors": PageState(nothing, send_empty_survey, 400, SURVEY_TITLE),
    "survey-too-long": PageState(nothing, send_too_long_answer, 400, SURVEY_TITLE),
    "thank-you": PageState(nothing, open_thank_you, 200, "Thank you for your feedback"),
    "expired-link": PageState(expired, open_survey, 410, "This survey has closed"),
    "invalid-link": PageState(nothing, open_forged_link, 404, "This link is not valid"),
    "already-answered": PageState(answered, open_survey, 409, "You have already answered this survey"),
    "unsubscribe-confirm": PageState(nothing, open_unsubscribe, 200, "Stop survey invitations"),
    "unsubscribe-done": PageState(nothing, unsubscribe_by_keyboard, 200, "You have unsubscribed"),
}


@pytest.mark.parametrize("name", PAGE_STATES)
async def test_page_meets_wcag_22_aa_without_console_errors_or_csp_violations(
    site: Site, browser: Browser, name: str
) -> None:
    state = PAGE_STATES[name]
    invited = await site.invite()
    await state.prepare(site, invited)

    # Under the app's own Content-Security-Policy, as a respondent gets the page.
    async with browser_context(browser) as context:
        page = await context.new_page()
        watch = await Watch.attach(page)
        reply = await state.reach(page, site, invited)
        assert reply is not None
        assert reply.status == state.status, await page.content()
        assert await heading(page) == state.heading
        assert await watch.problems(state.status) == []

    # axe-core is injected as a script, which that policy rightly forbids: this context bypasses it.
    async with browser_context(browser, bypass_csp=True) as context:
        page = await context.new_page()
        reply = await state.reach(page, site, invited)
        assert reply is not None
        assert reply.status == state.status
        violations = await axe_violations(page)
    assert violations == [], f"axe found WCAG problems on the {name} page:\n{describe_violations(violations)}"

    if name == "unsubscribe-done":
        [subject] = await site.db.all(DataSubject)
        assert subject.opted_out_at is not None


async def test_the_watch_sees_a_csp_violation(site: Site, browser: Browser) -> None:
    # Guards the test above against passing because nothing is listening.
    async with browser_context(browser) as context:
        page = await context.new_page()
        watch = await Watch.attach(page)
        await page.goto(f"{site.url}/survey/thank-you")
        await page.evaluate(
            """() => {
                const script = document.createElement("script");
                script.textContent = "document.title = 'inline';";
                document.body.append(script);
            }"""
        )
        problems = await watch.problems()
    blocked = "CSP violation: script-src-elem blocked inline"
    assert any(found.startswith(blocked) for found in problems), problems
    assert any(found.startswith("console error: ") for found in problems), problems


# ------------------------------------------------------------------------------------ 3: character count


async def test_with_javascript_the_character_count_updates_as_you_type(site: Site, browser: Browser) -> None:
    invited = await site.invite()
    async with browser_context(browser) as context:
        page = await context.new_page()
        watch = await Watch.attach(page)
        await page.goto(invited.survey_url)
        status = page.locator("#improve ~ .govuk-character-count__status")
        await expect(status).to_have_text("You have 1,200 characters remaining")
        textarea = page.locator("#improve")
        await textarea.press_sequentially("Hello")
        await expect(status).to_have_text("You have 1,195 characters remaining")
        await textarea.fill("x" * 1199)
        await textarea.press("End")
        await textarea.press("x")
        await expect(status).to_have_text("You have 0 characters remaining")
        await textarea.press("x")
        await expect(status).to_have_text("You have 1 character too many")
        await expect(textarea).to_have_value("x" * 1201)  # counted, never cut short
        # The other free-text question counts on its own.
        await expect(page.locator("#praise ~ .govuk-character-count__status")).to_have_text(
            "You have 1,200 characters remaining"
        )
        assert await watch.problems() == []


async def test_without_javascript_the_limit_is_stated_and_the_server_enforces_it(site: Site, browser: Browser) -> None:
    invited = await site.invite()
    typed = "It took three calls & a <complaint> to get the bin replaced. " * 20 + "Sorry"
    assert len(typed) == 1225
    async with browser_context(browser, java_script_enabled=False) as context:
        page = await context.new_page()
        watch = await Watch.attach(page, javascript=False)
        await page.goto(invited.survey_url)
        for key in ("improve", "praise"):
            hint = page.locator(f"#{key}-info")
            await expect(hint).to_be_visible()
            await expect(hint).to_have_text(LIMIT_HINT)
            described_by = (await page.locator(f"#{key}").get_attribute("aria-describedby") or "").split()
            assert f"{key}-info" in described_by
        assert await page.locator(".govuk-character-count__status").count() == 0

        await page.get_by_label("Very dissatisfied").check()
        await page.get_by_role("group", name="Was your issue resolved?").get_by_label("No", exact=True).check()
        await page.locator("#improve").fill(typed)
        reply = await submit_by_keyboard(page)
        assert reply is not None
        assert reply.status == 400
        assert (await page.title()).startswith("Error: ")

        # The server's own message for this answer, word for word.
        answers = {"satisfaction": "1", "resolved": "no", "improve": typed}
        [problem] = check_answers(POST_CONTACT_SURVEY, answers).problems
        assert problem.key == "improve"
        assert "1,200 characters or fewer" in problem.message
        message = problem.message
        summary = page.locator(".govuk-error-summary")
        await expect(summary).to_be_visible()
        await expect(summary.get_by_role("link")).to_have_text([message])
        await expect(summary.get_by_role("link")).to_have_attribute("href", "#improve")
        await expect(page.locator("#improve-error")).to_have_text(f"Error: {message}")
        # What was typed and chosen is all still there, to shorten rather than retype.
        await expect(page.locator("#improve")).to_have_value(typed)
        await expect(page.get_by_label("Very dissatisfied")).to_be_checked()
        await expect(
            page.get_by_role("group", name="Was your issue resolved?").get_by_label("No", exact=True)
        ).to_be_checked()
        await expect(page.locator("#improve-info")).to_have_text(LIMIT_HINT)
        assert await watch.problems(400) == []
    assert await site.db.count(Response) == 0


# ------------------------------------------------------------------------------ what assistive tech reads


async def test_each_question_is_named_once_as_the_respondent_sees_it(site: Site, browser: Browser) -> None:
    # axe checks that every field has a name, not that the name reads properly.
    invited = await site.invite()
    async with open_page(browser, invited.survey_url) as page:
        questions = {
            "fieldset:has(#satisfaction)": "Overall, how satisfied were you with the service you received?",
            "fieldset:has(#resolved)": "Was your issue resolved?",
            "#improve": "What could we do better? (optional)",
            "#praise": "What went well? (optional)",
        }
        for selector, name in questions.items():
            await expect(page.locator(selector)).to_have_accessible_name(name)
