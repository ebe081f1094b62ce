"""Group commit for contact intake: concurrent events stored in shared transactions decide exactly as one by one."""

from __future__ import annotations

import asyncio
import random
from collections import defaultdict
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pytest

from civicvoice.app import build_services, features
from civicvoice.core.errors import CivicVoiceError
from civicvoice.core.jobs import Job
from civicvoice.core.settings import Settings
from privacy.models import DataKey, DataSubject, SubjectIndex
from surveys.intake import ContactIntake, IntakeResult
from surveys.intake_batch import BatchingIntake
from surveys.models import Contact, Invitation, InvitationDecision
from surveys.rules import InvitationPolicy
from surveys.schemas import ContactEvent
from tests.integration.support import TestDatabase

CAP = 2
POLICY = InvitationPolicy(cap_count=CAP, delay=timedelta(0), default_sampling_rate=1.0, quiet_hours={})


def contact(external_id: str, service: str = "council-tax", **customer: object) -> ContactEvent:
    body: dict[str, Any] = {
        "source": "telephony",
        "external_id": external_id,
        "channel": "phone",
        "service": service,
        "occurred_at": (datetime.now(UTC) - timedelta(minutes=1)).isoformat(),
    }
    if customer:
        body["customer"] = customer
    return msgspec.convert(body, ContactEvent)


def email(person: int) -> str:
    return f"person.{person}@example.org"


def phone(person: int) -> str:
    return f"079{person + 10_000_000:08d}"


@pytest.fixture
async def batching(settings: Settings, db: TestDatabase) -> AsyncIterator[BatchingIntake]:
    await db.load_catalogue(POLICY)
    services = await build_services(settings, db.sessions, features())
    intake = BatchingIntake(services.get(ContactIntake), db.sessions)
    # Warm the reference-data cache, as in a running server: the events below then reach the writer together.
    await report(intake, db, contact("warm-up"))
    intake.group.batches = 0
    try:
        yield intake
    finally:
        await intake.aclose()


async def report(intake: Any, db: TestDatabase, event: ContactEvent) -> IntakeResult:
    async with db.sessions() as session:
        result: IntakeResult = await intake.report(session, event)
        return result


async def test_concurrent_events_decide_as_sequential_processing_would(
    batching: BatchingIntake, db: TestDatabase
) -> None:
    rng = random.Random(20261123)  # noqa: S311 - a fixed, reproducible mix
    # Five returning people, known (email and phone) from an earlier contact stored one at a time.
    earlier = {
        p: await report(batching.intake, db, contact(f"old-{p}", email=email(p), phone=phone(p))) for p in range(5)
    }
    assert all(r.accepted.decision.reason == "invited" for r in earlier.values())

    events: list[tuple[int, ContactEvent]] = []
    for n in range(50):
        person = rng.randrange(20)
        if n % 9 == 4:
            ref = f"new-{rng.randrange(max(1, n))}"  # the same contact again, maybe in the same batch
            previous = [(p, e) for p, e in events if e.external_id == ref]
            if previous:
                events.append((previous[0][0], previous[0][1]))
                continue
        if n % 11 == 7:
            events.append((n % 5, contact(f"old-{n % 5}", email=email(n % 5), phone=phone(n % 5))))
            continue
        if person < 5 and n % 2:
            customer: dict[str, object] = {"phone": phone(person)}  # a returning person found by phone alone
        elif n % 3:
            customer = {"email": email(person).upper(), "phone": phone(person), "name": f"Person {person}"}
        else:
            customer = {"email": email(person)}
        events.append((person, contact(f"new-{n}", **customer)))

    results = await asyncio.gather(*(report(batching, db, e) for _, e in events))
    assert batching.group.fallbacks == 0, repr(batching.group.last_error)
    assert 0 < batching.group.batches < len(events)  # events really were grouped

    # One contact per (source, external id); repeats answered with the first result.
    by_ref: dict[str, list[IntakeResult]] = defaultdict(list)
    for (_, e), r in zip(events, results, strict=True):
        by_ref[e.external_id].append(r)
    for p, r in earlier.items():
        by_ref[f"old-{p}"].insert(0, r)
    for ref, answers in by_ref.items():
        assert [a.duplicate for a in answers].count(False) == 1, ref
        first = next(a for a in answers if not a.duplicate)
        for a in answers:
            assert (a.accepted.contact_id, a.accepted.decision, a.accepted.invitation_id) == (
                first.accepted.contact_id,
                first.accepted.decision,
                first.accepted.invitation_id,
            ), ref
    contacts = [c for c in await db.all(Contact) if c.subject_id is not None]  # not the anonymous warm-up
    assert len(contacts) == len(by_ref)

    # One person per person, whatever identifiers each event carried; phones joined in the batch are indexed.
    subjects = await db.all(DataSubject)
    people = {p for p, _ in events} | set(earlier)
    assert len(subjects) == len(people)
    assert await db.count(DataKey) == len(subjects)
    assert len({c.subject_id for c in contacts}) == len(people)
    indexes = await db.all(SubjectIndex)
    assert len({(i.field, i.key_version, i.digest) for i in indexes}) == len(indexes)

    # The cap exactly as sequential processing gives it: every person invited min(cap, their contacts) times.
    contacts_of: dict[Any, set[Any]] = defaultdict(set)
    for c in contacts:
        contacts_of[c.subject_id].add(c.id)
    invitations = await db.all(Invitation)
    invited: dict[Any, int] = defaultdict(int)
    for i in invitations:
        invited[i.subject_id] += 1
    for subject_id, ids in contacts_of.items():
        assert invited[subject_id] == min(CAP, len(ids)), subject_id
    decisions = await db.all(InvitationDecision)
    assert len(decisions) == len(contacts) + 1
    assert {d.reason for d in decisions if d.subject_id} <= {"invited", "frequency_cap"}
    assert await db.count(Job) == len(invitations)
    # Every answer matches what is stored.
    stored = {d.contact_id: d for d in decisions}
    for r in results:
        assert stored[r.accepted.contact_id].reason == r.accepted.decision.reason


