"""API keys are bound to the contact systems (sources) they report for: another source is a 403 problem, and a
duplicate, with its stored decision reason, is only ever answered to a key of the contact's own source."""

from __future__ import annotations

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import update

from civicvoice.core.auth import ApiKey
from civicvoice.core.db import unit_of_work
from surveys.models import Contact, InvitationDecision
from tests.integration.support import TestDatabase
from tests.integration.test_contacts_api import URL, event

Client = AsyncTestClient[Litestar]


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


async def test_a_key_reports_only_its_own_sources(client: Client, db: TestDatabase) -> None:
    crm = bearer(await db.api_key(["contacts:write"], sources=("crm",)))
    assert (await client.post(URL, json=event("c-1", source="crm"), headers=crm)).status_code == 202
    refused = await client.post(URL, json=event("t-1", source="telephony"), headers=crm)
    assert refused.status_code == 403
    assert refused.headers["content-type"] == "application/problem+json"
    problem = refused.json()
    assert problem["type"] == "/problems/source-not-allowed" and problem["field"] == "source"
    assert "'telephony'" in problem["detail"] and "crm" in problem["detail"]
    assert await db.count(Contact) == 1


async def test_a_duplicate_is_answered_only_to_a_key_of_its_own_source(client: Client, db: TestDatabase) -> None:
    crm = bearer(await db.api_key(["contacts:write"], sources=("crm",)))
    telephony = bearer(await db.api_key(["contacts:write"], sources=("telephony",)))
    first = await client.post(URL, json=event("shared-1", source="crm"), headers=crm)
    assert first.status_code == 202
    reason = first.json()["decision"]["reason"]

    # Another system asking about the CRM's contact learns nothing of it, not even that it exists.
    probe = await client.post(URL, json=event("shared-1", source="crm"), headers=telephony)
    assert probe.status_code == 403
    assert "decision" not in probe.json() and reason not in probe.text and "duplicate" not in probe.text
    # The same external id from the telephony system is that system's own, new contact.
    own = await client.post(URL, json=event("shared-1", source="telephony"), headers=telephony)
    assert own.status_code == 202 and own.json()["duplicate"] is False

    again = await client.post(URL, json=event("shared-1", source="crm"), headers=crm)
    assert again.status_code == 202 and again.json()["duplicate"] is True
    assert again.json()["decision"]["reason"] == reason
    assert await db.count(Contact) == 2 and await db.count(InvitationDecision) == 2


async def test_a_batch_refuses_each_event_of_a_foreign_source_on_its_own(client: Client, db: TestDatabase) -> None:
    crm = bearer(await db.api_key(["contacts:write"], sources=("crm",)))
    await client.post(URL, json=event("dup-1", source="crm"), headers=crm)
    events = [event("b-1", source="crm"), event("b-2", source="telephony"), event("dup-1", source="crm")]
    response = await client.post(f"{URL}/batch", json={"events": events}, headers=crm)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["accepted"], body["duplicates"], body["rejected"]) == (1, 1, 1)
    refused = body["results"][1]
    assert refused["status"] == "rejected" and refused["error"]["status"] == 403
    assert refused["error"]["field"] == "source" and refused.get("decision") is None
    assert await db.count(Contact) == 2


async def test_a_key_made_before_sources_reports_nothing_until_bound(client: Client, db: TestDatabase) -> None:
    secret = await db.api_key(["contacts:write"], sources=())
    async with unit_of_work(db.sessions) as session:  # as the migration leaves an existing key
        await session.execute(update(ApiKey).values(sources=[]))
    refused = await client.post(URL, json=event("x-1", source="crm"), headers=bearer(secret))
    assert refused.status_code == 403 and "civicvoice apikey sources" in refused.json()["detail"]
