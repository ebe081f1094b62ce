"""Restriction of processing (Art. 18): while it stands the person is not invited (the decision says why), an
invitation already queued is cancelled at send time, and exports leave them out; lifting it (by the DPO, or by
completing the request) restores all three."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from civicvoice.app import build_services, features
from civicvoice.core.audit import Actor, AuditEvent
from civicvoice.core.db import unit_of_work
from civicvoice.core.jobs import Worker
from civicvoice.core.settings import Settings
from exports.datasets import ExportFilter, contact_rows
from privacy.closures import council_calendar
from privacy.fulfilment import restrict_while_open
from privacy.request_states import RequestKind, RequestState
from privacy.requests import Requester, find_request, move, open_request
from privacy.restriction import is_restricted, lift, restrict, restrictions_of
from privacy.vault import IdentityClaim, Vault
from surveys.models import Contact, Invitation, InvitationDecision, InvitationState
from tests.integration.support import TestDatabase

Client = AsyncTestClient[Litestar]


def contact(external_id: str, email: str) -> dict[str, Any]:
    return {
        "source": "crm",
        "external_id": external_id,
        "channel": "phone",
        "service": "waste-and-recycling",
        "occurred_at": (datetime.now(UTC) - timedelta(minutes=2)).isoformat(),
        "customer": {"email": email},
    }


async def report(client: Client, auth: dict[str, str], external_id: str, email: str) -> dict[str, Any]:
    answer = await client.post("/api/v1/contacts", json=contact(external_id, email), headers=auth)
    assert answer.status_code == 202, answer.text
    decided: dict[str, Any] = answer.json()
    return decided


async def exported_contacts(db: TestDatabase, vault: Vault) -> set[uuid.UUID]:
    async with db.sessions() as session:
        ids = {uuid.UUID(row[0]) async for row in contact_rows(session, vault, ExportFilter(), False)}
        subjects = await session.execute(select(Contact.id, Contact.subject_id).where(Contact.id.in_(ids)))
        return {subject for _, subject in subjects if subject is not None}


async def test_a_restricted_person_is_not_invited_sent_to_or_exported_until_it_is_lifted(
    client: Client, app: Litestar, auth: dict[str, str], db: TestDatabase, settings: Settings
) -> None:
    services = await build_services(settings, db.sessions, features())
    vault = services.get(Vault)
    queued = await report(client, auth, "c1", "held@example.org")
    await report(client, auth, "c2", "other@example.org")
    assert queued["decision"]["invite"] is True
    async with db.sessions() as session:
        person = (await vault.find(session, IdentityClaim(email="held@example.org")))["email"]
        other = (await vault.find(session, IdentityClaim(email="other@example.org")))["email"]
    assert await exported_contacts(db, vault) == {person, other}

    async with unit_of_work(db.sessions) as session:
        restriction = await restrict(session, person, actor=Actor.cli())
    # Intake: no invitation, and the decision says why.
    refused = await report(client, auth, "c3", "held@example.org")
    assert refused["decision"]["invite"] is False and refused["decision"]["reason"] == "restricted"
    async with db.sessions() as session:
        stored = await session.scalar(
            select(InvitationDecision).where(InvitationDecision.contact_id == refused["contact_id"])
        )
    assert stored is not None and stored.reason == "restricted" and not stored.invite
    # Sending: the invitation queued before the restriction is cancelled at send time; the other goes out.
    await Worker(app.state.jobs, db.sessions, app.state.services).run_due()
    invitations = {i.subject_id: i for i in await db.all(Invitation)}
    assert invitations[person].state == InvitationState.cancelled and invitations[person].failure == "restricted"
    assert invitations[other].state == InvitationState.sent
    # Exports: the restricted person's rows are left out.
    assert await exported_contacts(db, vault) == {other}

    async with unit_of_work(db.sessions) as session:
        await lift(session, restriction.id, actor=Actor.cli(), reason="accuracy verified")
        assert not await is_restricted(session, person)
    again = await report(client, auth, "c4", "held@example.org")
    assert again["decision"]["invite"] is True
    assert await exported_contacts(db, vault) == {person, other}
    async with db.sessions() as session:
        actions = list((await session.scalars(select(AuditEvent.action))).all())
    assert "privacy.restriction.place" in actions and "privacy.restriction.lift" in actions


async def test_a_restriction_request_restricts_while_it_is_open(
    client: Client, db: TestDatabase, settings: Settings
) -> None:
    services = await build_services(settings, db.sessions, features())
    vault = services.get(Vault)
    async with unit_of_work(db.sessions) as session:
        person = (await vault.resolve(session, IdentityClaim(email="held@example.org"))).subject_id
        calendar = await council_calendar(session, settings)
        request = await open_request(
            session,
            vault,
            calendar,
            kind=RequestKind.restriction,
            requester=Requester(name="Held", email="held@example.org"),
            channel="staff",
            actor=Actor.cli(),
            identity_required=False,
            subject_id=person,
        )
        reference = request.reference
    async with unit_of_work(db.sessions) as session:
        found = await find_request(session, reference)
        assert await restrict_while_open(session, vault, found, actor=Actor.cli())
        # Again is a no-op: one restriction per request.
        assert await restrict_while_open(session, vault, found, actor=Actor.cli())
    async with db.sessions() as session:
        assert len(await restrictions_of(session, subject_id=person)) == 1
    async with unit_of_work(db.sessions) as session:
        found = await find_request(session, reference, lock=True)
        await move(session, vault, calendar, found, RequestState.completed, actor=Actor.cli(), reason="Fixed")
    async with db.sessions() as session:
        assert not await is_restricted(session, person)
