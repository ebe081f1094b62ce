"""Erasure by crypto-shredding: the key goes, the comments become unreadable, the clear facts stay; holds block it;
a re-run is a no-op; a restored database is shredded again from the ledger kept outside it."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import delete, func, select, update

from civicvoice.app import build_services, features
from civicvoice.cli import cli
from civicvoice.core.audit import Actor, AuditEvent
from civicvoice.core.db import unit_of_work
from civicvoice.core.jobs import Job
from civicvoice.core.services import Services
from civicvoice.core.settings import Settings
from privacy.erasure import ErasureBlocked, ErasureLedger, erase, purge, read_ledger_file, reapply_erasures
from privacy.exceptions import KeyDestroyed
from privacy.holds import LegalHold, LegalHoldSource
from privacy.keys import load_keyring
from privacy.models import DataKey, DataSubject, SubjectIndex
from privacy.vault import IdentityClaim, Vault
from surveys.models import Answer, Contact, Response
from surveys.responses import GroupedResponses, ResponseRecorder, read_answer_text
from tests.integration.support import TestDatabase
from tests.integration.test_intake_batch import POLICY
from tests.integration.test_keys_and_cli import env_for
from tests.integration.test_response_batch import answers, invite, submit


@pytest.fixture
async def answered(settings: Settings, db: TestDatabase) -> AsyncIterator[tuple[Services, list[uuid.UUID]]]:
    """Three people who each answered a survey with comments; returns their person ids."""
    await db.load_catalogue(POLICY)
    services = await build_services(settings, db.sessions, features())
    writer = GroupedResponses(services.get(ResponseRecorder), db.sessions)
    try:
        invitations = await invite(services, db, 3, prefix="erase")
        for n, invitation in enumerate(invitations):
            assert isinstance(await submit(writer, db, invitation, answers(n)), uuid.UUID)
        async with db.sessions() as session:
            people = list((await session.scalars(select(Response.subject_id).order_by(Response.submitted_at))).all())
        yield services, [p for p in people if p is not None]
    finally:
        await writer.aclose()


async def comments_of(db: TestDatabase, vault: Vault, subject_id: uuid.UUID) -> list[str]:
    async with db.sessions() as session:
        texts = []
        for response in (await session.scalars(select(Response).where(Response.subject_id == subject_id))).all():
            for answer in (await session.scalars(select(Answer).where(Answer.response_id == response.id))).all():
                if answer.text_ciphertext is not None:
                    texts.append(await read_answer_text(session, vault, response, answer))
        return texts


async def facts(db: TestDatabase) -> list[tuple[Any, ...]]:
    """The clear facts the scorecard reads: they must not change when a person is erased."""
    async with db.sessions() as session:
        rows = await session.execute(
            select(Response.service_id, Response.channel, Response.satisfaction, Response.resolved).order_by(
                Response.satisfaction, Response.resolved
            )
        )
        return [tuple(row) for row in rows]


async def test_erasure_destroys_the_key_and_keeps_the_facts(
    answered: tuple[Services, list[uuid.UUID]], db: TestDatabase, settings: Settings
) -> None:
    services, (gone, kept, _) = answered
    vault = services.get(Vault)
    before = await facts(db)
    assert await comments_of(db, vault, gone)
    async with unit_of_work(db.sessions) as session:
        result = await erase(session, settings, gone, actor=Actor.cli(), holds=())
    assert result.erased
    # At once: no key, no identity, no blind index; the comment cannot be read by anyone.
    async with db.sessions() as session:
        key = await session.scalar(select(DataKey).where(DataKey.subject_id == gone))
        assert key is not None and key.wrapped is None and key.destroyed_at is not None
        person = await session.get(DataSubject, gone)
        assert person is not None and person.identity_ciphertext is None and person.erased_at is not None
        assert await session.scalar(select(func.count()).where(SubjectIndex.subject_id == gone)) == 0
        with pytest.raises(KeyDestroyed):
            await vault.decrypt(session, gone, "answer.text", uuid.uuid4(), b"x" * 40)
        assert not await vault.find(session, IdentityClaim(email="erase.0@example.org"))
        purge_jobs = (await session.scalars(select(Job).where(Job.name == "privacy.purge_erased"))).all()
    assert len(purge_jobs) == 1 and purge_jobs[0].payload == {"subject_id": str(gone)}
    # The ledger entry is outside the database too.
    assert (gone, result.erased_on) in read_ledger_file(settings)
    # The purge then drops ciphertext and links, leaving the clear facts exactly as they were.
    async with unit_of_work(db.sessions) as session:
        touched = await purge(session, gone)
    assert touched["answer"] >= 1 and touched["response"] == 1 and touched["contact"] == 1
    async with db.sessions() as session:
        assert await session.scalar(select(func.count()).where(Response.subject_id == gone)) == 0
        assert await session.scalar(select(func.count()).where(Contact.subject_id == gone)) == 0
        orphans = (await session.scalars(select(Answer).where(Answer.text_ciphertext.is_not(None)))).all()
        assert len(orphans) == 4  # the two other people's two comments each
        contact = await session.scalar(select(Contact).where(Contact.subject_id.is_(None)))
        assert contact is not None and (contact.occurred_at.hour, contact.occurred_at.minute) == (0, 0)
        ledger = await session.scalar(select(ErasureLedger).where(ErasureLedger.erased_subject_id == gone))
        assert ledger is not None and ledger.purged_at is not None
    assert await facts(db) == before
    assert len(await comments_of(db, vault, kept)) == 2  # nobody else is touched


async def test_a_rerun_is_a_no_op(
    answered: tuple[Services, list[uuid.UUID]], db: TestDatabase, settings: Settings
) -> None:
    _, (gone, _, _) = answered
    for expected in (True, False):
        async with unit_of_work(db.sessions) as session:
            assert (await erase(session, settings, gone, actor=Actor.cli(), holds=())).erased is expected
    assert len(read_ledger_file(settings)) == 1


async def test_a_legal_hold_blocks_erasure_with_its_reason(
    answered: tuple[Services, list[uuid.UUID]], db: TestDatabase, settings: Settings
) -> None:
    _, (held, _, _) = answered

    async def on_person(_session: Any, subject_id: uuid.UUID) -> list[LegalHold]:
        return [LegalHold("open_complaint", "an open complaint case (stage 1)")] if subject_id == held else []

    async def everyone(_session: Any) -> set[uuid.UUID]:
        return {held}

    open_case = LegalHoldSource("complaint cases", on_person, everyone)

    with pytest.raises(ErasureBlocked, match="open complaint case") as blocked:
        async with unit_of_work(db.sessions) as session:
            await erase(session, settings, held, actor=Actor.cli(), holds=[open_case])
    assert blocked.value.status == 409 and blocked.value.extra["holds"][0]["kind"] == "open_complaint"
    async with db.sessions() as session:
        key = await session.scalar(select(DataKey).where(DataKey.subject_id == held))
        assert key is not None and key.wrapped is not None
    assert read_ledger_file(settings) == []


async def test_a_restored_backup_is_shredded_again_from_the_ledger_file(
    answered: tuple[Services, list[uuid.UUID]], db: TestDatabase, settings: Settings
) -> None:
    services, (gone, _, _) = answered
    # What a backup taken before the erasure holds of this person: their key, identity and indexes.
    async with db.sessions() as session:
        key = await session.scalar(select(DataKey).where(DataKey.subject_id == gone))
        person = await session.get(DataSubject, gone)
        indexes = (await session.scalars(select(SubjectIndex).where(SubjectIndex.subject_id == gone))).all()
        assert key is not None and person is not None
        saved_key, saved_identity = (key.kek_version, key.wrapped), person.identity_ciphertext
        saved_indexes = [(i.field, i.key_version, i.digest) for i in indexes]
    async with unit_of_work(db.sessions) as session:
        await erase(session, settings, gone, actor=Actor.cli(), holds=())
    # The restore brings the key back and forgets the erasure; only the ledger file outside remembers it.
    async with unit_of_work(db.sessions) as session:
        await session.execute(
            update(DataKey)
            .where(DataKey.subject_id == gone)
            .values(kek_version=saved_key[0], wrapped=saved_key[1], destroyed_at=None)
        )
        await session.execute(
            update(DataSubject).where(DataSubject.id == gone).values(identity_ciphertext=saved_identity, erased_at=None)
        )
        for field, version, digest in saved_indexes:
            session.add(SubjectIndex(subject_id=gone, field=field, key_version=version, digest=digest))
        await session.execute(delete(ErasureLedger))
    vault = services.get(Vault)
    assert await comments_of(db, vault, gone)
    async with unit_of_work(db.sessions) as session:
        counts = await reapply_erasures(session, settings, actor=Actor.cli())
    assert counts == {"ledger": 1, "reapplied": 1}
    with pytest.raises(KeyDestroyed):
        await comments_of(db, vault, gone)
    async with db.sessions() as session:
        assert await session.scalar(select(func.count()).where(SubjectIndex.subject_id == gone)) == 0
        assert await session.scalar(select(func.count()).where(ErasureLedger.erased_subject_id == gone)) == 1
    async with unit_of_work(db.sessions) as session:
        assert (await reapply_erasures(session, settings, actor=Actor.cli()))["reapplied"] == 0


def test_the_erase_command_reads_the_email_from_standard_input(settings: Settings) -> None:
    runner = CliRunner()
    env = env_for(settings)
    created = runner.invoke(
        cli,
        ["user", "create", "--email", "dpo@council.example", "--role", "dpo", "--password", "a long password 1"],
        env=env,
        catch_exceptions=False,
    )
    assert created.exit_code == 0, created.output

    async def person() -> uuid.UUID:
        database = TestDatabase(settings)
        try:
            vault = Vault(load_keyring(settings))
            async with unit_of_work(database.sessions) as session:
                return (await vault.resolve(session, IdentityClaim(email="jo@example.org"))).subject_id
        finally:
            await database.close()

    subject_id = asyncio.run(person())
    args = ["privacy", "erase", "--email", "-", "--reason", "Asked by phone, ref 42", "--as", "dpo@council.example"]
    result = runner.invoke(cli, [*args, "--json"], input="Jo@Example.org\n", env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert f'"subject_id": "{subject_id}"' in result.output and '"erased": true' in result.output
    again = runner.invoke(cli, args, input="jo@example.org\n", env=env, catch_exceptions=False)
    assert again.exit_code != 0 and "No person matches" in again.output
    by_id = runner.invoke(
        cli, ["privacy", "erase", "--subject", str(subject_id), *args[4:]], env=env, catch_exceptions=False
    )
    assert by_id.exit_code == 0 and "already erased" in by_id.output
    unknown = runner.invoke(cli, [*args[:6], "--as", "nobody@council.example"], input="x@example.org\n", env=env)
    assert unknown.exit_code != 0 and "--as" in unknown.output
    neither = runner.invoke(cli, ["privacy", "erase", "--reason", "r", "--as", "dpo@council.example"], env=env)
    assert neither.exit_code == 2 and "exactly one of" in neither.output

    async def reason_is_encrypted() -> None:
        database = TestDatabase(settings)
        try:
            async with database.sessions() as session:
                event = await session.scalar(select(AuditEvent).where(AuditEvent.action == "privacy.erase.reason"))
                assert event is not None and event.reason_ciphertext is not None
                assert b"ref 42" not in event.reason_ciphertext and event.actor_kind == "staff"
        finally:
            await database.close()

    asyncio.run(reason_is_encrypted())
