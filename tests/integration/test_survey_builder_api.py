"""Administrators design surveys through the API: create, edit a draft, publish, new drafts, channels."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from civicvoice.core.audit import AuditEvent
from surveys.catalogue import POST_CONTACT_SURVEY
from surveys.models import Survey, SurveyVersion
from tests.integration.support import TestDatabase

Client = AsyncTestClient[Litestar]
URL = "/api/v1/surveys"


@pytest.fixture
async def admin(db: TestDatabase) -> dict[str, str]:
    return {"Authorization": f"Bearer {await db.api_key(['surveys:admin'])}"}


def standard() -> dict[str, Any]:
    form: dict[str, Any] = msgspec.json.decode(msgspec.json.encode(POST_CONTACT_SURVEY))
    return form


def question(qid: str, kind: str = "single_choice", **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"id": qid, "kind": kind, "text": {"en": f"Question {qid}"}, **fields}
    if kind in ("single_choice", "multiple_choice") and "choices" not in fields:
        body["choices"] = [{"value": "a", "label": {"en": "A"}}, {"value": "b", "label": {"en": "B"}}]
    return body


async def create(client: Client, admin: dict[str, str], slug: str = "housing", **body: Any) -> Any:
    response = await client.post(URL, json={"slug": slug, "name": "Housing survey", **body}, headers=admin)
    assert response.status_code == 201, response.text
    return response.json()


async def test_create_edit_publish_and_new_drafts(client: Client, admin: dict[str, str], db: TestDatabase) -> None:
    created = await create(client, admin)
    assert created["kind"] == "post_contact" and created["channels"] == ["email", "web_link"]
    assert [(v["number"], v["status"]) for v in created["versions"]] == [(1, "draft")]
    assert created["live_version"] is None
    first = (await client.get(f"{URL}/housing/versions/1", headers=admin)).json()
    assert first["definition"] == {"title": {"en": "Housing survey"}, "questions": []}

    edited = await client.put(f"{URL}/housing/versions/1", json=standard(), headers=admin)
    assert edited.status_code == 200, edited.text
    assert edited.json()["definition"] == standard()

    published = await client.post(f"{URL}/housing/versions/1/publish", headers=admin)
    assert published.status_code == 200, published.text
    assert published.json()["status"] == "published" and published.json()["published_at"]

    # A published version never changes: the answer says how to change the survey instead.
    refused = await client.put(f"{URL}/housing/versions/1", json={**standard(), "title": {"en": "New"}}, headers=admin)
    assert refused.status_code == 409
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert "new draft" in refused.json()["detail"]
    again = await client.post(f"{URL}/housing/versions/1/publish", headers=admin)
    assert again.status_code == 409

    # A new draft is numbered after the latest version and starts as a copy of it.
    draft = await client.post(f"{URL}/housing/versions", headers=admin)
    assert draft.status_code == 201 and (draft.json()["number"], draft.json()["status"]) == (2, "draft")
    assert draft.json()["definition"] == standard()
    third = await client.post(f"{URL}/housing/versions", headers=admin)
    assert third.json()["number"] == 3

    listed = (await client.get(URL, headers=admin)).json()["surveys"]
    housing = next(s for s in listed if s["slug"] == "housing")
    assert [(v["number"], v["status"]) for v in housing["versions"]] == [(1, "published"), (2, "draft"), (3, "draft")]
    assert housing["live_version"] == 1
    assert {"post-contact", "housing"} <= {s["slug"] for s in listed}

    actions = sorted(e.action for e in await db.all(AuditEvent) if e.action.startswith("surveys."))
    assert actions == [
        "surveys.survey.create",
        "surveys.version.draft",
        "surveys.version.draft",
        "surveys.version.edit",
        "surveys.version.publish",
    ]


async def test_a_broken_version_is_refused_naming_every_problem(
    client: Client, admin: dict[str, str], db: TestDatabase
) -> None:
    await create(client, admin, channels=["email", "ivr"])
    broken = {
        "title": {"en": "Housing"},
        "questions": [
            question("why", "free_text"),  # no length limit
            question("what", show_if={"question": "nowhere", "at_most": 2}),
            question("one", choices=[{"value": "a", "label": {"en": "A"}}]),
            question("x1"),
            question("x2"),
            question("x3"),
            question("x4"),
        ],
    }
    assert (await client.put(f"{URL}/housing/versions/1", json=broken, headers=admin)).status_code == 200
    refused = await client.post(f"{URL}/housing/versions/1/publish", headers=admin)
    assert refused.status_code == 422
    problem = refused.json()
    assert problem["type"] == "/problems/invalid-survey-definition"
    errors = {(e["field"], e["message"]) for e in problem["errors"]}
    expected = {
        ("why", "Question 'why' is free text and needs a length limit."),
        ("what", "Question 'what' is shown depending on question 'nowhere', which the survey does not have."),
        ("one", "Question 'one' is a choice question with only one choice; give it at least two."),
        (None, "A post-contact survey needs exactly one CSAT (1-5) question; this one has 0."),
    }
    assert expected <= errors
    [ivr] = [message for field, message in errors if "IVR" in message]
    assert "at most 3 questions" in ivr and "6 it would ask" in ivr
    assert len(errors) == len(expected) + 1
    for _, message in errors:
        assert message in problem["detail"]
    # Nothing changed: still a draft.
    after = (await client.get(f"{URL}/housing/versions/1", headers=admin)).json()
    assert after["status"] == "draft" and after["published_at"] is None


async def test_channels_are_checked_against_the_version_being_sent(client: Client, admin: dict[str, str]) -> None:
    await create(client, admin, definition=standard())
    assert (await client.post(f"{URL}/housing/versions/1/publish", headers=admin)).status_code == 200

    kiosk = await client.put(f"{URL}/housing/channels", json={"channels": ["email", "kiosk"]}, headers=admin)
    assert kiosk.status_code == 422
    assert "one tap question" in kiosk.json()["detail"] and kiosk.json()["field"] == "channels"
    unknown = await client.put(f"{URL}/housing/channels", json={"channels": ["pigeon"]}, headers=admin)
    assert unknown.status_code == 422 and "'pigeon' is not a channel" in unknown.json()["detail"]

    fine = await client.put(f"{URL}/housing/channels", json={"channels": ["sms", "email", "ivr"]}, headers=admin)
    assert fine.status_code == 200 and fine.json()["channels"] == ["email", "sms", "ivr"]

    # A kiosk survey: one tap question and an optional comment.
    tap = {
        "title": {"en": "How did we do today?"},
        "kind": "campaign",
        "questions": [
            question("today", "rating", choices=[{"value": str(p), "label": {"en": str(p)}} for p in range(1, 6)]),
            question("comment", "free_text", max_length=500),
        ],
    }
    created = await create(client, admin, slug="kiosk", kind="campaign", channels=["kiosk"], definition=tap)
    assert created["kind"] == "campaign"
    assert (await client.post(f"{URL}/kiosk/versions/1/publish", headers=admin)).status_code == 200


async def test_a_campaign_has_a_period_a_target_and_progress(client: Client, admin: dict[str, str]) -> None:
    created = await create(client, admin, slug="key-accounts", kind="campaign")
    progress = {"responses": 0, "recipients": 0, "invited": 0, "responded": 0, "percent_of_target": None}
    assert created["campaign"] == {"starts_on": None, "ends_on": None, "target_responses": None, **progress}
    url = f"{URL}/key-accounts/campaign"
    period = {"starts_on": "2027-01-04", "ends_on": "2027-03-31", "target_responses": 40}
    done = await client.put(url, json=period, headers=admin)
    assert done.status_code == 200, done.text
    assert done.json()["campaign"] == {**period, **progress, "percent_of_target": 0}
    backwards = await client.put(url, json={**period, "ends_on": "2026-12-31"}, headers=admin)
    assert backwards.status_code == 422 and backwards.json()["field"] == "ends_on"
    assert (await client.put(url, json={**period, "target_responses": 0}, headers=admin)).status_code == 400
    listed = (await client.get(URL, headers=admin)).json()["surveys"]
    assert next(s for s in listed if s["slug"] == "key-accounts")["campaign"]["target_responses"] == 40
    assert next(s for s in listed if s["slug"] == "post-contact")["campaign"] is None
    post_contact = await client.put(f"{URL}/post-contact/campaign", json=period, headers=admin)
    assert post_contact.status_code == 422 and "Only a campaign" in post_contact.json()["detail"]


async def test_bad_requests_change_nothing(client: Client, admin: dict[str, str], db: TestDatabase) -> None:
    await create(client, admin)
    before = await db.count(Survey)
    duplicate = await client.post(URL, json={"slug": "housing", "name": "Again"}, headers=admin)
    assert duplicate.status_code == 409 and duplicate.json()["field"] == "slug"
    malformed = await client.put(f"{URL}/housing/versions/1", json={"title": {"en": "x"}}, headers=admin)
    assert malformed.status_code == 400 and "questions" in malformed.json()["detail"]
    unknown_kind = await client.put(f"{URL}/housing/versions/1", json={**standard(), "kind": "campaign"}, headers=admin)
    assert unknown_kind.status_code == 422 and "post-contact survey" in unknown_kind.json()["detail"]
    bad_slug = await client.post(URL, json={"slug": "Not A Slug", "name": "x"}, headers=admin)
    assert bad_slug.status_code == 400
    assert (await client.get(f"{URL}/nowhere", headers=admin)).status_code == 404
    assert (await client.get(f"{URL}/housing/versions/9", headers=admin)).status_code == 404
    assert (await client.post(f"{URL}/housing/versions/9/publish", headers=admin)).status_code == 404
    assert await db.count(Survey) == before
    first = (await client.get(f"{URL}/housing/versions/1", headers=admin)).json()
    assert first["definition"] == {"title": {"en": "Housing survey"}, "questions": []}


async def test_only_a_key_with_the_scope_may_design_surveys(
    client: Client, admin: dict[str, str], auth: dict[str, str], db: TestDatabase
) -> None:
    for method, path in [("GET", URL), ("POST", URL), ("POST", f"{URL}/post-contact/versions")]:
        body = {"slug": "nope", "name": "Nope"} if method == "POST" else None
        assert (await client.request(method, path, json=body)).status_code == 401
        assert (await client.request(method, path, json=body, headers=auth)).status_code == 403
    assert await db.count(SurveyVersion) == 1  # the standard survey's only version
