"""Demand types: a reviewer tags a contact or a complaint in one action from the inbox, a contact system tags its
own contacts through the API, and the tags are counted per month, service and channel for the scorecard."""

from __future__ import annotations

from datetime import timedelta

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from civicvoice.core.audit import AuditEvent
from civicvoice.core.clock import utcnow
from civicvoice.core.db import unit_of_work
from feedback.demand import DemandTag, demand_counts
from feedback.models import CommentClassification
from feedback.scorecard.formulas import ServiceLevelThresholds, london_month
from feedback.scorecard.service import Scorecard
from feedback.scorecard.upkeep import rebuild_month, upkeep_step
from surveys.models import Contact, Response
from tests.integration.smtp import SmtpServer
from tests.integration.support import TestDatabase
from tests.integration.test_staff_login import make_user, sign_in
from tests.integration.test_staff_recent_feedback import give_feedback
from tests.integration.test_survey_loop import contact, worker_for

Client = AsyncTestClient[Litestar]
COMPLAINT = "Third time I have rung about the missed bin. Nobody called back, disgraceful. Ring 07700 900123."


async def a_complaint(client: Client, app: Litestar, auth: dict[str, str], db: TestDatabase, smtp: SmtpServer) -> None:
    await give_feedback(client, app, auth, db, smtp, 1, service="waste-and-recycling", agent="A1", improve=COMPLAINT)
    await worker_for(app, db).run_due()


async def test_a_reviewer_tags_a_contact_and_a_complaint_in_one_action_each(
    loop_client: Client, loop_app: Litestar, auth: dict[str, str], db: TestDatabase, smtp: SmtpServer
) -> None:
    await a_complaint(loop_client, loop_app, auth, db, smtp)
    await make_user(db, "quality_reviewer")
    csrf = await sign_in(loop_client, "quality_reviewer@council.gov.uk")
    inbox = await loop_client.get("/staff/feedback")
    assert "Tag the contact&#39;s demand type" in inbox.text or "Tag the contact's demand type" in inbox.text
    response = (await db.all(Response))[0]
    classified = (await db.all(CommentClassification))[0]
    assert classified.final_class == "complaint"

    # Non-value demand without a reason is refused, and nothing is stored.
    refused = await loop_client.post(
        f"/staff/feedback/responses/{response.id}/demand",
        data={"csrf_token": csrf, "demand_type": "failure", "reason": "  "},
        follow_redirects=False,
    )
    assert refused.status_code == 422 and await db.all(DemandTag) == []
    unknown = await loop_client.post(
        f"/staff/feedback/responses/{response.id}/demand",
        data={"csrf_token": csrf, "demand_type": "grumble", "reason": "x"},
        follow_redirects=False,
    )
    assert unknown.status_code == 422 and await db.all(DemandTag) == []

    saved = await loop_client.post(
        f"/staff/feedback/responses/{response.id}/demand",
        data={
            "csrf_token": csrf,
            "demand_type": "failure",
            "reason": "Chasing a missed collection; she gave jo@example.org",
            "back": "/staff/feedback?page=1",
        },
        follow_redirects=False,
    )
    assert saved.status_code == 303 and saved.headers["location"] == "/staff/feedback?page=1"
    complaint = await loop_client.post(
        f"/staff/feedback/comments/{classified.answer_id}/demand",
        data={"csrf_token": csrf, "demand_type": "preventable", "reason": "Collection day not on the website"},
        follow_redirects=False,
    )
    assert complaint.status_code == 303
    tags = {("contact" if t.contact_id else "answer"): t for t in await db.all(DemandTag)}
    assert tags["contact"].contact_id == response.contact_id and tags["contact"].demand_type == "failure"
    # The reason is redacted before it is stored.
    assert tags["contact"].reason is not None and "jo@example.org" not in tags["contact"].reason
    assert tags["answer"].answer_id == classified.answer_id and tags["answer"].demand_type == "preventable"
    assert tags["contact"].channel == "phone" and tags["answer"].channel == response.channel
    page = await loop_client.get("/staff/feedback")
    assert "Failure demand" in page.text and "Preventable demand" in page.text

    # Tagging again replaces the tag; both are audited.
    again = await loop_client.post(
        f"/staff/feedback/responses/{response.id}/demand",
        data={"csrf_token": csrf, "demand_type": "value", "reason": ""},
        follow_redirects=False,
    )
    assert again.status_code == 303
    async with db.sessions() as session:
        events = (await session.scalars(select(AuditEvent).where(AuditEvent.action == "feedback.demand_tagged"))).all()
        counts = await demand_counts(session)
    assert sorted((e.detail or {}).get("replaced") or "" for e in events) == ["", "", "failure"]
    month = london_month(utcnow())
    # The contact's channel (phone) and the complaint's (the survey's: email), each in this month.
    assert response.channel == "email"
    assert {(c.month, c.channel, tuple(c.counts.as_dict().items())) for c in counts} == {
        (month, "phone", (("value", 1),)),
        (month, "email", (("preventable", 1),)),
    }


