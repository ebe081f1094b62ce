"""The frequency cap holds under concurrency: simultaneous contacts for one person give at most one invitation."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import msgspec

from civicvoice.app import build_services, features
from civicvoice.core.settings import Settings
from surveys.intake import ContactIntake
from surveys.models import Contact, Invitation
from surveys.schemas import ContactEvent
from tests.integration.support import TestDatabase


def contact(external_id: str, **customer: object) -> ContactEvent:
    return msgspec.convert(
        {
            "source": "telephony",
            "external_id": external_id,
            "channel": "phone",
            "service": "council-tax",
            "occurred_at": (datetime.now(UTC) - timedelta(minutes=1)).isoformat(),
            "customer": customer,
        },
        ContactEvent,
    )


async def test_simultaneous_contacts_for_one_person_give_one_invitation(
    settings: Settings, db: TestDatabase, catalogue: None
) -> None:
    services = await build_services(settings, db.sessions, features())
    intake = services.get(ContactIntake)

    async def report(event: ContactEvent) -> str:
        async with db.sessions() as session:
            result = await intake.report(session, event)
            return result.accepted.decision.reason

    for round_ in range(4):
        # The same new person, reported by several systems at the same moment, by email and by phone.
        email = f"same.person.{round_}@example.org"
        events = [
            contact(f"r{round_}-a", email=email),
            contact(f"r{round_}-b", email=email),
            contact(f"r{round_}-c", email=email.upper()),
            contact(f"r{round_}-d", email=email),
        ]
        reasons = await asyncio.gather(*(report(e) for e in events))
        assert sorted(reasons).count("invited") == 1, reasons
        assert set(reasons) <= {"invited", "frequency_cap"}

    invitations = await db.all(Invitation)
    assert len(invitations) == 4
    assert len({i.subject_id for i in invitations}) == 4
    assert await db.count(Contact) == 16
