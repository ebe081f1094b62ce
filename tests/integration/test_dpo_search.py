"""The DPO's search: a name index written at intake, the search following every data-map link, staff found as data
subjects, mentions found by a background scan, legal holds added and released, and the blind-index key rotated
while search keeps working."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pytest
from click.testing import CliRunner
from sqlalchemy import func, select, update

from civicvoice.app import build_services, features, job_registry
from civicvoice.cli import cli
from civicvoice.core.audit import Actor, AuditEvent, record
from civicvoice.core.auth import StaffUser
from civicvoice.core.db import unit_of_work
from civicvoice.core.jobs import Job, Worker
from civicvoice.core.services import Services
from civicvoice.core.settings import Settings
from feedback.quality import evaluate
from privacy.access import gather
from privacy.erasure import ErasureBlocked, erase
from privacy.holds import DPO_HOLDS, LegalHold, LegalHoldSource, add_hold, holds_of, release_hold
from privacy.index_rotation import IndexRotation, advance_index_rotation, index_status, reindex_batch
from privacy.key_rotation import KeyringWatcher
from privacy.keyring import Keyring
from privacy.keys import load_keyring
from privacy.mentions import MentionHit, MentionScan, Needles, scan_batch, start_scan
from privacy.models import KeyCheck, SubjectIndex, SubjectNameIndex
from privacy.search import Query, find_subjects, gather_staff
from privacy.vault import IdentityClaim, Vault
from surveys.intake import ContactIntake
from surveys.models import Contact
from surveys.responses import GroupedResponses, ResponseRecorder
from surveys.schemas import ContactEvent
from tests.integration.support import TestDatabase
from tests.integration.test_intake_batch import POLICY
from tests.integration.test_key_rotation import file_settings
from tests.integration.test_keys_and_cli import env_for
from tests.integration.test_response_batch import answers, submit
from tests.integration.test_staff_login import make_user

__all__ = ["file_settings"]  # the fixture, shared with the KEK rotation tests

DPO_EMAIL = "dpo@council.gov.uk"


def event(ref: str, *, agent: str | None = None, **customer: object) -> ContactEvent:
    body: dict[str, Any] = {
        "source": "telephony",
        "external_id": ref,
        "channel": "phone",
        "service": "council-tax",
        "occurred_at": (datetime.now(UTC) - timedelta(minutes=1)).isoformat(),
    }
    if agent:
        body["agent_id"] = agent
    if customer:
        body["customer"] = customer
    return msgspec.convert(body, ContactEvent)


@pytest.fixture
async def world(settings: Settings, db: TestDatabase) -> Services:
    await db.load_catalogue(POLICY)
    return await build_services(settings, db.sessions, features())


async def report(services: Services, db: TestDatabase, ref: str, **kw: Any) -> tuple[uuid.UUID, uuid.UUID | None]:
    """Report one contact; returns the person's id and the invitation's."""
    async with db.sessions() as session:
        result = await services.get(ContactIntake).report(session, event(ref, **kw))
    async with db.sessions() as session:
        subject_id = await session.scalar(select(Contact.subject_id).where(Contact.id == result.accepted.contact_id))
    assert subject_id is not None
    return subject_id, result.accepted.invitation_id


async def answer(services: Services, db: TestDatabase, invitation: uuid.UUID | None, comment: str) -> None:
    assert invitation is not None
    writer = GroupedResponses(services.get(ResponseRecorder), db.sessions)
    try:
        assert isinstance(await submit(writer, db, invitation, answers(1, improve=comment, praise="")), uuid.UUID)
    finally:
        await writer.aclose()


# --- the name index ---------------------------------------------------------------------------------------------


async def test_a_name_finds_the_person_however_it_is_typed(
    world: Services, db: TestDatabase, settings: Settings
) -> None:
    vault = world.get(Vault)
    jose, _ = await report(world, db, "n-1", email="jose@example.org", name="José  O'Brien")
    other, _ = await report(world, db, "n-2", email="other.jose@example.org", name="JOSE O\u2019BRIEN")
    await report(world, db, "n-3", email="someone@example.org", name="José O'Brien-Smith")
    async with db.sessions() as session:
        for typed in ("jose o'brien", "  JOSÉ\tO\u2019Brien ", "Jose\u00a0O'Brien", "\uff2a\uff2f\uff33\uff25 O'BRIEN"):
            assert await find_subjects(session, vault, Query.parse("name", typed)) == sorted([jose, other])
        assert await find_subjects(session, vault, Query.parse("name", "Jose")) == []
        # Nothing readable is stored: only keyed hashes, one per person.
        rows = (await session.scalars(select(SubjectNameIndex).where(SubjectNameIndex.subject_id == jose))).all()
        assert len(rows) == 1 and b"jose" not in rows[0].digest
    # A later contact with a new name re-indexes the person: the old name no longer finds them.
    await report(world, db, "n-4", email="jose@example.org", name="José Murphy")
    async with db.sessions() as session:
        assert await find_subjects(session, vault, Query.parse("name", "jose o'brien")) == [other]
        assert await find_subjects(session, vault, Query.parse("name", "José Murphy")) == [jose]
    # A rectified name goes through the same writer (what rectification calls).
    async with unit_of_work(db.sessions) as session:
        await vault.index_name(session, other, "Josie Brown")
    async with db.sessions() as session:
        assert await find_subjects(session, vault, Query.parse("name", "josie brown")) == [other]
        assert await find_subjects(session, vault, Query.parse("name", "jose o'brien")) == []
    # Erasure takes the name index with the rest.
    async with unit_of_work(db.sessions) as session:
        await erase(session, settings, jose, actor=Actor.cli(), holds=[])
    async with db.sessions() as session:
        assert await find_subjects(session, vault, Query.parse("name", "José Murphy")) == []
        assert await session.scalar(select(func.count()).where(SubjectNameIndex.subject_id == jose)) == 0


def test_find_by_name_lists_everyone_who_shares_it(settings: Settings) -> None:
    runner, env = CliRunner(), env_for(settings)
    assert (
        runner.invoke(
            cli, ["user", "create", "--email", DPO_EMAIL, "--role", "dpo", "--password", "a long password 1"], env=env
        ).exit_code
        == 0
    )

    async def people() -> list[uuid.UUID]:
        database = TestDatabase(settings)
        try:
            vault = Vault(load_keyring(settings))
            async with unit_of_work(database.sessions) as session:
                found = [
                    (
                        await vault.resolve(session, IdentityClaim(email=f"sam{n}@example.org", name="Sam Lee"))
                    ).subject_id
                    for n in range(2)
                ]
                found.append(
                    (await vault.resolve(session, IdentityClaim(email="ann@example.org", name="Ann Ng"))).subject_id
                )
                return found
        finally:
            await database.close()

    sam1, sam2, ann = asyncio.run(people())
    both = runner.invoke(
        cli, ["privacy", "find", "--name", "-", "--as", DPO_EMAIL, "--json"], input="sam  LEE\n", env=env
    )
    assert both.exit_code == 2, both.output
    candidates = json.loads(both.output)["candidates"]
    assert {c["id"] for c in candidates} == {str(sam1), str(sam2)}
    assert {e for c in candidates for e in c["emails"]} == {"sam0@example.org", "sam1@example.org"}
    one = runner.invoke(cli, ["privacy", "find", "--name", "ann ng", "--as", DPO_EMAIL, "--json"], env=env)
    assert one.exit_code == 0, one.output
    assert json.loads(one.output)["person"]["id"] == str(ann)
    chosen = runner.invoke(cli, ["privacy", "find", "--subject", str(sam2), "--as", DPO_EMAIL, "--json"], env=env)
    assert chosen.exit_code == 0 and json.loads(chosen.output)["person"]["emails"] == ["sam1@example.org"]
    nobody = runner.invoke(cli, ["privacy", "find", "--name", "Nobody Here", "--as", DPO_EMAIL], env=env)
    assert nobody.exit_code == 1 and "No person matches" in nobody.output
    blank = runner.invoke(cli, ["privacy", "find", "--name", "   ", "--as", DPO_EMAIL], env=env)
    assert blank.exit_code != 0 and "Enter" in blank.output


# --- following every link ---------------------------------------------------------------------------------------


async def test_the_search_follows_links_into_tables_without_a_subject_column(world: Services, db: TestDatabase) -> None:
    """An answer has no person column (it is reached through its response), and an identity conflict names the
    second person in `other_subject_id`: the search finds both from the person."""
    vault = world.get(Vault)
    first, invitation = await report(world, db, "l-1", email="first@example.org")
    second, _ = await report(world, db, "l-2", phone="07911123456")
    await answer(world, db, invitation, "The advisor was quick.")
    # One event whose email is the first person's and phone the second's: recorded as a conflict, never merged.
    await report(world, db, "l-3", email="first@example.org", phone="07911123456")
    async with db.sessions() as session:
        of_second = {s.table: s for s in (await gather(session, vault, second)).sections}
        of_first = {s.table: s for s in (await gather(session, vault, first)).sections}
    assert len(of_second["subject_conflict"].rows) == 1  # reached through other_subject_id
    assert of_second["subject_conflict"].rows[0]["chosen_subject_id"] == first
    assert [r["text"] for r in of_first["answer"].rows if r.get("text")] == ["The advisor was quick."]


# --- staff are data subjects too --------------------------------------------------------------------------------


async def test_a_staff_member_is_found_with_their_contacts_evaluations_and_audit_entries(
    world: Services, db: TestDatabase, settings: Settings
) -> None:
    agent = await make_user(db, "agent", email="agent@council.gov.uk", agent_ref="A7")
    reviewer = await make_user(db, "quality_reviewer", email="reviewer@council.gov.uk")
    await report(world, db, "s-1", agent="A7", email="c1@example.org")
    await report(world, db, "s-2", agent="A7", email="c2@example.org")
    await report(world, db, "s-3", agent="B9", email="c3@example.org")
    async with unit_of_work(db.sessions) as session:
        handled = (await session.scalars(select(Contact.id).where(Contact.agent_ref == "A7"))).all()
        await evaluate(
            session,
            handled[0],
            {"greeting": 4, "accuracy": 3, "resolution": 3, "courtesy": 4, "data_protection": 4},
            reviewer_id=str(reviewer.id),
            actor=Actor("staff", str(reviewer.id)),
        )
        record(session, Actor("staff", str(agent.id)), "staff.sign_in")
    async with db.sessions() as session:
        user = await session.get(StaffUser, agent.id)
        assert user is not None
        found = await gather_staff(session, user)
        of_reviewer = await gather_staff(session, reviewer)
    tables = {s.table: s for s in found.sections}
    assert len(tables["contact"].rows) == 2 and {r["agent_ref"] for r in tables["contact"].rows} == {"A7"}
    assert len(tables["contact_evaluation"].rows) == 1  # as the agent evaluated
    assert any(r["action"] == "staff.sign_in" for r in tables["audit_event"].rows)
    assert found.identity["email"] == "agent@council.gov.uk"
    reviewer_tables = {s.table: s for s in of_reviewer.sections}
    assert len(reviewer_tables["contact_evaluation"].rows) == 1  # as the reviewer
    assert "contact" not in reviewer_tables  # a reviewer is not the agent of the contact
    document = json.dumps(found.as_json(), default=str)
    assert "password" not in document and "argon2" not in document

    runner = CliRunner()
    env = env_for(settings)
    await make_user(db, "dpo", email=DPO_EMAIL)
    result = await asyncio.to_thread(
        runner.invoke,
        cli,
        ["privacy", "find", "--staff", "-", "--as", DPO_EMAIL, "--json"],
        input="Agent@Council.gov.uk\n",
        env=env,
    )
    assert result.exit_code == 0, result.output
    printed = json.loads(result.output)
    assert printed["staff"]["id"] == str(agent.id) and len(printed["records"]["contact"]) == 2
    async with db.sessions() as session:
        audited = await session.scalar(
            select(func.count()).where(AuditEvent.action == "privacy.find", AuditEvent.target_id == str(agent.id))
        )
    assert audited == 1


# --- mentions ---------------------------------------------------------------------------------------------------


def test_what_counts_as_a_mention() -> None:
    from privacy.mentions import mentions

    needles = Needles.of(["Priya Shah"], ["priya@example.org"], ["07912 345678"])
    assert mentions("priya  SHAH at the desk was kind", needles) == ["name"]
    assert mentions("Ask Priya Shahid", needles) == []  # whole words only
    assert mentions("write to PRIYA@Example.org.", needles) == ["email"]
    assert mentions("ring +44 7912 345678 or 07912345678", needles) == ["phone"]
    assert mentions("Priyá Sháh, priya@example.org", needles) == ["name", "email"]
    assert mentions("nothing here", needles) == []
    assert Needles.of([None], ["not an email"], ["12"]).empty


async def test_a_background_scan_flags_comments_by_others_that_mention_the_person(
    world: Services, db: TestDatabase, settings: Settings
) -> None:
    vault = world.get(Vault)
    priya, own = await report(world, db, "m-1", email="priya@example.org", phone="07912345678", name="Priya Shah")
    _, by_name = await report(world, db, "m-2", email="w1@example.org")
    _, by_phone = await report(world, db, "m-3", email="w2@example.org")
    _, unrelated = await report(world, db, "m-4", email="w3@example.org")
    await answer(world, db, own, "I, Priya Shah, waited an hour.")  # her own words: not a mention by others
    await answer(world, db, by_name, "priya shah on reception sorted it")
    await answer(world, db, by_phone, "they kept calling 07912 345678 by mistake")
    await answer(world, db, unrelated, "All fine.")
    async with unit_of_work(db.sessions) as session:
        scan = await start_scan(session, actor=Actor.cli(), subject_id=priya)
        job = await session.scalar(select(Job).where(Job.name == "privacy.mention_scan"))
        assert job is not None and job.payload == {"scan_id": str(scan.id)}  # ids only
    # A crash after one bounded batch loses nothing: the cursor was committed with it.
    async with unit_of_work(db.sessions) as session:
        first = await scan_batch(session, vault, scan.id, batch=2)
    assert not first.done and first.scanned == 2
    worker = Worker(job_registry(features()), db.sessions, world)
    while await worker.run_due():
        pass
    async with db.sessions() as session:
        done = await session.get(MentionScan, scan.id)
        assert done is not None and done.state == "done" and done.finished_at is not None
        hits = (await session.scalars(select(MentionHit).where(MentionHit.scan_id == scan.id))).all()
        reported = await session.scalar(select(AuditEvent).where(AuditEvent.action == "privacy.mentions.done"))
    assert sorted(h.matched for h in hits) == ["name", "phone"] and done.flagged == 2
    assert reported is not None and reported.detail["flagged"] == 2
    with pytest.raises(Exception, match="one person"):
        async with unit_of_work(db.sessions) as session:
            await start_scan(session, actor=Actor.cli())


# --- legal holds ------------------------------------------------------------------------------------------------


async def test_the_dpo_holds_and_releases_a_persons_records(
    world: Services, db: TestDatabase, settings: Settings
) -> None:
    vault = world.get(Vault)
    person, _ = await report(world, db, "h-1", email="held@example.org")

    async def on_person(_session: Any, subject_id: uuid.UUID) -> list[LegalHold]:
        return (
            [LegalHold("open_complaint", "an open complaint case (CC-0001)", "complaint_case")]
            if subject_id == person
            else []
        )

    async def everyone(_session: Any) -> set[uuid.UUID]:
        return {person}

    cases = LegalHoldSource("open complaint cases", on_person, everyone)
    async with unit_of_work(db.sessions) as session:
        hold = await add_hold(
            session, person, kind="litigation", reason="Claim K12 in the county court", actor=Actor.cli()
        )
    async with db.sessions() as session:
        views = await holds_of(session, person, [DPO_HOLDS, cases])
    assert [(v.source, v.releasable) for v in views] == [(DPO_HOLDS.name, True), ("open complaint cases", False)]
    with pytest.raises(ErasureBlocked, match="Claim K12"):
        async with unit_of_work(db.sessions) as session:
            await erase(session, settings, person, actor=Actor.cli(), holds=[DPO_HOLDS])
    async with unit_of_work(db.sessions) as session:
        await release_hold(session, vault, hold.id, reason="Claim settled", actor=Actor.cli())
    with pytest.raises(Exception, match="was released on"):
        async with unit_of_work(db.sessions) as session:
            await release_hold(session, vault, hold.id, reason="again", actor=Actor.cli())
    async with unit_of_work(db.sessions) as session:
        assert (await erase(session, settings, person, actor=Actor.cli(), holds=[DPO_HOLDS])).erased
        events = (
            await session.scalars(select(AuditEvent.action).where(AuditEvent.action.like("privacy.hold.%")))
        ).all()
        release = await session.scalar(select(AuditEvent).where(AuditEvent.action == "privacy.hold.release"))
    assert sorted(events) == ["privacy.hold.add", "privacy.hold.release"]
    assert release is not None and release.reason_ciphertext is not None and b"settled" not in release.reason_ciphertext


def test_the_holds_commands(settings: Settings) -> None:
    runner, env = CliRunner(), env_for(settings)
    assert (
        runner.invoke(
            cli, ["user", "create", "--email", DPO_EMAIL, "--role", "dpo", "--password", "a long password 1"], env=env
        ).exit_code
        == 0
    )

    async def person() -> uuid.UUID:
        database = TestDatabase(settings)
        try:
            vault = Vault(load_keyring(settings))
            async with unit_of_work(database.sessions) as session:
                return (await vault.resolve(session, IdentityClaim(email="kept@example.org"))).subject_id
        finally:
            await database.close()

    subject_id = asyncio.run(person())
    add = ["privacy", "holds", "add", "--email", "-", "--kind", "litigation", "--reason", "Claim K7", "--as", DPO_EMAIL]
    added = runner.invoke(cli, [*add, "--json"], input="KEPT@example.org\n", env=env)
    assert added.exit_code == 0, added.output
    hold_id = json.loads(added.output)["hold_id"]
    listed = runner.invoke(cli, ["privacy", "holds", "list", "--json"], env=env)
    assert listed.exit_code == 0, listed.output
    holds = json.loads(listed.output)["holds"]
    assert [(h["hold_id"], h["subject_id"], h["reason"], h["releasable"]) for h in holds] == [
        (hold_id, str(subject_id), "Claim K7", True)
    ]
    one = runner.invoke(cli, ["privacy", "holds", "list", "--subject", str(subject_id)], env=env)
    assert "Claim K7" in one.output
    erased = runner.invoke(
        cli, ["privacy", "erase", "--subject", str(subject_id), "--reason", "asked", "--as", DPO_EMAIL], env=env
    )
    assert erased.exit_code == 1 and "Claim K7" in erased.output
    bad_kind = runner.invoke(cli, [*add[:6], "--kind", "whim", *add[8:]], input="kept@example.org\n", env=env)
    assert bad_kind.exit_code == 2
    no_reason = runner.invoke(
        cli, ["privacy", "holds", "release", hold_id, "--reason", "  ", "--as", DPO_EMAIL], env=env
    )
    assert no_reason.exit_code == 1 and "reason" in no_reason.output
    released = runner.invoke(
        cli,
        ["privacy", "holds", "release", hold_id, "--reason", "-", "--as", DPO_EMAIL, "--json"],
        input="Settled\n",
        env=env,
    )
    assert released.exit_code == 0, released.output
    assert json.loads(runner.invoke(cli, ["privacy", "holds", "list", "--json"], env=env).output)["holds"] == []
    unknown = runner.invoke(
        cli, ["privacy", "holds", "release", str(uuid.uuid4()), "--reason", "x", "--as", DPO_EMAIL], env=env
    )
    assert unknown.exit_code == 1 and "No legal hold" in unknown.output


# --- rotating the blind-index key -------------------------------------------------------------------------------


async def test_the_index_key_rotates_while_search_keeps_working(
    world: Services, db: TestDatabase, file_settings: Settings
) -> None:
    settings = file_settings
    vault = world.get(Vault)
    people = {}
    for n in range(5):
        people[n], _ = await report(world, db, f"r-{n}", email=f"r{n}@example.org", name=f"Rota Person{n}")

    async def findable(n: int) -> None:
        async with db.sessions() as session:
            assert await find_subjects(session, vault, Query.parse("email", f"r{n}@example.org")) == [people[n]]
            assert await find_subjects(session, vault, Query.parse("name", f"rota person{n}")) == [people[n]]

    def reload() -> Keyring:
        keyring = Keyring.load(key_file=settings.key_file, env_value=None)
        assert keyring is not None
        vault.use_keyring(keyring)
        return keyring

    # A running process: it reloads the key file when it changes and reports the versions it holds.
    watcher = KeyringWatcher(settings, vault.keyring, on_reload=[vault.use_keyring])
    await watcher.heartbeat(db.sessions)
    async with unit_of_work(db.sessions) as session:
        step = await advance_index_rotation(session, settings, actor=Actor.cli())
    assert step.did == "added"
    async with unit_of_work(db.sessions) as session:
        step = await advance_index_rotation(session, settings, actor=Actor.cli())
    assert step.did == "waiting" and watcher.process in step.detail  # it has not loaded the new key yet
    assert watcher.reload_if_changed() and sorted(vault.keyring.index) == [1, 2] and vault.keyring.index_active == 1
    await watcher.heartbeat(db.sessions)
    await findable(0)
    async with unit_of_work(db.sessions) as session:
        step = await advance_index_rotation(session, settings, actor=Actor.cli())
        rotation = await session.scalar(select(IndexRotation))
        assert rotation is not None
    assert step.did == "activated"
    assert watcher.reload_if_changed() and vault.keyring.index_active == 2  # activation alone is a change
    # New people are indexed under the new key at once; the others are found under the old key meanwhile.
    people[5], _ = await report(world, db, "r-5", email="r5@example.org", name="Rota Person5")
    for n in range(6):
        await findable(n)
    # Two bounded batches, then a "crash" (the job stops); the cursor is where it resumes.
    for _ in range(2):
        async with unit_of_work(db.sessions) as session:
            assert await reindex_batch(session, vault, rotation.id, batch=2) is False
        await findable(1)
    async with db.sessions() as session:
        status = await index_status(session, reload())
    assert status.stage == "reindexing" and status.reindexed == 4
    worker = Worker(job_registry(features()), db.sessions, world)
    while await worker.run_due():
        pass
    async with db.sessions() as session:
        status = await index_status(session, reload())
        versions = set((await session.scalars(select(SubjectIndex.key_version))).all())
        names = set((await session.scalars(select(SubjectNameIndex.key_version))).all())
        per_person = await session.scalar(
            select(func.count()).where(SubjectIndex.subject_id == people[0], SubjectIndex.field == "email")
        )
    assert versions == {2} and names == {2} and per_person == 1
    for n in range(6):
        await findable(n)
    # Contact references cannot be re-indexed: the old key stays until those contacts pass their retention.
    assert status.stage == "waiting-for-contacts" and status.contacts_under_old == 5
    async with unit_of_work(db.sessions) as session:
        step = await advance_index_rotation(session, settings, actor=Actor.cli())
    assert step.did == "waiting-for-contacts" and 1 in reload().index
    # A contact reported again under the old key is still recognised as the same contact.
    async with db.sessions() as session:
        again = await world.get(ContactIntake).report(session, event("r-0", email="r0@example.org"))
    assert again.accepted.duplicate
    async with unit_of_work(db.sessions) as session:
        await session.execute(
            update(Contact)
            .where(Contact.ref_key_version == 1)
            .values(occurred_at=datetime.now(UTC) - timedelta(days=800))
        )
        step = await advance_index_rotation(session, settings, actor=Actor.cli())
    assert step.did == "retired" and sorted(reload().index) == [2]
    async with db.sessions() as session:
        checks = set((await session.scalars(select(KeyCheck.purpose))).all())
        assert "index:1" not in checks and "index:2" in checks
        assert (await index_status(session, reload())).stage == "idle"
    for n in range(6):
        await findable(n)


def test_keys_rotate_index_from_the_command_line(file_settings: Settings) -> None:
    runner, env = CliRunner(), env_for(file_settings)
    added = runner.invoke(cli, ["keys", "rotate", "--index", "--json"], env=env)
    assert added.exit_code == 0, added.output
    assert json.loads(added.output)["step"] == "added"
    status = runner.invoke(cli, ["keys", "status", "--json"], env=env)
    assert status.exit_code == 0, status.output
    assert json.loads(status.output)["index_rotation"]["stage"] in ("ready-to-activate", "waiting-for-processes")
    activated = runner.invoke(cli, ["keys", "rotate", "--index", "--json"], env=env)
    assert json.loads(activated.output)["step"] == "activated" and json.loads(activated.output)["index_active"] == 2
    text = runner.invoke(cli, ["keys", "status"], env=env)
    assert "Index key rotation: reindexing" in text.output and "people re-indexed: 0 of 0" in text.output
    scheduled = runner.invoke(cli, ["keys", "rotate", "--index", "--scheduled"], env=env)
    assert scheduled.exit_code == 2


def test_find_with_mentions_starts_a_scan_and_reports_it_later(settings: Settings) -> None:
    runner, env = CliRunner(), env_for(settings)
    created = runner.invoke(
        cli, ["user", "create", "--email", DPO_EMAIL, "--role", "dpo", "--password", "a long password 1"], env=env
    )
    assert created.exit_code == 0

    async def person() -> uuid.UUID:
        database = TestDatabase(settings)
        try:
            # Built first, as the app starts: the key check values are recorded before any data exists.
            vault = (await build_services(settings, database.sessions, features())).get(Vault)
            async with unit_of_work(database.sessions) as session:
                return (
                    await vault.resolve(session, IdentityClaim(email="men@example.org", name="Men Tion"))
                ).subject_id
        finally:
            await database.close()

    subject_id = asyncio.run(person())
    args = ["privacy", "find", "--email", "-", "--as", DPO_EMAIL, "--json"]
    started = runner.invoke(cli, [*args, "--mentions"], input="men@example.org\n", env=env)
    assert started.exit_code == 0, started.output
    document = json.loads(started.output)
    assert document["person"]["id"] == str(subject_id)
    assert [m["state"] for m in document["mentions"]] == ["queued"]

    async def run_jobs() -> None:
        database = TestDatabase(settings)
        try:
            services = await build_services(settings, database.sessions, features())
            await Worker(job_registry(features()), database.sessions, services).run_due()
        finally:
            await database.close()

    asyncio.run(run_jobs())
    later = json.loads(runner.invoke(cli, args, input="men@example.org\n", env=env).output)
    assert [(m["state"], m["flagged"]) for m in later["mentions"]] == [("done", 0)]
    text = runner.invoke(cli, args[:-1], input="men@example.org\n", env=env)
    assert "Mentions scan" in text.output and "done, 0 comment(s)" in text.output
