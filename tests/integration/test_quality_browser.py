"""The quality workspace in a real browser: every page (inbox with filters, search and pagination, a comment as
written, a case, callbacks, the evaluation queue and form, scores, the action register and an action, the public
"You said, we did") meets WCAG 2.2 A/AA by axe-core with no console errors or CSP violations, and the work is done
by keyboard alone: filtering and searching the inbox, tagging demand, evaluating a contact, recording a callback.

Feedback arrives as in production (a contact through the API, the emailed survey answered, the worker's scoring);
the case, callback and actions are made by the feature's own services, as their pages' forms make them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from playwright.async_api import Browser, Page
from sqlalchemy import select, update

from civicvoice.core.audit import Actor
from civicvoice.core.db import unit_of_work
from civicvoice.core.settings import Settings
from feedback.actions import create_action, link_case, update_action
from feedback.callbacks import Callback, raise_callbacks
from feedback.cases import ComplaintCase, open_case
from feedback.demand import DemandTag
from feedback.models import CommentClassification
from feedback.originals import OriginalTextGrant
from feedback.quality import Evaluation
from privacy.deadlines import WorkingCalendar
from surveys.models import Contact
from tests.integration.browser import axe_violations, describe_violations, needs_chromium, on_one_database
from tests.integration.live_site import Watch, focused, heading, press, serve_site, tab_to
from tests.integration.support import TestDatabase
from tests.integration.test_staff_browser import Site, enter_and_wait, staff_page

# isort: split
# The module-loop fixtures (see live_site.py): pytest finds them by their names in this module.
from tests.integration.live_site import fixture_api_key, fixture_browser, fixture_catalogue, fixture_db  # noqa: F401

pytestmark = [needs_chromium, on_one_database, pytest.mark.asyncio(loop_scope="module")]

REVIEWER = "quality_reviewer@council.gov.uk"
COMPLAINT = "Nobody came to fix the broken bin, three weeks now and no reply. Disgraceful."


@pytest.fixture
def site(settings: Settings, db: TestDatabase, catalogue: None, auth: dict[str, str]) -> Iterator[Site]:
    # Every contact in the evaluation sample, so the queue has something to show.
    with serve_site(Site, settings.with_changes(evaluation_sample_rate=1.0), db, auth) as served:
        yield served


@asynccontextmanager
async def reviewer_page(browser: Browser, site: Site, **options: Any) -> AsyncIterator[Page]:
    async with staff_page(browser, site, REVIEWER, **options) as page:
        yield page


async def workspace(site: Site) -> dict[str, str]:
    """Two answers (a complaint from a very dissatisfied resident, a compliment), a case, a callback, two
    actions (one published); returns the references the pages need."""
    reviewer = await site.user("quality_reviewer", REVIEWER)
    await site.give_feedback(
        {"satisfaction": "1", "resolved": "no", "improve": COMPLAINT},
        {"satisfaction": "5", "resolved": "yes", "praise": "Lovely staff, sorted in one call. Thank you."},
    )
    actor = Actor("staff", str(reviewer.id))
    async with unit_of_work(site.db.sessions) as session:
        session.add(OriginalTextGrant(staff_user_id=reviewer.id, granted_by="admin"))
        await session.execute(update(Contact).values(agent_ref="A1"))
        await raise_callbacks(session, WorkingCalendar.of())
        complaint = await session.scalar(
            select(CommentClassification).where(CommentClassification.comment_class == "complaint")
        )
        assert complaint is not None
        case = await open_case(
            session, WorkingCalendar.of(), answer_id=complaint.answer_id, owner_id=str(reviewer.id), actor=actor
        )
        planned = await create_action(
            session,
            title="Check missed bins the same day",
            description="Crews report missed bins.",
            owner_id=str(reviewer.id),
            actor=actor,
        )
        await link_case(session, planned, case, actor=actor)
        done = await create_action(
            session,
            title="Collection calendar online",
            description="Printable calendar.",
            owner_id=str(reviewer.id),
            actor=actor,
        )
        await update_action(
            session,
            done,
            status="done",
            evidence="Published on the website.",
            you_said="You could not find your collection day.",
            we_did="We put a printable calendar online.",
            published=True,
            actor=actor,
        )
        contact = await session.scalar(select(Contact).limit(1))
        assert contact is not None
        return {
            "case": case.reference,
            "action": planned.reference,
            "answer": str(complaint.answer_id),
            "contact": str(contact.id),
        }


async def test_every_quality_page_meets_wcag_22_aa(
    site: Site, browser: Browser, monkeypatch: pytest.MonkeyPatch
) -> None:
    refs = await workspace(site)
    monkeypatch.setattr("feedback.inbox.PAGE_SIZE", 1)  # the live server runs in this process: two pages
    pages: list[tuple[str, str | None, str, str, int]] = [
        ("inbox", REVIEWER, "/staff/feedback", "Recent feedback", 200),
        ("inbox page 2", REVIEWER, "/staff/feedback?page=2", "Recent feedback", 200),
        (
            "inbox filtered and searched",
            REVIEWER,
            "/staff/feedback?class=complaint&q=bin&channel=email",
            "Recent feedback",
            200,
        ),
        (
            "comment as written: reason",
            REVIEWER,
            f"/staff/feedback/comments/{refs['answer']}/original",
            "Comment as written",
            200,
        ),
        ("complaint cases", REVIEWER, "/staff/cases", "Complaint cases", 200),
        ("a case", REVIEWER, f"/staff/cases/{refs['case']}", refs["case"], 200),
        ("callbacks", REVIEWER, "/staff/callbacks", "Callbacks", 200),
        ("evaluation queue", REVIEWER, "/staff/quality", "Contact quality", 200),
        ("evaluation form", REVIEWER, f"/staff/quality/contacts/{refs['contact']}", "Evaluate a contact", 200),
        ("quality scores", REVIEWER, "/staff/quality/scores", "Contact quality scores", 200),
        ("action register", REVIEWER, "/staff/actions", "Improvement actions", 200),
        ("an action", REVIEWER, f"/staff/actions/{refs['action']}", "Check missed bins the same day", 200),
        ("you said, we did", None, "/you-said-we-did", "You said, we did", 200),
    ]
    found: list[str] = []
    for name, who, path, title, status in pages:
        async with staff_page(browser, site, who) as page:
            watch = await Watch.attach(page)
            reply = await page.goto(site.url + path)
            assert reply is not None and reply.status == status, (name, reply and reply.status)
            assert await heading(page) == title, name
            assert await watch.problems(status) == [], name
        async with staff_page(browser, site, who, bypass_csp=True) as page:
            await page.goto(site.url + path)
            if violations := await axe_violations(page):
                found.append(f"{name}:\n{describe_violations(violations)}")
    # Pages after a POST: the original shown, the reason refused, the evaluation form with errors, the case
    # page with an error.
    async with staff_page(browser, site, REVIEWER, bypass_csp=True) as page:
        for name, path, form, fill in (
            (
                "comment as written: refused",
                f"/staff/feedback/comments/{refs['answer']}/original",
                "form[method=post]",
                "",
            ),
            (
                "comment as written: shown",
                f"/staff/feedback/comments/{refs['answer']}/original",
                "form[method=post]",
                "Calling the resident back today",
            ),
            ("evaluation form: errors", f"/staff/quality/contacts/{refs['contact']}", "main form[method=post]", None),
        ):
            await page.goto(site.url + path)
            if fill is not None:
                await page.fill("#reason", fill)
            async with page.expect_navigation():
                await page.locator(f"{form} button[type=submit]").last.click()
            if violations := await axe_violations(page):
                found.append(f"{name}:\n{describe_violations(violations)}")
            if name == "comment as written: shown":
                assert COMPLAINT in await page.locator("#original").inner_text()
    assert found == [], "axe found WCAG problems:\n" + "\n".join(found)


async def test_the_quality_work_by_keyboard_alone(site: Site, browser: Browser) -> None:
    refs = await workspace(site)
    async with reviewer_page(browser, site) as page:
        watch = await Watch.attach(page)
        # The inbox: choose complaints, search for a word, Enter applies both.
        await page.goto(f"{site.url}/staff/feedback")
        await tab_to(page, "the kind of comment", lambda e: e["id"] == "class", limit=60)
        await page.keyboard.type("Complaint")  # a select takes the typed option
        search = await press(page, "Tab")
        assert search["id"] == "q", search
        await page.keyboard.type("bin")
        reply = await enter_and_wait(page)
        assert reply is not None and reply.status == 200
        assert "class=complaint" in page.url and "q=bin" in page.url
        assert await page.locator("table.govuk-table tbody tr").count() == 1
        assert await watch.problems() == []

        # Tag the contact's demand: open the details, pick failure demand, give a reason, save.
        summary = await tab_to(page, "the contact's demand form", lambda e: "contact's demand" in e["text"], limit=80)
        assert summary["tag"] == "summary"
        await page.keyboard.press("Enter")
        radio = await tab_to(page, "the first demand type", lambda e: e["type"] == "radio")
        assert radio["value"] == "value"
        await page.keyboard.press("ArrowDown")  # value -> excess
        await page.keyboard.press("ArrowDown")  # excess -> failure
        chosen = await focused(page)
        assert chosen["value"] == "failure" and chosen["checked"], chosen
        reason = await tab_to(page, "the reason", lambda e: e["id"].startswith("demand-reason-c"))
        assert reason["tag"] == "input"
        await page.keyboard.type("Chasing a collection that was missed")
        button = await press(page, "Tab")
        assert button["text"] == "Save demand type", button
        reply = await enter_and_wait(page)
        assert reply is not None and reply.status == 200 and "q=bin" in page.url  # back to the same results
        tags = await site.db.all(DemandTag)
        assert [(t.demand_type, t.reason) for t in tags] == [("failure", "Chasing a collection that was missed")]

        # Evaluate a contact: Tab into each criterion's radios and arrow to a mark; Enter on the button saves.
        await page.goto(f"{site.url}/staff/quality/contacts/{refs['contact']}")
        first = await tab_to(page, "the first criterion", lambda e: e["id"] == "greeting-0", limit=40)
        assert first["type"] == "radio"
        for _criterion in range(5):
            await page.keyboard.press("ArrowRight")
            await page.keyboard.press("ArrowRight")  # a mark of 2 (0 -> 1 -> 2)
            await page.keyboard.press("Tab")
        assert (await focused(page))["text"] == "Save the evaluation"
        reply = await enter_and_wait(page)
        assert reply is not None and reply.status == 200 and page.url == f"{site.url}/staff/quality"
        [evaluation] = await site.db.all(Evaluation)
        assert evaluation.score == 50.0 and set(evaluation.marks.values()) == {2}

        # A callback: choose what happened, Tab to the button, Enter records it.
        await page.goto(f"{site.url}/staff/callbacks")
        await tab_to(page, "the outcome", lambda e: e["id"].startswith("outcome-"), limit=40)
        await page.keyboard.type("Resolved")
        await press(page, "Tab")
        await page.keyboard.type("Spoke to them; apologised.")
        button = await press(page, "Tab")
        assert button["text"] == "Record the call", button
        reply = await enter_and_wait(page)
        assert reply is not None and reply.status == 200
        [callback] = await site.db.all(Callback)
        assert callback.outcome == "resolved" and callback.done_at is not None
        assert "No callbacks are due." in await page.content()
        assert await watch.problems() == []
    cases = await site.db.all(ComplaintCase)
    assert [case.reference for case in cases] == [refs["case"]]