async def test_only_reviewers_tag_and_only_complaints_are_tagged_on_their_own(
    loop_client: Client, loop_app: Litestar, auth: dict[str, str], db: TestDatabase, smtp: SmtpServer
) -> None:
    await give_feedback(
        loop_client,
        loop_app,
        auth,
        db,
        smtp,
        1,
        service="waste-and-recycling",
        agent="A1",
        improve="Lovely staff, thank you so much, brilliant.",
        satisfaction=5,
    )
    await worker_for(loop_app, db).run_due()
    classified = (await db.all(CommentClassification))[0]
    assert classified.final_class != "complaint"
    response = (await db.all(Response))[0]
    await make_user(db, "agent", agent_ref="A1")
    csrf = await sign_in(loop_client, "agent@council.gov.uk")
    denied = await loop_client.post(
        f"/staff/feedback/responses/{response.id}/demand",
        data={"csrf_token": csrf, "demand_type": "value"},
        follow_redirects=False,
    )
    assert denied.status_code == 403
    loop_client.cookies.clear()
    await make_user(db, "quality_reviewer")
    csrf = await sign_in(loop_client, "quality_reviewer@council.gov.uk")
    not_complaint = await loop_client.post(
        f"/staff/feedback/comments/{classified.answer_id}/demand",
        data={"csrf_token": csrf, "demand_type": "value"},
        follow_redirects=False,
    )
    assert not_complaint.status_code == 422 and await db.all(DemandTag) == []


