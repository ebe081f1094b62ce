"""The staff survey builder without JavaScript: plain forms, post-redirect-get, GOV.UK errors, admins only."""

from __future__ import annotations

import re
import secrets
from datetime import timedelta
from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient

from civicvoice.core.clock import utcnow
from civicvoice.core.crypto import digest_secret
from civicvoice.core.db import unit_of_work
from civicvoice.staff.models import StaffSession
from civicvoice.staff.web import SESSION_COOKIE, csrf_token_for
from surveys.definitions import stored_definition
from surveys.models import Survey, SurveyVersion
from tests.integration.support import TestDatabase
from tests.integration.test_staff_login import make_user

Client = AsyncTestClient[Litestar]
BASE = "/staff/surveys/repairs/versions/1"


async def sign_in(client: Client, db: TestDatabase, role: str = "admin") -> str:
    user = await make_user(db, role)
    token = secrets.token_urlsafe(32)
    async with unit_of_work(db.sessions) as session:
        now = utcnow()
        session.add(
            StaffSession(
                user_id=user.id,
                token_digest=digest_secret(token),
                created_at=now,
                last_seen_at=now,
                expires_at=now + timedelta(hours=1),
            )
        )
    client.cookies.set(SESSION_COOKIE, token, domain="testserver.local")
    return csrf_token_for(token)


async def post(client: Client, csrf: str, path: str, **form: Any) -> Any:
    return await client.post(path, data={"csrf_token": csrf, **form}, follow_redirects=False)


async def definition(db: TestDatabase, number: int = 1) -> Any:
    [survey] = [s for s in await db.all(Survey) if s.slug == "repairs"]
    [version] = [v for v in await db.all(SurveyVersion) if v.survey_id == survey.id and v.number == number]
    return stored_definition(version.definition)


def summary_links(html: str) -> list[tuple[str, str]]:
    summary = html.split('govuk-error-summary__list"', 1)[1].split("</ul>", 1)[0]
    return re.findall(r'<a href="#([^"]+)">([^<]+)</a>', summary)


CSAT = {"id": "satisfaction", "kind": "csat", "text_en": "How satisfied were you?", "required": "yes"}


async def test_an_admin_builds_and_publishes_a_survey(client: Client, db: TestDatabase) -> None:
    csrf = await sign_in(client, db)
    listing = await client.get("/staff/surveys")
    assert listing.status_code == 200 and "Post-contact satisfaction" in listing.text

    bad = await post(client, csrf, "/staff/surveys", name="Repairs", slug="Not a slug", kind="post_contact")
    assert bad.status_code == 422 and summary_links(bad.text)[0][0] == "slug"
    created = await post(client, csrf, "/staff/surveys", name="Repairs", slug="repairs", kind="post_contact")
    assert created.status_code == 303 and created.headers["location"] == BASE

    # A question form with problems: every one in the summary, linked to its field, what was typed kept.
    wrong = await post(
        client, csrf, f"{BASE}/questions/new", id="Bad Id", kind="", text_en="", max_length="", show_if_at_most="x"
    )
    assert wrong.status_code == 422
    assert [field for field, _ in summary_links(wrong.text)] == ["id", "kind", "text_en", "show_if_at_most"]
    assert 'value="Bad Id"' in wrong.text

    assert (await post(client, csrf, f"{BASE}/questions/new", **CSAT)).status_code == 303
    added = await post(
        client,
        csrf,
        f"{BASE}/questions/new",
        id="topics",
        kind="multiple_choice",
        text_en="What was it about?",
        text_cy="Am beth oedd e?",
        choices="heating | Heating | Gwresogi\nwater | Water\nOther things",
    )
    assert added.status_code == 303 and added.headers["location"] == f"{BASE}#question-topics"
    follow_up = {
        "id": "why",
        "kind": "free_text",
        "text_en": "What went wrong?",
        "max_length": "500",
        "show_if": "satisfaction",
        "show_if_at_most": "2",
    }
    assert (await post(client, csrf, f"{BASE}/questions/new", **follow_up)).status_code == 303
    draft = await definition(db)
    assert [q.id for q in draft.questions] == ["satisfaction", "topics", "why"]
    assert [c.value for c in draft.question("topics").choices] == ["heating", "water", "other-things"]
    assert draft.question("topics").choices[0].label == {"en": "Heating", "cy": "Gwresogi"}
    assert draft.question("why").show_if.at_most == 2
    assert len(draft.csat_question.choices) == 5  # the standard labels

    # Reorder, edit and remove, each a plain POST that redirects back.
    assert (await post(client, csrf, f"{BASE}/questions/why/up")).status_code == 303
    assert [q.id for q in (await definition(db)).questions] == ["satisfaction", "why", "topics"]
    assert (await post(client, csrf, f"{BASE}/questions/why/down")).status_code == 303
    edit_page = await client.get(f"{BASE}/questions/topics")
    assert edit_page.status_code == 200 and "heating | Heating | Gwresogi" in edit_page.text
    edited = await post(
        client,
        csrf,
        f"{BASE}/questions/topics",
        kind="single_choice",
        text_en="What was it mainly about?",
        choices="heating | Heating\nwater | Water",
        required="yes",
    )
    assert edited.status_code == 303
    topics = (await definition(db)).question("topics")
    assert (topics.kind, topics.required, topics.text) == ("single_choice", True, {"en": "What was it mainly about?"})
    assert (await post(client, csrf, f"{BASE}/questions/topics/remove")).status_code == 303
    assert [q.id for q in (await definition(db)).questions] == ["satisfaction", "why"]

    # Publishing a broken draft: every problem in the summary, each linking to where it is.
    assert (await post(client, csrf, BASE, title_en="Repairs", welsh="yes")).status_code == 303
    refused = await post(client, csrf, f"{BASE}/publish")
    assert refused.status_code == 422
    links = summary_links(refused.text)
    assert (
        "title_en",
        "The survey title has no &#39;cy&#39; text, and the survey is offered in &#39;cy&#39;.",
    ) in links
    assert {field for field, _ in links} == {"title_en", "question-satisfaction", "question-why"}
    for field, _ in links:
        assert f'id="{field}"' in refused.text
    assert (await definition(db)).languages == ("en", "cy")

    assert (await post(client, csrf, BASE, title_en="Repairs")).status_code == 303  # English only again
    preview = await client.get(f"{BASE}/preview")
    assert preview.status_code == 200 and "How satisfied were you?" in preview.text
    assert "Send feedback" not in preview.text
    published = await post(client, csrf, f"{BASE}/publish")
    assert published.status_code == 303
    page = await client.get(BASE)
    assert "Published" in page.text and "Publish this version" not in page.text

    # A published version is never changed; a new draft is made instead.
    again = await client.post(
        f"{BASE}/questions/why/remove",
        data={"csrf_token": csrf},
        headers={"accept": "text/html"},
        follow_redirects=False,
    )
    assert again.status_code == 409 and "make a new draft" in again.text
    draft = await post(client, csrf, "/staff/surveys/repairs/versions")
    assert draft.status_code == 303 and draft.headers["location"] == "/staff/surveys/repairs/versions/2"
    assert [q.id for q in (await definition(db, 2)).questions] == ["satisfaction", "why"]


