"""Contact systems report contacts; each gets a stored invitation decision with its reason."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import text, update

from civicvoice.core.audit import AuditEvent
from civicvoice.core.jobs import Job
from privacy.models import DataSubject, SubjectConflict, SubjectIndex
from surveys.models import Contact, Invitation, InvitationDecision, Survey
from surveys.rules import InvitationPolicy
from tests.integration.support import TestDatabase

Client = AsyncTestClient[Litestar]
URL = "/api/v1/contacts"


def event(external_id: str = "call-1", **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "source": "telephony",
        "external_id": external_id,
        "channel": "phone",
        "service": "council-tax",
        "occurred_at": (datetime.now(UTC) - timedelta(minutes=5)).isoformat(),
        "wait_seconds": 95,
        "handling_seconds": 300,
        "transferred": False,
        "resolved_first_contact": True,
        "customer": {"email": "Jo.Bloggs@Example.com", "name": "Jo Bloggs", "phone": "07912 345678"},
    }
    body.update(overrides)
    return body


async def post(client: Client, auth: dict[str, str], body: Any) -> Any:
    return await client.post(URL, json=body, headers=auth)


async def test_contact_is_accepted_with_an_invitation_decision(
    client: Client, auth: dict[str, str], db: TestDatabase
) -> None:
    response = await post(client, auth, event())
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["duplicate"] is False
    assert body["decision"]["invite"] is True
    assert body["decision"]["reason"] == "invited"
    assert body["decision"]["channel"] == "email"
    assert body["invitation_id"]

    [invitation] = await db.all(Invitation)
    assert invitation.state == "queued"
    assert str(invitation.id) == body["invitation_id"]
    [decision] = await db.all(InvitationDecision)
    assert decision.reason == "invited" and decision.rules_version
    # The send is in the outbox, committed with the invitation, carrying ids only.
    [job] = await db.all(Job)
    assert job.name == "invitations.send"
    assert job.payload == {"invitation_id": str(invitation.id)}


async def test_no_identifier_is_stored_in_clear(client: Client, auth: dict[str, str], db: TestDatabase) -> None:
    assert (
        await post(
            client,
            auth,
            event(
                customer={
                    "email": "Jo.Bloggs@Example.com",
                    "name": "Jo Bloggs",
                    "phone": "07912 345678",
                    "source_id": "CRM-998877",
                }
            ),
        )
    ).status_code == 202
    needles = [b"bloggs", b"Bloggs", b"7912", b"345678", b"CRM-998877", b"998877"]
    async with db.sessions() as session:
        for table in (
            "data_subject",
            "subject_index",
            "contact",
            "invitation",
            "invitation_decision",
            "job",
            "audit_event",
            "data_key",
        ):
            rows = (await session.execute(text(f"SELECT * FROM {table}"))).all()  # noqa: S608 - fixed names
            dump = repr(rows).encode()
            for needle in needles:
                assert needle not in dump, f"{needle!r} stored in clear in {table}"
    [subject] = await db.all(DataSubject)
    assert subject.identity_ciphertext


async def test_same_external_id_twice_is_one_contact(client: Client, auth: dict[str, str], db: TestDatabase) -> None:
    first = (await post(client, auth, event("call-7"))).json()
    second = await post(client, auth, event("call-7"))
    assert second.status_code == 202
    assert second.json()["duplicate"] is True
    assert second.json()["contact_id"] == first["contact_id"]
    assert second.json()["decision"] == first["decision"]
    assert await db.count(Contact) == 1
    assert await db.count(Invitation) == 1


async def test_same_external_id_from_another_source_is_another_contact(
    client: Client, auth: dict[str, str], db: TestDatabase
) -> None:
    await post(client, auth, event("42"))
    await post(client, auth, event("42", source="webchat"))
    assert await db.count(Contact) == 2


async def test_person_found_again_by_email_then_phone(client: Client, auth: dict[str, str], db: TestDatabase) -> None:
    await post(client, auth, event("a", customer={"email": "pat@example.org"}))
    await post(client, auth, event("b", customer={"email": "PAT@Example.org", "phone": "020 7946 0958"}))
    await post(client, auth, event("c", customer={"phone": "+44 20 7946 0958"}))
    assert await db.count(DataSubject) == 1
    contacts = await db.all(Contact)
    assert len({c.subject_id for c in contacts}) == 1


async def test_source_id_wins_and_conflicts_are_recorded_not_merged(
    client: Client, auth: dict[str, str], db: TestDatabase
) -> None:
    await post(client, auth, event("a", customer={"email": "one@example.org"}))
    await post(client, auth, event("b", customer={"phone": "0121 496 0000"}))
    # The email belongs to the first person, the phone to the second: use the email's, record the conflict.
    await post(client, auth, event("c", customer={"email": "one@example.org", "phone": "0121 496 0000"}))
    assert await db.count(DataSubject) == 2
    [conflict] = await db.all(SubjectConflict)
    assert conflict.matched_on == "email" and conflict.conflicting_field == "phone"
    contacts = {c.id: c for c in await db.all(Contact)}
    assert len({c.subject_id for c in contacts.values()}) == 2
    # The phone still belongs only to the second person.
    phone_rows = [r for r in await db.all(SubjectIndex) if r.field == "phone"]
    assert len(phone_rows) == 1


async def test_frequency_cap_across_channels(client: Client, auth: dict[str, str], db: TestDatabase) -> None:
    first = (await post(client, auth, event("a"))).json()
    second = (await post(client, auth, event("b", channel="web_chat"))).json()
    assert first["decision"]["invite"] is True
    assert second["decision"] == {**second["decision"], "invite": False, "reason": "frequency_cap"}
    assert await db.count(Invitation) == 1
    assert await db.count(InvitationDecision) == 2


async def test_opt_out_is_sticky(client: Client, auth: dict[str, str], db: TestDatabase) -> None:
    customer = {"email": "quiet@example.org"}
    opted = (await post(client, auth, event("a", customer={**customer, "opted_out": True}))).json()
    assert opted["decision"]["reason"] == "opted_out"
    await db.set_policy(InvitationPolicy(cap_count=100, delay=timedelta(0)))
    later = (await post(client, auth, event("b", customer={**customer, "opted_out": False}))).json()
    assert later["decision"]["invite"] is False
    assert later["decision"]["reason"] in {"opted_out", "suppressed"}


async def test_do_not_survey_and_excluded_services(client: Client, auth: dict[str, str]) -> None:
    flagged = (await post(client, auth, event("a", customer={"email": "a@example.org", "do_not_survey": True}))).json()
    assert flagged["decision"]["reason"] == "do_not_survey"
    excluded = (
        await post(client, auth, event("b", service="adult-safeguarding", customer={"email": "b@example.org"}))
    ).json()
    assert excluded["decision"]["reason"] == "excluded_service"


async def test_contact_without_details_is_stored_and_not_invited(
    client: Client, auth: dict[str, str], db: TestDatabase
) -> None:
    body = event("anon")
    del body["customer"]
    answer = (await post(client, auth, body)).json()
    assert answer["decision"]["invite"] is False
    assert answer["decision"]["reason"] == "no_contact_details"
    assert await db.count(DataSubject) == 0


@pytest.mark.parametrize(
    ("change", "status", "field"),
    [
        ({"channel": "pigeon"}, 400, "channel"),
        ({"service": "no-such-service"}, 422, "service"),
        ({"service": "Bad Slug!"}, 400, "service"),
        ({"customer": {"email": "not-an-email"}}, 400, "customer.email"),
        ({"customer": {"email": " pat@example.org"}}, 400, "customer.email"),
        ({"customer": {"email": "a@example.org\n"}}, 400, "customer.email"),
        ({"customer": {"phone": "07912 34567x"}}, 400, "customer.phone"),
        ({"customer": {"email": "a@example.org", "do_not_survey": 0}}, 400, "customer.do_not_survey"),
        ({"transferred": 1}, 400, "transferred"),
        ({"wait_seconds": "95"}, 400, "wait_seconds"),
        # Stored in clear: a NUL (which PostgreSQL cannot store) or any control character is refused.
        ({"agent_id": "agent\u00007"}, 400, "agent_id"),
        ({"customer": {"phone": "12"}}, 400, "customer.phone"),
        ({"customer": {"phone": "0000 000000"}}, 422, "customer.phone"),
        ({"occurred_at": "2026-11-01T10:00:00"}, 400, "occurred_at"),
        ({"occurred_at": "yesterday"}, 400, "occurred_at"),
        ({"occurred_at": (datetime.now(UTC) + timedelta(days=2)).isoformat()}, 422, "occurred_at"),
        # Older than any retention period: not a real report (and year 1 would overflow London's calendar).
        ({"occurred_at": "0001-01-01T00:00:00Z"}, 422, "occurred_at"),
        ({"occurred_at": (datetime.now(UTC) - timedelta(days=3660)).isoformat()}, 422, "occurred_at"),
        ({"wait_seconds": -1}, 400, "wait_seconds"),
        ({"unexpected": 1}, 400, None),
        ({"customer": {"email": "a@example.org", "colour": "blue"}}, 400, None),
        ({"external_id": ""}, 400, "external_id"),
    ],
)
async def test_bad_input_is_refused_naming_the_field_and_nothing_is_stored(
    client: Client, auth: dict[str, str], db: TestDatabase, change: dict[str, Any], status: int, field: str | None
) -> None:
    response = await post(client, auth, event(**change))
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["status"] == status and problem["title"] and problem["detail"]
    if field:
        assert problem["field"] == field, problem
    assert await db.count(Contact) == 0
    assert await db.count(DataSubject) == 0


async def test_missing_field_is_named(client: Client, auth: dict[str, str]) -> None:
    body = event()
    del body["service"]
    problem = (await post(client, auth, body)).json()
    assert problem["status"] == 400
    assert problem["field"] == "service"


@pytest.mark.parametrize(
    "raw", [b"{bad json", b"", b"[]", b"null", b'"text"', '{"source": "\udcff"}'.encode("utf-8", "surrogatepass")]
)
async def test_malformed_bodies_get_problem_details(
    client: Client, auth: dict[str, str], raw: bytes, db: TestDatabase
) -> None:
    response = await client.post(URL, content=raw, headers={**auth, "content-type": "application/json"})
    assert response.status_code == 400
    assert response.json()["status"] == 400
    assert await db.count(Contact) == 0


async def test_oversized_body_is_refused(client: Client, auth: dict[str, str], db: TestDatabase) -> None:
    body = event(external_id="x" * 100)
    body["padding"] = "x" * (3 * 1024 * 1024)
    response = await post(client, auth, body)
    assert response.status_code == 413
    assert response.json()["status"] == 413
    assert await db.count(Contact) == 0


async def test_api_key_is_required_and_scoped(client: Client, db: TestDatabase) -> None:
    assert (await client.post(URL, json=event())).status_code == 401
    bad = await client.post(URL, json=event(), headers={"Authorization": "Bearer cvk_nope_nope"})
    assert bad.status_code == 401 and bad.json()["title"] == "Not authenticated"
    other = await db.api_key(["reports:read"])
    forbidden = await client.post(URL, json=event(), headers={"Authorization": f"Bearer {other}"})
    assert forbidden.status_code == 403
    assert await db.count(Contact) == 0


async def test_revoked_key_stops_working(client: Client, db: TestDatabase) -> None:
    from civicvoice.core.audit import Actor
    from civicvoice.core.auth import ApiKey, revoke_api_key
    from civicvoice.core.db import unit_of_work

    secret = await db.api_key(["contacts:write"])
    headers = {"Authorization": f"Bearer {secret}"}
    assert (await client.post(URL, json=event("a"), headers=headers)).status_code == 202
    [key] = [k for k in await db.all(ApiKey) if secret.startswith(f"cvk_{k.prefix}_")]
    async with unit_of_work(db.sessions) as session:
        await revoke_api_key(session, prefix=key.prefix, actor=Actor.cli())
    assert (await client.post(URL, json=event("b"), headers=headers)).status_code == 401
    actions = [e.action for e in await db.all(AuditEvent)]
    assert "api_key.create" in actions and "api_key.revoke" in actions


async def test_batch_reports_each_event(client: Client, auth: dict[str, str], db: TestDatabase) -> None:
    events = [
        event("b1", customer={"email": "b1@example.org"}),
        event("b2", service="no-such-service"),
        event("b1", customer={"email": "b1@example.org"}),
        event("b3", customer={"email": "b3@example.org", "phone": "0000 000000"}),
        event("b4", customer={"email": "b4@example.org"}),
    ]
    response = await client.post(f"{URL}/batch", json={"events": events}, headers=auth)
    assert response.status_code == 200, response.text
    body = response.json()
    assert [r["status"] for r in body["results"]] == ["accepted", "rejected", "duplicate", "rejected", "accepted"]
    assert body["results"][1]["error"]["field"] == "service"
    assert body["results"][3]["error"]["field"] == "customer.phone"
    assert (body["accepted"], body["duplicates"], body["rejected"]) == (2, 1, 2)
    assert await db.count(Contact) == 2


async def test_batch_limits(client: Client, auth: dict[str, str], db: TestDatabase) -> None:
    too_many = {"events": [event(f"e{i}") for i in range(1001)]}
    response = await client.post(f"{URL}/batch", json=too_many, headers=auth)
    assert response.status_code in (400, 413)
    empty = await client.post(f"{URL}/batch", json={"events": []}, headers=auth)
    assert empty.status_code == 400
    structural = await client.post(
        f"{URL}/batch", json={"events": [event("ok"), event("bad", channel="fax")]}, headers=auth
    )
    assert structural.status_code == 400
    assert structural.json()["field"] == "events[1].channel"
    assert await db.count(Contact) == 0


async def test_health_and_schema(client: Client) -> None:
    health = await client.get("/health")
    assert health.status_code == 200 and health.json()["database"] == "ok"
    schema = await client.get("/schema/openapi.json")
    assert schema.status_code == 200
    assert "/api/v1/contacts" in schema.json()["paths"]


async def test_security_headers(client: Client) -> None:
    response = await client.get("/health")
    assert response.headers["referrer-policy"] == "no-referrer"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_unknown_route_is_a_problem(client: Client) -> None:
    response = await client.get("/nope")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_contact_ids_are_uuid7(client: Client, auth: dict[str, str]) -> None:
    body = (await post(client, auth, event())).json()
    assert uuid.UUID(body["contact_id"]).version == 7
    assert uuid.UUID(body["invitation_id"]).version == 7


async def test_only_the_channels_the_published_survey_may_use_are_chosen(
    app: Litestar, auth: dict[str, str], db: TestDatabase
) -> None:
    # The standard survey may be asked on every channel; a council that takes email off it (in the survey
    # builder) gets no email invitations, while the policy itself still enables email.
    async with db.sessions() as session, session.begin():
        await session.execute(update(Survey).where(Survey.is_post_contact_default.is_(True)).values(channels=["sms"]))
    async with AsyncTestClient(app=app, base_url="http://testserver.local") as client:
        response = await post(client, auth, event())
    assert response.status_code == 202, response.text
    decision = response.json()["decision"]
    assert decision["invite"] is False and decision["channel"] is None, decision
    assert await db.count(Invitation) == 0
