"""The public pages in a real browser: WCAG 2.2 AA by axe-core, keyboard-only use, the page without
JavaScript, the character count with it, and the Content-Security-Policy. Rendered from the templates with
sample context through a small app that serves them the way the real one does."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from typing import Annotated, Any

import pytest
import pytest_asyncio
from litestar import Litestar, MediaType, Request, Response, get, post
from litestar.datastructures import ResponseHeader
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath
from litestar.response import Template
from litestar.static_files import create_static_files_router
from playwright.async_api import Browser, ConsoleMessage, Page, expect

from civicvoice.core.http import SECURITY_HEADERS, FieldError, Problem, error_response
from surveys.definitions import Choice, Question, QuestionKind, SurveyDefinition
from tests.integration.browser import (
    REPO,
    LiveServer,
    axe_violations,
    browser_context,
    chromium,
    describe_violations,
    live_server,
    needs_chromium,
    open_page,
    template_config,
)

pytestmark = [needs_chromium, pytest.mark.asyncio(loop_scope="module")]

FormData = Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)]

SCALE = [
    ("5", "Very satisfied"),
    ("4", "Satisfied"),
    ("3", "Neither satisfied nor dissatisfied"),
    ("2", "Dissatisfied"),
    ("1", "Very dissatisfied"),
]
SURVEY = SurveyDefinition(
    title={"en": "How was your call with Waste and Recycling?"},
    intro={"en": "It takes about 2 minutes. Your answers help us improve the service."},
    questions=(
        Question(
            id="satisfaction",
            kind=QuestionKind.csat,
            text={"en": "Overall, how satisfied were you with the service you received?"},
            required=True,
            choices=tuple(Choice(value=value, label={"en": label}) for value, label in SCALE),
        ),
        Question(
            id="resolved",
            kind=QuestionKind.yes_partly_no,
            text={"en": "Did we do what you needed?"},
            hint={"en": "Think about the main reason you contacted us."},
            required=True,
        ),
        Question(
            id="comment",
            kind=QuestionKind.free_text,
            text={"en": "What could we do better?"},
            hint={"en": "Do not include personal details such as your name, address or phone number."},
            max_length=1200,
        ),
    ),
)
ERRORS = [
    {"key": "resolved", "message": "Select whether we did what you needed"},
    {"key": "comment", "message": "What could we do better must be 1,200 characters or fewer"},
]


def form_context(**overrides: Any) -> dict[str, Any]:
    context = {
        "page_title": "Give feedback",
        "survey": SURVEY,
        "values": {},
        "errors": [],
        "action": "/survey/submitted",
        "unsubscribe_url": "/unsubscribe",
    }
    return {**context, **overrides}


@get("/privacy")
async def privacy() -> Template:
    return Template(template_name="pages/privacy.html.j2")


@get("/accessibility")
async def accessibility() -> Template:
    return Template(template_name="pages/accessibility.html.j2")


@get("/survey")
async def survey_form() -> Template:
    return Template(template_name="survey/form.html.j2", context=form_context())


@get("/survey/errors")
async def survey_form_with_errors() -> Template:
    values = {"satisfaction": "2", "comment": "Too long " * 140}
    return Template(template_name="survey/form.html.j2", context=form_context(values=values, errors=ERRORS))


@post("/survey/submitted", status_code=200, media_type=MediaType.TEXT)
async def survey_submitted(data: FormData) -> str:
    # Echoes what the browser sent, so a test can see which answers a keyboard user submitted.
    return "\n".join(f"{key}={value}" for key, value in sorted(data.items()))


@get("/thanks")
async def thanks() -> Template:
    return Template(template_name="survey/thanks.html.j2")


@get("/link-problem")
async def link_problem() -> Template:
    return Template(
        template_name="survey/link_problem.html.j2",
        context={
            "heading": "This survey link has expired",
            "message": "Survey links work for 14 days after we send them.",
            "what_to_do": "You do not need to do anything. We may ask for your feedback next time.",
        },
    )


@get("/unsubscribe")
async def unsubscribe_confirm() -> Template:
    return Template(template_name="survey/unsubscribe.html.j2", context={"state": "confirm", "action": "/unsubscribe"})


@get("/unsubscribe/done")
async def unsubscribe_done() -> Template:
    return Template(template_name="survey/unsubscribe.html.j2", context={"state": "done", "action": "/unsubscribe"})


@post("/unsubscribe", status_code=200)
async def unsubscribe(data: FormData) -> Template | Response[str]:
    if data != {"List-Unsubscribe": "One-Click"}:
        return Response(f"unexpected body {data!r}", status_code=400, media_type=MediaType.TEXT)
    return Template(template_name="survey/unsubscribe.html.j2", context={"state": "done", "action": "/unsubscribe"})


PROBLEMS = {
    403: Problem(
        type="/problems/csrf",
        title="The form has expired",
        status=403,
        detail="The form has expired or did not come from this site. Go back, reload the page and try again.",
    ),
    404: Problem(type="/problems/not-found", title="Not found", status=404, detail="Not found"),
    422: Problem(
        type="/problems/invalid-input",
        title="Invalid input",
        status=422,
        detail="Check the dates.",
        errors=[FieldError("from", "Enter a real date"), FieldError("to", "Enter a real date")],
    ),
    500: Problem(type="/problems/server-error", title="Server error", status=500, detail="It has been logged."),
}


@get("/problem/{status:int}")
async def problem_page(request: Request[Any, Any, Any], status: FromPath[int]) -> Response[Any]:
    return error_response(request, PROBLEMS[status])


def pages_app() -> Litestar:
    return Litestar(
        route_handlers=[
            privacy,
            accessibility,
            survey_form,
            survey_form_with_errors,
            survey_submitted,
            thanks,
            link_problem,
            unsubscribe_confirm,
            unsubscribe_done,
            unsubscribe,
            problem_page,
            create_static_files_router("/static", directories=[REPO / "civicvoice" / "static"]),
        ],
        template_config=template_config(),
        response_headers=[ResponseHeader(name=name, value=value) for name, value in SECURITY_HEADERS.items()],
    )


PAGES = [
    "/privacy",
    "/accessibility",
    "/survey",
    "/survey/errors",
    "/thanks",
    "/link-problem",
    "/unsubscribe",
    "/unsubscribe/done",
]


@pytest.fixture(scope="module")
def server() -> Iterator[LiveServer]:
    built = REPO / "civicvoice" / "static" / "build"
    for asset in ("civicvoice.css", "govuk-frontend.min.js"):
        assert (built / asset).exists(), f"{asset} is not built: run `bash frontend/build.sh`"
    with live_server(pages_app()) as running:
        yield running


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as running:
        yield running


async def focused(page: Page) -> dict[str, Any]:
    description: dict[str, Any] = await page.evaluate(
        """() => {
            const el = document.activeElement;
            return { tag: el.tagName.toLowerCase(), id: el.id, type: el.type || null,
                     classes: [...el.classList], text: el.textContent.trim(), checked: !!el.checked };
        }"""
    )
    return description


@pytest.mark.parametrize("path", PAGES)
async def test_page_meets_wcag_22_aa(server: LiveServer, browser: Browser, path: str) -> None:
    async with open_page(browser, server.url + path, bypass_csp=True) as page:
        violations = await axe_violations(page)
    assert violations == [], f"axe found WCAG problems on {path}:\n{describe_violations(violations)}"


@pytest.mark.parametrize("path", PAGES)
async def test_page_loads_its_styles_and_scripts_under_the_csp(server: LiveServer, browser: Browser, path: str) -> None:
    problems: list[str] = []
    async with browser_context(browser) as context:
        page = await context.new_page()

        def on_console(message: ConsoleMessage) -> None:
            if message.type in {"error", "warning"}:
                problems.append(f"console {message.type}: {message.text}")

        page.on("console", on_console)
        page.on("pageerror", lambda error: problems.append(f"script error: {error}"))
        page.on("requestfailed", lambda request: problems.append(f"request failed: {request.url}"))
        page.on(
            "response",
            lambda response: (
                problems.append(f"{response.status} for {response.url}") if response.status >= 400 else None
            ),
        )
        await page.goto(server.url + path)
        # The module script ran (GOV.UK Frontend is on) and the compiled styles apply (system font stack).
        await expect(page.locator("body")).to_have_class(re.compile(r"\bgovuk-frontend-supported\b"))
        font = await page.evaluate("getComputedStyle(document.querySelector('main h1')).fontFamily")
        title = await page.title()
        referrer = await page.locator("meta[name=referrer]").get_attribute("content")
    assert problems == []
    assert font.startswith("system-ui"), font
    assert "GDS Transport" not in font
    assert title.endswith("\N{EN DASH} Borsetshire County Council")
    assert referrer == "no-referrer"


async def test_every_page_links_the_privacy_notice_and_accessibility_statement(
    server: LiveServer, browser: Browser
) -> None:
    async with browser_context(browser) as context:
        page = await context.new_page()
        for path in PAGES:
            await page.goto(server.url + path)
            footer = page.locator("footer")
            await expect(footer.get_by_role("link", name="Privacy notice")).to_have_attribute("href", "/privacy")
            await expect(footer.get_by_role("link", name="Accessibility statement")).to_have_attribute(
                "href", "/accessibility"
            )
            await expect(page.locator("header")).to_contain_text("Borsetshire County Council")


async def test_keyboard_only_user_can_skip_to_content_choose_an_answer_and_send(
    server: LiveServer, browser: Browser
) -> None:
    async with open_page(browser, server.url + "/survey") as page:
        await page.keyboard.press("Tab")
        first = await focused(page)
        assert "govuk-skip-link" in first["classes"], first
        assert first["text"] == "Skip to main content"

        await page.keyboard.press("Enter")
        assert (await focused(page))["id"] == "main-content"

        await page.keyboard.press("Tab")
        radio = await focused(page)
        assert (radio["id"], radio["type"]) == ("satisfaction", "radio")
        await page.keyboard.press("ArrowDown")
        chosen = await focused(page)
        assert (chosen["id"], chosen["checked"]) == ("satisfaction-2", True)

        for _ in range(10):
            await page.keyboard.press("Tab")
            if (await focused(page))["text"] == "Send feedback":
                break
        else:
            pytest.fail("Tab never reached the Send feedback button")
        async with page.expect_navigation():
            await page.keyboard.press("Enter")
        assert await page.locator("body").inner_text() == "comment=\nsatisfaction=4"


async def test_without_javascript_the_character_limit_is_stated_and_the_form_still_sends(
    server: LiveServer, browser: Browser
) -> None:
    async with open_page(browser, server.url + "/survey", java_script_enabled=False) as page:
        limit = page.locator("#comment-info")
        await expect(limit).to_be_visible()
        await expect(limit).to_have_text("You can enter up to 1,200 characters")
        assert await page.locator(".govuk-character-count__status").count() == 0
        assert "js-enabled" not in (await page.locator("body").get_attribute("class") or "")

        await page.get_by_label("Very dissatisfied").check()
        await page.get_by_label("Partly").check()
        await page.get_by_label("What could we do better?").fill("Answer the phone sooner")
        async with page.expect_navigation():
            await page.get_by_role("button", name="Send feedback").click()
        assert await page.locator("body").inner_text() == (
            "comment=Answer the phone sooner\nresolved=partly\nsatisfaction=1"
        )


async def test_with_javascript_the_character_count_updates_as_you_type(server: LiveServer, browser: Browser) -> None:
    async with open_page(browser, server.url + "/survey") as page:
        status = page.locator(".govuk-character-count__status")
        await expect(status).to_have_text("You have 1,200 characters remaining")
        textarea = page.get_by_label("What could we do better?")
        await textarea.press_sequentially("Hello")
        await expect(status).to_have_text("You have 1,195 characters remaining")
        await textarea.fill("x" * 1203)
        await textarea.press("End")
        await textarea.press("x")
        await expect(status).to_have_text("You have 4 characters too many")


async def test_errors_are_summarised_and_each_links_to_its_question(server: LiveServer, browser: Browser) -> None:
    async with open_page(browser, server.url + "/survey/errors") as page:
        assert (await page.title()).startswith("Error: Give feedback")
        summary = page.locator(".govuk-error-summary")
        await expect(summary).to_be_focused()
        await expect(summary.get_by_role("link")).to_have_text([error["message"] for error in ERRORS])
        # The answers given are kept, and each question in error says what to fix beside it.
        await expect(page.get_by_label("Dissatisfied", exact=True)).to_be_checked()
        await expect(page.locator("#resolved-error")).to_have_text("Error: Select whether we did what you needed")
        await expect(page.locator("#comment")).to_have_value("Too long " * 140)

        await summary.get_by_role("link", name="Select whether we did what you needed").click()
        await expect(page.locator("#resolved")).to_be_focused()
        await summary.get_by_role("link", name="What could we do better must be 1,200 characters or fewer").click()
        await expect(page.locator("#comment")).to_be_focused()


async def test_unsubscribe_posts_the_one_click_body(server: LiveServer, browser: Browser) -> None:
    async with open_page(browser, server.url + "/unsubscribe", java_script_enabled=False) as page:
        await expect(page.get_by_role("heading", level=1)).to_have_text("Stop survey invitations")
        async with page.expect_navigation():
            await page.get_by_role("button", name="Unsubscribe").click()
        await expect(page.get_by_role("heading", level=1)).to_have_text("You have unsubscribed")
        await expect(page.locator("main")).to_contain_text("will not send you invitations to give feedback again")


@pytest.mark.parametrize("status", sorted(PROBLEMS))
async def test_error_pages_meet_wcag_22_aa_and_say_what_happened(
    server: LiveServer, browser: Browser, status: int
) -> None:
    async with open_page(browser, f"{server.url}/problem/{status}", bypass_csp=True) as page:
        violations = await axe_violations(page)
        heading = await page.locator("main h1").inner_text()
        body = await page.locator("main").inner_text()
        footer_links = await page.locator("footer a").all_inner_texts()
    assert violations == [], f"axe found WCAG problems on the {status} page:\n{describe_violations(violations)}"
    expected = {
        403: "The form has expired",
        404: "Page not found",
        422: "Invalid input",
        500: "Sorry, there is a problem with the service",
    }[status]
    assert heading == expected
    assert "Go back to the start" in body
    if status == 422:
        assert "from: Enter a real date" in body and "to: Enter a real date" in body
    assert any("Privacy" in link for link in footer_links) and any("Accessibility" in link for link in footer_links)
