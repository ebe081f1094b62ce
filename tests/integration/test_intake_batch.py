"""Contact intake's one writer: concurrent single contacts grouped into shared transactions, and batches of many,
decide exactly as events stored one by one would."""

from __future__ import annotations

import asyncio
import random
from collections import defaultdict
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pytest
from sqlalchemy import delete, select

from civicvoice.app import build_services, features
from civicvoice.core.errors import CivicVoiceError
from civicvoice.core.jobs import Job
from civicvoice.core.settings import Settings
from privacy.exceptions import KeyDestroyed
from privacy.models import DataKey, DataSubject, SubjectConflict, SubjectIndex, SuppressionEntry
from surveys.intake import ContactIntake, IntakeResult
from surveys.models import Contact, Invitation, InvitationDecision, Service
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
async def batching(settings: Settings, db: TestDatabase) -> AsyncIterator[ContactIntake]:
    await db.load_catalogue(POLICY)
    services = await build_services(settings, db.sessions, features())
    intake: ContactIntake = services.get(ContactIntake)
    assert intake.group is not None
    # Warm the reference-data cache, as in a running server: the events below then reach the writer together.
    await report(intake, db, contact("warm-up"))
    intake.group.batches = 0
    try:
        yield intake
    finally:
        await intake.aclose()


def group_of(intake: ContactIntake) -> Any:
    assert intake.group is not None
    return intake.group


async def report(intake: ContactIntake, db: TestDatabase, event: ContactEvent) -> IntakeResult:
    async with db.sessions() as session:
        return await intake.report(session, event)


async def report_now(intake: ContactIntake, db: TestDatabase, event: ContactEvent) -> IntakeResult:
    async with db.sessions() as session:
        return await intake.report_now(session, event)


async def test_concurrent_events_decide_as_sequential_processing_would(
    batching: ContactIntake, db: TestDatabase
) -> None:
    rng = random.Random(20261123)  # noqa: S311 - a fixed, reproducible mix
    # Five returning people, known (email and phone) from an earlier contact stored one at a time.
    earlier = {p: await report_now(batching, db, contact(f"old-{p}", email=email(p), phone=phone(p))) for p in range(5)}
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
    assert group_of(batching).fallbacks == 0, repr(group_of(batching).last_error)
    assert 0 < group_of(batching).batches < len(events)  # events really were grouped

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
    batching: ContactIntake, db: TestDatabase
) -> None:
    events = [contact(f"same-{n}", email="same@example.org") for n in range(CAP + 3)]
    results = await asyncio.gather(*(report(batching, db, e) for e in events))
    assert group_of(batching).batches == 1
    assert [r.accepted.decision.reason for r in results] == ["invited"] * CAP + ["frequency_cap"] * 3
    assert await db.count(DataSubject) == 1
    assert await db.count(Invitation) == CAP


async def test_invalid_events_are_refused_alone_and_store_nothing(batching: ContactIntake, db: TestDatabase) -> None:
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
    # The API's schema refuses such an address before intake; intake refuses it too, should one come another way.
    well_formed = contact("bad-email", email="e@example.org")
    assert well_formed.customer is not None
    bad = msgspec.structs.replace(well_formed, customer=msgspec.structs.replace(well_formed.customer, email="x@y"))
    with pytest.raises(CivicVoiceError) as bad_email:
        await report(batching, db, bad)
    assert bad_email.value.field == "customer.email"
    assert await db.count(Contact) == 2 + 1