async def test_channels_that_do_not_fit_are_refused_on_the_page(client: Client, db: TestDatabase) -> None:
    csrf = await sign_in(client, db)
    path = "/staff/surveys/post-contact/channels"
    refused = await client.post(path, data={"csrf_token": csrf, "channels": ["email", "kiosk"]})
    assert refused.status_code == 422
    assert summary_links(refused.text)[0][0] == "channels" and "one tap question" in refused.text
    done = await client.post(path, data={"csrf_token": csrf, "channels": ["email", "sms"]}, follow_redirects=False)
    assert done.status_code == 303
    [survey] = [s for s in await db.all(Survey) if s.slug == "post-contact"]
    assert survey.channels == ["email", "sms"]


async def test_a_campaign_period_and_target_on_the_page(client: Client, db: TestDatabase) -> None:
    csrf = await sign_in(client, db)
    created = await post(client, csrf, "/staff/surveys", name="Key accounts", slug="key-accounts", kind="campaign")
    assert created.status_code == 303
    path = "/staff/surveys/key-accounts/campaign"
    wrong = await post(client, csrf, path, starts_on="31/01/2027", ends_on="", target_responses="many")
    assert wrong.status_code == 422
    assert [field for field, _ in summary_links(wrong.text)] == ["starts_on", "target_responses"]
    assert 'value="31/01/2027"' in wrong.text
    done = await post(client, csrf, path, starts_on="2027-01-04", ends_on="2027-03-31", target_responses="40")
    assert done.status_code == 303
    page = await client.get("/staff/surveys/key-accounts")
    assert "0 responses of the 40 aimed for" in page.text and 'value="2027-03-31"' in page.text
    [survey] = [s for s in await db.all(Survey) if s.slug == "key-accounts"]
    assert (str(survey.campaign_starts_on), survey.target_responses) == ("2027-01-04", 40)


async def test_only_admins_use_the_builder(client: Client, db: TestDatabase) -> None:
    csrf = await sign_in(client, db, "quality_reviewer")
    assert (await client.get("/staff/surveys", headers={"accept": "application/json"})).status_code == 403
    refused = await post(client, csrf, "/staff/surveys", name="X", slug="x", kind="campaign")
    assert refused.status_code == 403 and await db.count(Survey) == 1
