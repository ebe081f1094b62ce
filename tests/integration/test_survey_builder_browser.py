"""The survey builder in a real browser: every builder page (with and without errors) meets WCAG 2.2 A/AA by
axe-core with no console errors or CSP violations, and an administrator builds and publishes a survey by
keyboard alone, with JavaScript off (plain forms, post-redirect-get). The respondent's page of a version in
English and Welsh switches language by keyboard and meets WCAG 2.2 A/AA in Welsh too."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import msgspec
import pytest
from playwright.async_api import Browser, Page

from civicvoice.core.audit import Actor
from civicvoice.core.db import unit_of_work
from civicvoice.core.settings import Settings
from surveys.builder import find_survey, new_draft, publish_version, replace_draft
from surveys.catalogue import POST_CONTACT_SURVEY
from surveys.definitions import decode_definition, stored_definition
from surveys.intake import ContactIntake
from surveys.models import Invitation, Survey, SurveyVersion
from surveys.tokens import Purpose, TokenSigner
from tests.integration.browser import axe_violations, describe_violations, needs_chromium, on_one_database
from tests.integration.live_site import Watch, focused, heading, press, serve_site, tab_to
from tests.integration.support import TestDatabase
from tests.integration.test_staff_browser import Site, enter_and_wait, staff_page
from tests.integration.test_survey_builder_welsh import WELSH_TITLE, with_welsh

# isort: split
# The module-loop fixtures (see live_site.py): pytest finds them by their names in this module.
from tests.integration.live_site import fixture_api_key, fixture_browser, fixture_catalogue, fixture_db  # noqa: F401

pytestmark = [needs_chromium, on_one_database, pytest.mark.asyncio(loop_scope="module")]

ADMIN = "admin@council.gov.uk"
DRAFT = "/staff/surveys/post-contact/versions/2"


@pytest.fixture
def site(settings: Settings, db: TestDatabase, catalogue: None, auth: dict[str, str]) -> Iterator[Site]:
    with serve_site(Site, settings, db, auth) as served:
        yield served


async def submit(page: Page, selector: str) -> int:
    async with page.expect_navigation() as navigation:
        await page.locator(selector).click()
    reply = await navigation.value
    assert reply is not None
    return reply.status


async def test_every_builder_page_meets_wcag_22_aa(site: Site, browser: Browser) -> None:
    await site.user("admin", ADMIN)
    found: list[str] = []

    async def check(page: Page, watch: Watch, name: str, status: int = 200) -> None:
        if violations := await axe_violations(page):
            found.append(f"{name}:\n{describe_violations(violations)}")
        assert await watch.problems(status) == [], name
        watch.clear()

    async with staff_page(browser, site, ADMIN, bypass_csp=True) as page:
        watch = await Watch.attach(page)
        await page.goto(f"{site.url}/staff/surveys/post-contact")
        assert await submit(page, "form[action$='/versions'] button") == 200  # a new draft, version 2
        assert page.url == site.url + DRAFT
        for name, path, title in [
            ("surveys", "/staff/surveys", "Surveys"),
            ("a survey", "/staff/surveys/post-contact", "Post-contact satisfaction"),
            ("a published version", "/staff/surveys/post-contact/versions/1", "Version 1 Published"),
            ("a draft", DRAFT, "Version 2 Draft"),
            ("a new question", f"{DRAFT}/questions/new", "Add a question"),
            ("a question", f"{DRAFT}/questions/satisfaction", "Edit a question"),
            ("the preview", f"{DRAFT}/preview", "Tell us about your recent contact"),
        ]:
            reply = await page.goto(site.url + path)
            assert reply is not None and reply.status == 200, name
            assert " ".join((await heading(page)).split()) == title, name
            await check(page, watch, name)

        # A campaign's page, with its period, target and progress.
        await page.goto(f"{site.url}/staff/surveys")
        await page.fill("#name", "Key accounts")
        await page.fill("#slug", "key-accounts")
        await page.check("#kind-2")
        assert await submit(page, "form[action='/staff/surveys'] button[type=submit]") == 200
        await page.goto(f"{site.url}/staff/surveys/key-accounts")
        await page.fill("#target_responses", "40")
        assert await submit(page, "form[action$='/campaign'] button") == 200
        assert "0 responses of the 40 aimed for" in await page.locator("#progress").inner_text()
        await check(page, watch, "a campaign")

        # Pages with errors: the create form, a question form, publishing a broken draft, channels.
        await page.goto(f"{site.url}/staff/surveys")
        assert await submit(page, "form[action='/staff/surveys'] button[type=submit]") == 422
        await check(page, watch, "surveys: errors", 422)
        await page.goto(f"{site.url}{DRAFT}/questions/new")
        await page.fill("#id", "Not an id")
        assert await submit(page, "main form button[type=submit]") == 422
        await check(page, watch, "a new question: errors", 422)
        await page.goto(f"{site.url}{DRAFT}")
        await page.check("#welsh")
        assert await submit(page, f"form[action='{DRAFT}'] button") == 200
        assert await submit(page, "form[action$='/publish'] button") == 422
        assert await page.locator(".govuk-error-summary a").count() >= 5  # every text lacks its Welsh
        await check(page, watch, "a draft: publishing refused", 422)
        await page.goto(f"{site.url}/staff/surveys/post-contact")
        await page.check("#channels-kiosk")
        assert await submit(page, "form[action$='/channels'] button") == 422
        await check(page, watch, "a survey: channels refused", 422)
    assert found == [], "axe found WCAG problems:\n" + "\n".join(found)


async def test_a_survey_is_built_and_published_by_keyboard_without_javascript(site: Site, browser: Browser) -> None:
    await site.user("admin", ADMIN)
    async with staff_page(browser, site, ADMIN, java_script_enabled=False) as page:
        watch = await Watch.attach(page, javascript=False)
        await page.goto(f"{site.url}/staff/surveys")
        await tab_to(page, "the name", lambda e: e["id"] == "name", limit=40)
        await page.keyboard.type("Library visits")
        assert (await press(page, "Tab"))["id"] == "slug"
        await page.keyboard.type("libraries")
        kind = await press(page, "Tab")
        assert kind["id"] == "kind" and kind["checked"]
        await page.keyboard.press("ArrowDown")  # the campaign
        assert (await focused(page))["value"] == "campaign"
        assert (await press(page, "Tab"))["text"] == "Create the survey"
        reply = await enter_and_wait(page)
        assert reply is not None and reply.status == 200
        assert page.url == f"{site.url}/staff/surveys/libraries/versions/1"

        async def add_question(short_name: str, kind_label: str, text: str, **extra: str) -> None:
            link = await tab_to(page, "Add a question", lambda e: e["text"] == "Add a question", limit=60)
            assert link["tag"] == "a"
            reply = await enter_and_wait(page)
            assert reply is not None and reply.status == 200
            await tab_to(page, "the short name", lambda e: e["id"] == "id", limit=40)
            await page.keyboard.type(short_name)
            radio = await press(page, "Tab")
            assert radio["type"] == "radio"
            while (await focused(page))["value"] != kind_label:
                await page.keyboard.press("ArrowDown")  # Down moves and selects the next kind
            await tab_to(page, "the English text", lambda e: e["id"] == "text_en")
            await page.keyboard.type(text)
            for field, value in extra.items():
                await tab_to(page, field, lambda e, f=field: e["id"] == f, limit=30)  # type: ignore[misc]
                await page.keyboard.type(value)
            await tab_to(page, "Save", lambda e: e["text"] == "Save the question", limit=30)
            reply = await enter_and_wait(page)
            assert reply is not None and reply.status == 200

        await add_question("visit", "rating", "How was your visit today?")
        await add_question("comment", "free_text", "Anything else?", max_length="300")

        # Move the comment up (above the rating) and back down, by keyboard.
        up = await tab_to(page, "Move up", lambda e: e["text"] == "Move up question 2", limit=80)
        assert up["tag"] == "button"
        reply = await enter_and_wait(page)
        assert reply is not None and reply.status == 200
        [survey] = [s for s in await site.db.all(Survey) if s.slug == "libraries"]
        [version] = [v for v in await site.db.all(SurveyVersion) if v.survey_id == survey.id]
        assert [q.id for q in stored_definition(version.definition).questions] == ["comment", "visit"]

        publish = await tab_to(page, "Publish", lambda e: e["text"] == "Publish this version", limit=80)
        assert publish["tag"] == "button"
        reply = await enter_and_wait(page)
        assert reply is not None and reply.status == 200
        assert "Published" in await page.locator("h1").inner_text()
        assert await watch.problems() == []
    [version] = [v for v in await site.db.all(SurveyVersion) if v.survey_id == survey.id]
    assert version.status == "published"


async def test_the_welsh_survey_page_by_keyboard_and_axe(site: Site, browser: Browser) -> None:
    welsh = with_welsh(msgspec.json.decode(msgspec.json.encode(POST_CONTACT_SURVEY)))
    welsh["languages"] = ["en", "cy"]
    resolved = next(q for q in welsh["questions"] if q["id"] == "resolved")
    resolved["choices"] = [
        {"value": value, "label": {"en": english, "cy": cymraeg}}
        for value, english, cymraeg in [
            ("yes", "Yes", "Ydy"),
            ("partly", "Partly", "Yn rhannol"),
            ("no", "No", "Nac ydy"),
        ]
    ]
    async with unit_of_work(site.db.sessions) as session:
        found = await find_survey(session, "post-contact")
        draft = await new_draft(session, Actor.cli(), found)
        found = await find_survey(session, "post-contact")
        await replace_draft(session, Actor.cli(), found, draft.number, decode_definition(msgspec.json.encode(welsh)))
        await publish_version(session, Actor.cli(), found, draft.number)
    site.app.state.services.get(ContactIntake).reference.clear()
    async with httpx.AsyncClient(base_url=site.url) as client:
        invitation_id = await site.report_contact(client, "cy-browser", "cymraeg@example.org")
    [invitation] = [i for i in await site.db.all(Invitation) if i.id == invitation_id]
    token = site.app.state.services.get(TokenSigner).sign(invitation.id, Purpose.survey, invitation.expires_at)

    found_problems: list[str] = []
    async with staff_page(browser, site, None, bypass_csp=True) as page:
        watch = await Watch.attach(page)
        await page.goto(f"{site.url}/s/{token}")
        switch = await tab_to(page, "the Welsh link", lambda e: e["text"] == "Cymraeg", limit=10)
        assert switch["tag"] == "a"
        reply = await enter_and_wait(page)
        assert reply is not None and reply.status == 200
        assert await page.get_attribute("html", "lang") == "cy"
        assert await heading(page) == WELSH_TITLE
        if violations := await axe_violations(page):
            found_problems.append(f"Welsh survey:\n{describe_violations(violations)}")
        assert await submit(page, "main form button[type=submit]") == 400
        assert "Mae problem wedi codi" in await page.locator(".govuk-error-summary").inner_text()
        if violations := await axe_violations(page):
            found_problems.append(f"Welsh survey with errors:\n{describe_violations(violations)}")
        assert await watch.problems(400) == []
    assert found_problems == [], "axe found WCAG problems:\n" + "\n".join(found_problems)