async def test_a_contact_system_tags_its_own_contacts_through_the_api(
    client: Client, db: TestDatabase, auth: dict[str, str]
) -> None:
    event = contact("call-77")
    assert (await client.post("/api/v1/contacts", json=event, headers=auth)).status_code == 202
    tagged = await client.put(
        "/api/v1/contacts/demand",
        json={"source": "crm", "external_id": "call-77", "type": "excess", "reason": "Rang twice the same day"},
        headers=auth,
    )
    assert tagged.status_code == 200, tagged.text
    body = tagged.json()
    assert (
        body["type"] == "excess" and body["replaced"] is False and body["month"] == london_month(utcnow()).isoformat()
    )
    stored = await db.all(DemandTag)
    contacts = await db.all(Contact)
    assert len(stored) == 1 and stored[0].contact_id == contacts[0].id and stored[0].tagged_by_kind == "api_key"
    again = await client.put(
        "/api/v1/contacts/demand", json={"source": "crm", "external_id": "call-77", "type": "value"}, headers=auth
    )
    assert again.status_code == 200 and again.json()["replaced"] is True

    def problem(reply: object) -> dict[str, object]:
        assert reply.headers["content-type"].startswith("application/problem+json")  # type: ignore[attr-defined]
        return reply.json()  # type: ignore[attr-defined, no-any-return]

    bad_cases = [
        ({"source": "crm", "external_id": "call-77", "type": "failure"}, 422, "reason"),
        ({"source": "crm", "external_id": "call-77", "type": "grumble"}, 400, "type"),
        ({"source": "crm", "external_id": "call-77", "type": "value", "extra": 1}, 400, None),
        ({"source": "crm", "external_id": "call-77", "type": "failure", "reason": "x" * 301}, 400, "reason"),
        ({"source": "crm", "external_id": "never-reported", "type": "value"}, 404, "external_id"),
        ({"source": "other-system", "external_id": "call-77", "type": "value"}, 403, "source"),
    ]
    for body_sent, status, field in bad_cases:
        reply = await client.put("/api/v1/contacts/demand", json=body_sent, headers=auth)
        assert reply.status_code == status, (body_sent, reply.text)
        found = problem(reply)
        if field is not None:
            assert found.get("field") == field, (body_sent, found)
    # Nothing changed by any of them.
    stored = await db.all(DemandTag)
    assert len(stored) == 1 and stored[0].demand_type == "value"
    # Another system's key cannot tag (or learn of) this contact.
    other = {"Authorization": f"Bearer {await db.api_key(['contacts:write'], sources=('telephony',))}"}
    foreign = await client.put(
        "/api/v1/contacts/demand",
        json={"source": "crm", "external_id": "call-77", "type": "failure", "reason": "x"},
        headers=other,
    )
    assert foreign.status_code == 403 and problem(foreign)["type"] == "/problems/source-not-allowed"
    no_key = await client.put(
        "/api/v1/contacts/demand", json={"source": "crm", "external_id": "call-77", "type": "value"}
    )
    assert no_key.status_code == 401


async def test_the_demand_endpoint_is_in_the_openapi_schema(client: Client) -> None:
    schema = (await client.get("/schema/openapi.json")).json()
    operation = schema["paths"]["/api/v1/contacts/demand"]["put"]
    assert {"200", "400", "401", "403", "404", "422"} <= set(operation["responses"])
    assert operation["security"] == [{"apiKey": []}]
    body = schema["components"]["schemas"]["DemandIn"]
    assert body["additionalProperties"] is False
    assert sorted(body["properties"]["type"]["enum"]) == ["co_dependent", "excess", "failure", "preventable", "value"]


async def test_tags_reach_the_scorecard_through_upkeep_and_a_rebuild(
    client: Client, db: TestDatabase, auth: dict[str, str]
) -> None:
    for ref, kind in (("call-81", "value"), ("call-82", "excess"), ("call-83", "value"), ("call-84", "failure")):
        assert (await client.post("/api/v1/contacts", json=contact(ref), headers=auth)).status_code == 202
        body = {"source": "crm", "external_id": ref, "type": kind}
        if kind != "value":
            body["reason"] = "Chasing an earlier request"
        assert (await client.put("/api/v1/contacts/demand", json=body, headers=auth)).status_code == 200
    month = london_month(utcnow())
    card = Scorecard()
    thresholds = ServiceLevelThresholds()
    # Upkeep picks the tags up from the marks they left (no lag, so the contacts just stored are read too).
    async with unit_of_work(db.sessions) as session:
        await upkeep_step(session, thresholds=thresholds, lag=timedelta(0))
    async with db.sessions() as session:
        kept = await card.report(session, month, await card.scope(session))
    assert kept.figure("value-demand").value == 0.5
    assert kept.figure("excess-demand").value == 0.25 and kept.figure("failure-demand").value == 0.25
    # A rebuild from raw rows agrees.
    async with unit_of_work(db.sessions) as session:
        await rebuild_month(session, month, thresholds=thresholds)
    async with db.sessions() as session:
        rebuilt = await card.report(session, month, await card.scope(session))
    for slug in ("value-demand", "excess-demand", "failure-demand", "preventable-demand"):
        assert rebuilt.figure(slug).value == kept.figure(slug).value, slug
