"""The subject-request API: another system records a request in the DPO's queue with a `privacy:requests` key
and reads back how it stands; bad input is a problem-details answer naming the field, with nothing stored."""

from __future__ import annotations

from datetime import date, timedelta

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select

from civicvoice.app import build_services, features
from civicvoice.core.audit import AuditEvent
from civicvoice.core.clock import utcnow
from civicvoice.core.db import unit_of_work
from civicvoice.core.settings import Settings
from privacy.closures import council_calendar
from privacy.deadlines import RequestClock, deadline, london_day
from privacy.requests import SubjectRequest, requester_of
from privacy.restriction import is_restricted
from privacy.vault import IdentityClaim, Vault
from tests.integration.support import TestDatabase

Client = AsyncTestClient[Litestar]
URL = "/api/v1/privacy/requests"


async def privacy_key(db: TestDatabase) -> dict[str, str]:
    return {"Authorization": f"Bearer {await db.api_key(['privacy:requests'])}"}


def body(**changes: object) -> dict[str, object]:
    return {
        "kind": "access",
        "requester": {"name": "Jo Bloggs", "email": "jo@example.org", "contact_reference": "CASE-9"},
        "details": "All my calls about bins",
        **changes,
    }


async def stored(db: TestDatabase) -> int:
    async with db.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(SubjectRequest)) or 0)


async def test_a_system_records_a_request_and_reads_how_it_stands(
    client: Client, db: TestDatabase, settings: Settings
) -> None:
    headers = await privacy_key(db)
    received = london_day(utcnow()) - timedelta(days=40)
    created = await client.post(URL, json=body(received_on=received.isoformat()), headers=headers)
    assert created.status_code == 201, created.text
    answer = created.json()
    assert answer["kind"] == "access" and answer["state"] == "in_progress" and answer["channel"] == "api"
    async with db.sessions() as session:
        calendar = await council_calendar(session, settings)
    expected = deadline(RequestClock(received), calendar).due
    assert answer["received_on"] == received.isoformat() and answer["due_on"] == expected.isoformat()
    assert "Jo" not in created.text and "jo@example.org" not in created.text
    shown = await client.get(f"{URL}/{answer['id']}", headers=headers)
    assert shown.status_code == 200 and shown.json() == answer
    services = await build_services(settings, db.sessions, features())
    async with db.sessions() as session:
        request = await session.get(SubjectRequest, answer["id"])
        assert request is not None
        requester = await requester_of(session, services.get(Vault), request)
        actions = set((await session.scalars(select(AuditEvent.action))).all())
    assert requester is not None and requester.contact_reference == "CASE-9" and requester.email == "jo@example.org"
    assert "privacy.request.open" in actions
    # Another key, even one with the same scope, does not see it; nor does a contacts key reach the API.
    other = await privacy_key(db)
    assert (await client.get(f"{URL}/{answer['id']}", headers=other)).status_code == 404
    contacts = {"Authorization": f"Bearer {await db.api_key(['contacts:write'])}"}
    refused = await client.post(URL, json=body(), headers=contacts)
    assert refused.status_code == 403 and refused.headers["content-type"].startswith("application/problem+json")
    assert (await client.post(URL, json=body())).status_code == 401


async def test_identity_checks_complaints_and_restrictions(
    client: Client, db: TestDatabase, settings: Settings
) -> None:
    headers = await privacy_key(db)
    pending = (await client.post(URL, json=body(identity_required=True), headers=headers)).json()
    assert pending["state"] == "identity_pending" and pending["due_on"] is None
    checked = (await client.post(URL, json=body(identity_checked="Council tax account login"), headers=headers)).json()
    assert checked["state"] == "in_progress" and checked["identity_method"] == "Council tax account login"
    complaint = (await client.post(URL, json=body(kind="complaint"), headers=headers)).json()
    received = date.fromisoformat(complaint["received_on"])
    assert complaint["acknowledge_by"] == (received + timedelta(days=29)).isoformat()
    assert complaint["acknowledged_on"] is None
    # A restriction request for a person we hold restricts their processing at once.
    services = await build_services(settings, db.sessions, features())
    async with unit_of_work(db.sessions) as session:
        person = (await services.get(Vault).resolve(session, IdentityClaim(email="held@example.org"))).subject_id
    restriction = body(kind="restriction", requester={"name": "Held Person", "email": "held@example.org"})
    answer = (await client.post(URL, json=restriction, headers=headers)).json()
    assert answer["linked_to_a_person"] is True
    async with db.sessions() as session:
        assert await is_restricted(session, person)


async def test_bad_requests_are_problems_naming_the_field_and_store_nothing(client: Client, db: TestDatabase) -> None:
    headers = await privacy_key(db)
    tomorrow = (date.today() + timedelta(days=2)).isoformat()
    cases: list[tuple[object, int, str | None]] = [
        (body(kind="everything"), 400, "kind"),
        (body(requester={"name": ""}), 400, "requester.name"),
        (body(requester={"name": "Jo", "email": "not an address"}), 400, "requester.email"),
        (body(requester={"name": "Jo", "phone": "0"}), 400, "requester.phone"),
        (body(requester={"name": "Jo", "phone": "01234"}), 422, "requester.phone"),
        (body(requester={"name": "Jo"}), 422, "requester"),
        (body(received_on=tomorrow), 422, "received_on"),
        (body(received_on="2001-01-01"), 422, "received_on"),
        (body(identity_required=1), 400, "identity_required"),
        (body(surprise=True), 400, None),
        ("[]", 400, None),
    ]
    for sent, status, field in cases:
        if isinstance(sent, str):
            answer = await client.post(URL, content=sent, headers={**headers, "content-type": "application/json"})
        else:
            answer = await client.post(URL, json=sent, headers=headers)
        assert answer.status_code == status, (sent, answer.text)
        assert answer.headers["content-type"].startswith("application/problem+json")
        if field is not None:
            assert answer.json()["field"] == field, answer.text
    assert await stored(db) == 0
    missing = await client.get(f"{URL}/00000000-0000-0000-0000-000000000000", headers=headers)
    assert missing.status_code == 404 and missing.json()["field"] == "request_id"