async def test_same_new_person_twice_in_one_batch_is_one_person_and_the_cap_counts_the_first(
    batching: BatchingIntake, db: TestDatabase
) -> None:
    events = [contact(f"same-{n}", email="same@example.org") for n in range(CAP + 3)]
    results = await asyncio.gather(*(report(batching, db, e) for e in events))
    assert batching.group.batches == 1
    assert [r.accepted.decision.reason for r in results] == ["invited"] * CAP + ["frequency_cap"] * 3
    assert await db.count(DataSubject) == 1
    assert await db.count(Invitation) == CAP


async def test_invalid_events_are_refused_alone_and_store_nothing(batching: BatchingIntake, db: TestDatabase) -> None:
    events = [
        contact("ok-1", email="a@example.org"),
        contact("bad-service", service="no-such-service", email="b@example.org"),
        contact("ok-2", email="c@example.org"),
        msgspec.structs.replace(
            contact("future", email="d@example.org"), occurred_at=datetime.now(UTC) + timedelta(days=1)
        ),
        contact("ok-1", email="a@example.org"),
    ]
    outcomes = await asyncio.gather(*(report(batching, db, e) for e in events), return_exceptions=True)
    assert isinstance(outcomes[1], CivicVoiceError) and outcomes[1].field == "service"
    assert isinstance(outcomes[3], CivicVoiceError) and outcomes[3].field == "occurred_at"
    ok = [o for o in outcomes if isinstance(o, IntakeResult)]
    assert [o.duplicate for o in ok] == [False, False, True]
    assert await db.count(Contact) == 2 + 1
    assert await db.count(DataSubject) == 2
    with pytest.raises(CivicVoiceError) as bad_email:
        await report(batching, db, contact("bad-email", email="not-an-email"))
    assert bad_email.value.field == "customer.email"
    assert await db.count(Contact) == 2 + 1


async def test_a_failed_batch_leaves_nothing_behind_and_each_event_is_stored_on_its_own(
    batching: BatchingIntake, db: TestDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = batching._write_batch
    calls = 0

    async def failing(session: Any, batch: Any) -> Any:
        nonlocal calls
        calls += 1
        await real(session, batch)  # every row written ...
        if calls == 1:
            raise RuntimeError("lost a race")  # ... then the batch fails before commit
        return await real(session, batch)

    monkeypatch.setattr(batching, "_write_batch", failing)
    events = [contact(f"f-{n % 4}", email=f"f{n % 4 % 3}@example.org") for n in range(8)]
    results = await asyncio.gather(*(report(batching, db, e) for e in events))
    assert batching.group.fallbacks == 1 and calls == 1
    assert await db.count(Contact) == 4 + 1
    assert await db.count(DataSubject) == 3
    assert sum(not r.duplicate for r in results) == 4
    assert await db.count(Invitation) == sum(r.accepted.decision.invite for r in results if not r.duplicate)


async def test_opt_out_takes_the_per_event_path_and_sticks(batching: BatchingIntake, db: TestDatabase) -> None:
    opted = await report(batching, db, contact("o-1", email="quiet@example.org", opted_out=True))
    assert opted.accepted.decision.reason == "opted_out"
    later = await asyncio.gather(
        *(report(batching, db, contact(f"o-{n}", email="quiet@example.org")) for n in range(2, 5))
    )
    assert {r.accepted.decision.reason for r in later} <= {"opted_out", "suppressed"}
    assert await db.count(Invitation) == 0
    assert await db.count(DataSubject) == 1
