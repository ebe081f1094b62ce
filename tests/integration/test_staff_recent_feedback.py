"""The recent-feedback page: what each role sees, comments redacted, filters and pagination."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import delete, select

from civicvoice.core.db import unit_of_work
from feedback.models import CommentScore
from surveys.models import Answer, Response
from tests.integration.smtp import SmtpServer
from tests.integration.support import TestDatabase
from tests.integration.test_staff_login import make_user, sign_in
from tests.integration.test_survey_loop import (
    contact,
    links,
    worker_for,
)

Client = AsyncTestClient[Litestar]

IDENTIFYING = "Call me on 07700 900123 or write to jo.bloggs@example.org, SW1A 1AA. NI AB 12 34 56 C."


async def give_feedback(
    client: Client,
    app: Litestar,
    auth: dict[str, str],
    db: TestDatabase,
    smtp: SmtpServer,
    n: int,
    *,
    service: str,
    agent: str,
    improve: str,
    satisfaction: int = 2,
) -> None:
    event = contact(f"c{n}", email=f"resident{n}@example.org")
    event.update(service=service, agent_id=agent)
    answer = await client.post("/api/v1/contacts", json=event, headers=auth)
    assert answer.status_code == 202 and answer.json()["decision"]["invite"], answer.text
    await worker_for(app, db).run_due()
    survey_path, _ = links(smtp.messages[-1])
    done = await client.post(
        survey_path,
        data={"satisfaction": str(satisfaction), "resolved": "no", "improve": improve},
        follow_redirects=False,
    )
    assert done.status_code == 303
    client.cookies.clear()


@pytest.fixture
async def feedback(
    loop_client: Client, loop_app: Litestar, auth: dict[str, str], db: TestDatabase, smtp: SmtpServer
) -> Client:
    await give_feedback(
        loop_client,
        loop_app,
        auth,
        db,
        smtp,
        1,
        service="waste-and-recycling",
        agent="A1",
        improve="The bin was missed again and nobody called back. " + IDENTIFYING,
    )
    await give_feedback(
        loop_client,
        loop_app,
        auth,
        db,
        smtp,
        2,
        service="council-tax",
        agent="A2",
        improve="Great help, thank you so much",
        satisfaction=5,
    )
    await give_feedback(
        loop_client,
        loop_app,
        auth,
        db,
        smtp,
        3,
        service="waste-and-recycling",
        agent="A2",
        improve="Terrible, slow and rude",
    )
    await worker_for(loop_app, db).run_due()  # sentiment scoring
    await known_sentiment(db)
    return loop_client


async def known_sentiment(db: TestDatabase) -> None:
    """Scores the page can show whatever the scorer of the day says: this page shows labels, it does not make them."""
    async with unit_of_work(db.sessions) as session:
        await session.execute(delete(CommentScore))
        for answer, response in (
            await session.execute(
                select(Answer, Response)
                .join(Response, Response.id == Answer.response_id)
                .where(Answer.text_ciphertext.is_not(None))
            )
        ).all():
            session.add(
                CommentScore(
                    answer_id=answer.id,
                    response_id=response.id,
                    question_key=answer.question_key,
                    polarity=0.5 if response.satisfaction == 5 else -0.5,
                    label="positive" if response.satisfaction == 5 else "negative",
                    scorer_version="test",
                )
            )


def rows(html: str) -> int:
    return html.count('<tr class="govuk-table__row">') - 1 if "<tbody" in html else 0


async def page_as(client: Client, db: TestDatabase, role: str, query: str = "", **user: Any) -> Any:
    await make_user(db, role, email=f"{role}.{len(query)}.{id(user)}@council.gov.uk", **user)
    client.cookies.clear()
    await sign_in(client, f"{role}.{len(query)}.{id(user)}@council.gov.uk")
    return await client.get(f"/staff/feedback{query}")


async def test_quality_team_sees_everything_with_comments_redacted(feedback: Client, db: TestDatabase) -> None:
    page = await page_as(feedback, db, "quality_reviewer")
    assert page.status_code == 200 and rows(page.text) == 3
    assert "3 responses" in page.text
    for secret in ("07700 900123", "jo.bloggs@example.org", "SW1A 1AA", "AB 12 34 56 C"):
        assert secret not in page.text
    for label in ("[phone removed]", "[email removed]", "[postcode removed]", "[NI number removed]"):
        assert label in page.text
    assert "The bin was missed again" in page.text
    assert "Negative" in page.text and "Positive" in page.text  # sentiment of the scored comments
    assert "Waste and recycling" in page.text or "waste" in page.text.lower()
    assert page.headers["cache-control"] == "no-store"


@pytest.mark.parametrize("role", ["admin", "dpo"])
async def test_admin_and_dpo_see_every_service(feedback: Client, db: TestDatabase, role: str) -> None:
    assert rows((await page_as(feedback, db, role)).text) == 3


async def test_service_manager_sees_only_their_services(feedback: Client, db: TestDatabase) -> None:
    page = await page_as(feedback, db, "service_manager", service_scope=["council-tax"])
    assert rows(page.text) == 1 and "Great help" in page.text and "bin was missed" not in page.text
    # Asking for another service through the filter shows nothing rather than leaking it.
    other = await feedback.get("/staff/feedback?service=waste-and-recycling")
    assert rows(other.text) == 0 and "No responses match" in other.text
    nothing = await page_as(feedback, db, "service_manager", query="?")
    assert rows(nothing.text) == 0  # no services in scope: nothing at all


async def test_agent_sees_only_their_own_contacts(feedback: Client, db: TestDatabase) -> None:
    page = await page_as(feedback, db, "agent", agent_ref="A1")
    assert rows(page.text) == 1 and "bin was missed" in page.text and "rude" not in page.text


async def test_filters_and_pagination(feedback: Client, db: TestDatabase, monkeypatch: pytest.MonkeyPatch) -> None:
    await page_as(feedback, db, "quality_reviewer")
    assert rows((await feedback.get("/staff/feedback?service=council-tax")).text) == 1
    assert rows((await feedback.get("/staff/feedback?channel=email")).text) == 3
    assert rows((await feedback.get("/staff/feedback?channel=sms")).text) == 0
    today = date.today()
    assert (
        rows(
            (
                await feedback.get(f"/staff/feedback?from={today - timedelta(days=1)}&to={today + timedelta(days=1)}")
            ).text
        )
        == 3
    )
    assert rows((await feedback.get(f"/staff/feedback?to={today - timedelta(days=2)}")).text) == 0
    assert (await feedback.get("/staff/feedback?from=not-a-date")).status_code == 400
    assert (await feedback.get("/staff/feedback?page=0")).status_code == 400

    monkeypatch.setattr("feedback.inbox.PAGE_SIZE", 2)
    first = await feedback.get("/staff/feedback?service=waste-and-recycling&page=1")
    assert rows(first.text) == 2 and "govuk-pagination" not in first.text
    first = await feedback.get("/staff/feedback")
    assert rows(first.text) == 2 and "Page 1 of 2" in first.text and 'rel="next"' in first.text
    second = await feedback.get("/staff/feedback?page=2")
    assert rows(second.text) == 1 and "Page 2 of 2" in second.text and 'rel="prev"' in second.text
    # Newest first: the first response given is on the last page.
    assert "bin was missed" in second.text


async def test_search_and_the_kind_of_comment(feedback: Client, db: TestDatabase) -> None:
    await page_as(feedback, db, "quality_reviewer")
    found = await feedback.get("/staff/feedback?q=BIN+missed")
    assert rows(found.text) == 1 and "bin was missed" in found.text
    assert "1 of the newest 3 responses match the search" in found.text
    # Words are searched in the redacted text: what was removed cannot be found.
    assert rows((await feedback.get("/staff/feedback?q=07700")).text) == 0
    assert rows((await feedback.get("/staff/feedback?q=rude&service=council-tax")).text) == 0
    complaints = await feedback.get("/staff/feedback?class=complaint")
    compliments = await feedback.get("/staff/feedback?class=compliment")
    assert "Great help" in compliments.text and "Great help" not in complaints.text
    assert rows(complaints.text) + rows(compliments.text) <= 3
    assert (await feedback.get("/staff/feedback?class=rant")).status_code == 422
    # The search and the kind are kept in the page links.
    page = await feedback.get("/staff/feedback?class=complaint&q=the")
    assert 'value="the"' in page.text and '<option value="complaint" selected>' in page.text


async def test_the_filter_form_as_a_browser_sends_it(feedback: Client, db: TestDatabase) -> None:
    # Every field is sent, the empty ones empty: that is no filter, not an error.
    await page_as(feedback, db, "quality_reviewer")
    page = await feedback.get("/staff/feedback?service=&channel=&from=&to=&class=&q=")
    assert page.status_code == 200 and rows(page.text) == 3
    bad = await feedback.get("/staff/feedback?from=2026-13-01", headers={"accept": "application/json"})
    assert bad.status_code == 400 and bad.json()["field"] == "from"
