"""The frequency cap holds under concurrency: simultaneous contacts for one person give at most one invitation."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import msgspec
import pytest

from civicvoice.app import build_services, features
from civicvoice.core.settings import Settings
from privacy.models import DataSubject
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


async def intakes(settings: Settings, db: TestDatabase, count: int) -> list[ContactIntake]:
    """``count`` intakes that share nothing but the database, like intakes in as many server processes."""
    return [(await build_services(settings, db.sessions, features())).get(ContactIntake) for _ in range(count)]


# "grouped": one process's group-commit writer; "processes": every event in its own transaction in its own
# "process", so only the database's row lock and unique indexes keep the cap.
@pytest.mark.parametrize("path", ["grouped", "processes"])
async def test_simultaneous_contacts_for_one_person_give_one_invitation(
    settings: Settings, db: TestDatabase, catalogue: None, path: str
) -> None:
    processes = await intakes(settings, db, 4)

    async def report(number: int, event: ContactEvent) -> str:
        async with db.sessions() as session:
            if path == "grouped":
                result = await processes[0].report(session, event)
            else:
                result = await processes[number].report_now(session, event)
            return str(result.accepted.decision.reason)

    for round_ in range(4):
        # The same new person, reported by several systems at the same moment, by email and by phone.
        email = f"same.person.{round_}@example.org"
        events = [
            contact(f"r{round_}-a", email=email),
            contact(f"r{round_}-b", email=email),
            contact(f"r{round_}-c", email=email.upper()),
            contact(f"r{round_}-d", email=email),
        ]
        reasons = await asyncio.gather(*(report(n, e) for n, e in enumerate(events)))
        assert sorted(reasons).count("invited") == 1, reasons
        assert set(reasons) <= {"invited", "frequency_cap"}

    invitations = await db.all(Invitation)
    assert len(invitations) == 4
    assert len({i.subject_id for i in invitations}) == 4
    assert await db.count(Contact) == 16


# Batches from one process take turns; from several they race, and the database keeps them apart.
async def test_simultaneous_batches_naming_one_known_person_give_one_invitation(
    settings: Settings, db: TestDatabase, catalogue: None
) -> None:
    processes = await intakes(settings, db, 4)
    # Known already (and not invited: their first contact was flagged "do not survey").
    async with db.sessions() as session:
        first = await processes[0].report_now(session, contact("known", email="known@example.org", do_not_survey=True))
    assert first.accepted.decision.reason == "do_not_survey"

    # Two people new to everyone, named by every batch in a different order: the batches race to create them.
    shared = [
        {"email": "ann@example.org", "phone": "07911 123456"},
        {"email": "bob@example.org", "phone": "07912 345678"},
    ]

    async def batch(number: int) -> list[str]:
        events = [contact(f"b{number}-{n}", email="known@example.org") for n in range(3)]
        events.append(contact(f"b{number}-new", email=f"new.{number}@example.org"))
        events += [contact(f"b{number}-s{n}", **person) for n, person in enumerate(shared[:: 1 if number % 2 else -1])]
        async with db.sessions() as session:
            outcomes = await processes[number].report_many(session, events)
        return [str(o.accepted.decision.reason) for o in outcomes]

    results = await asyncio.gather(*(batch(n) for n in range(4)))
    known = [reason for reasons in results for reason in reasons[:3]]
    assert sorted(known).count("invited") == 1, results
    assert set(known) <= {"invited", "frequency_cap"}
    assert [reasons[3] for reasons in results] == ["invited"] * 4
    racing = [reason for reasons in results for reason in reasons[4:]]
    assert sorted(racing) == ["frequency_cap"] * 6 + ["invited"] * 2, results
    assert await db.count(Invitation) == 7
    assert await db.count(DataSubject) == 1 + 4 + 2