async def test_a_failed_batch_leaves_nothing_behind_and_each_event_is_stored_on_its_own(
    batching: ContactIntake, db: TestDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = batching.write
    failed = 0

    async def failing_once(session: Any, checked: Any) -> Any:
        nonlocal failed
        outcomes = await real(session, checked)  # every row written ...
        if not failed:
            failed += 1
            raise RuntimeError("lost a race")  # ... then the batch fails before commit
        return outcomes

    monkeypatch.setattr(batching, "write", failing_once)
    events = [contact(f"f-{n % 4}", email=f"f{n % 4 % 3}@example.org") for n in range(8)]
    results = await asyncio.gather(*(report(batching, db, e) for e in events))
    assert group_of(batching).fallbacks == 1 and failed == 1
    assert await db.count(Contact) == 4 + 1
    assert await db.count(DataSubject) == 3
    assert sum(not r.duplicate for r in results) == 4
    assert await db.count(Invitation) == sum(r.accepted.decision.invite for r in results if not r.duplicate)


async def test_opt_out_in_a_batch_sticks_for_the_events_after_it(batching: ContactIntake, db: TestDatabase) -> None:
    events = [contact("o-1", email="quiet@example.org", phone=phone(7), opted_out=True)]
    events += [contact(f"o-{n}", email="quiet@example.org") for n in range(2, 5)]
    results = await asyncio.gather(*(report(batching, db, e) for e in events))
    assert group_of(batching).batches == 1
    assert [r.accepted.decision.reason for r in results] == ["opted_out"] * 4
    assert await db.count(Invitation) == 0
    [subject] = [s for s in await db.all(DataSubject)]
    assert subject.opted_out_at is not None
    assert {e.kind for e in await db.all(SuppressionEntry)} == {"email", "phone"}
    assert await db.count(SuppressionEntry) == 2
    # Sticky: a later event saying otherwise changes nothing.
    later = await report(batching, db, contact("o-5", email="quiet@example.org", opted_out=False))
    assert later.accepted.decision.reason == "opted_out"
    assert await db.count(SuppressionEntry) == 2


# --- many events in one transaction: the API's batches --------------------------------------------------------


async def report_many(intake: ContactIntake, db: TestDatabase, events: list[ContactEvent]) -> list[Any]:
    async with db.sessions() as session:
        return await intake.report_many(session, events)


async def test_a_batch_refuses_bad_events_alone_and_answers_duplicates_with_the_first_decision(
    batching: ContactIntake, db: TestDatabase
) -> None:
    stored = await report_now(batching, db, contact("stored", email="stored@example.org"))
    async with db.sessions() as session, session.begin():
        library = await session.scalar(select(Service).where(Service.slug == "libraries"))
        assert library is not None
        library.active = False
    future = msgspec.structs.replace(
        contact("future", email="f@example.org"), occurred_at=datetime.now(UTC) + timedelta(days=1)
    )
    # The API schema refuses a malformed address before intake: built by hand, to show intake refuses it too.
    well_formed = contact("b-4", email="four@example.org")
    assert well_formed.customer is not None
    malformed_email = msgspec.structs.replace(
        well_formed, customer=msgspec.structs.replace(well_formed.customer, email="not-an-email")
    )
    events = [
        contact("b-1", email="one@example.org"),
        contact("b-2", service="no-such-service", email="two@example.org"),
        contact("b-3", service="libraries", email="three@example.org"),
        future,
        malformed_email,
        contact("b-5", phone="0000 000000"),
        contact("stored", email="stored@example.org"),
        contact("b-1", email="one@example.org"),
        contact("b-6", email="six@example.org"),
        contact("b-7"),
    ]
    outcomes = await report_many(batching, db, events)
    refused = {n: o.field for n, o in enumerate(outcomes) if isinstance(o, CivicVoiceError)}
    assert refused == {1: "service", 2: "service", 3: "occurred_at", 4: "customer.email", 5: "customer.phone"}
    answers = {n: o for n, o in enumerate(outcomes) if isinstance(o, IntakeResult)}
    assert [answers[n].duplicate for n in (0, 6, 7, 8, 9)] == [False, True, True, False, False]
    assert answers[6].accepted == msgspec.structs.replace(stored.accepted, duplicate=True)
    assert answers[7].accepted == msgspec.structs.replace(answers[0].accepted, duplicate=True)
    assert answers[0].accepted.decision.reason == "invited"
    assert answers[9].accepted.decision.reason == "no_contact_details"
    # Stored: the warm-up, the earlier contact, b-1, b-6 and b-7; nobody for the refused events.
    assert await db.count(Contact) == 5
    assert await db.count(DataSubject) == 3
    decisions = {d.contact_id: d.reason for d in await db.all(InvitationDecision)}
    for answer in answers.values():
        assert decisions[answer.accepted.contact_id] == answer.accepted.decision.reason


async def test_a_batch_resolves_people_in_order_and_records_conflicts_without_merging(
    batching: ContactIntake, db: TestDatabase
) -> None:
    await report_now(batching, db, contact("a", email="ann@example.org"))
    await report_now(batching, db, contact("b", phone=phone(1)))
    events = [
        # Stored people: the email's owner is chosen over the phone's, the conflict is recorded.
        contact("c", email="ann@example.org", phone=phone(1)),
        # New people made in this batch, then an event naming both of them.
        contact("d", email="cat@example.org"),
        contact("e", phone=phone(2)),
        contact("f", email="CAT@example.org", phone=phone(2)),
        # The source's customer id wins over the email, once the id is known.
        contact("g", source_id="CRM-1", email="dan@example.org"),
        contact("h", source_id="CRM-1", email="ann@example.org"),
    ]
    outcomes = await report_many(batching, db, events)
    assert all(isinstance(o, IntakeResult) and not o.duplicate for o in outcomes)
    subjects_of = {c.id: c.subject_id for c in await db.all(Contact)}
    subject = [subjects_of[o.accepted.contact_id] for o in outcomes]
    assert await db.count(DataSubject) == 5  # ann, the phone's owner, cat, the new phone's owner, dan
    conflicts = {(c.matched_on, c.conflicting_field) for c in await db.all(SubjectConflict)}
    assert conflicts == {("email", "phone"), ("external_id", "email")}
    assert len(await db.all(SubjectConflict)) == 3
    assert subject[3] == subject[1] != subject[2]
    assert subject[5] == subject[4] != subject[0]
    # Identifiers that belong to someone else never move.
    indexes = await db.all(SubjectIndex)
    assert len(indexes) == len({(i.field, i.key_version, i.digest) for i in indexes}) == 6


async def test_a_batch_honours_stored_opt_outs_and_the_cap_for_known_people(
    settings: Settings, batching: ContactIntake, db: TestDatabase
) -> None:
    await report_now(batching, db, contact("q-1", email="quiet@example.org", opted_out=True))
    first = await report_now(batching, db, contact("k-1", email="known@example.org"))
    assert first.accepted.decision.reason == "invited"
    events = [contact(f"q-{n}", email="quiet@example.org") for n in range(2, 4)]
    events += [contact(f"k-{n}", email="known@example.org") for n in range(2, 5)]
    outcomes = await report_many(batching, db, events)
    reasons = [o.accepted.decision.reason for o in outcomes]
    assert reasons == ["opted_out", "opted_out", "invited", "frequency_cap", "frequency_cap"]
    assert await db.count(Invitation) == CAP
    assert await db.count(DataSubject) == 2


async def test_an_erased_person_gets_no_new_key_and_is_not_linked_again(
    batching: ContactIntake, db: TestDatabase
) -> None:
    await report_now(batching, db, contact("x-1", email="gone@example.org"))
    [before] = await db.all(DataSubject)
    async with db.sessions() as session, session.begin():
        await session.execute(delete(DataKey).where(DataKey.subject_id == before.id))
    [outcome] = await report_many(batching, db, [contact("x-2", email="gone@example.org", name="New Name")])
    assert isinstance(outcome, IntakeResult)
    assert outcome.accepted.decision.reason == "no_contact_details"
    assert await db.count(DataKey) == 0
    [after] = [c for c in await db.all(Contact) if c.id == outcome.accepted.contact_id]
    assert after.subject_id is None
    [subject] = await db.all(DataSubject)
    assert (subject.identity_ciphertext, subject.last_contact_at) == (
        before.identity_ciphertext,
        before.last_contact_at,
    )
    with pytest.raises(KeyDestroyed):
        async with db.sessions() as session:
            await batching.vault.encrypt(session, subject.id, "answer.text", subject.id, "text")
    assert await db.count(DataKey) == 0
