"""Retention: a dry-run report first, then anonymisation in bounded batches that keeps the reports' facts, people
shredded after their last contact, period keys destroyed, legal holds respected, every run audited."""

from __future__ import annotations

import json
import time
import uuid
from datetime import timedelta
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select, update

from civicvoice.cli import cli
from civicvoice.core.audit import Actor, AuditEvent
from civicvoice.core.clock import utcnow
from civicvoice.core.db import unit_of_work
from civicvoice.core.errors import ConfigurationError, InvalidInput
from civicvoice.core.services import Services
from civicvoice.core.settings import Settings
from privacy.holds import LegalHold, LegalHoldSource
from privacy.keys import load_keyring
from privacy.models import DataKey, DataSubject
from privacy.retention import report, run, run_batch, set_retention_months
from privacy.vault import Vault
from surveys.models import Answer, Contact, Invitation, InvitationDecision, Response
from tests.integration.support import TestDatabase
from tests.integration.test_erasure import answered, comments_of, facts
from tests.integration.test_keys_and_cli import env_for

__all__ = ["answered"]  # the fixture, shared with the erasure tests

OLD = timedelta(days=800)  # past the 24-month default


async def age(db: TestDatabase, subject_id: uuid.UUID, by: timedelta = OLD) -> None:
    """Make everything of one person old, as if it had happened ``by`` ago."""
    async with unit_of_work(db.sessions) as session:
        then = utcnow() - by
        await session.execute(update(Response).where(Response.subject_id == subject_id).values(submitted_at=then))
        await session.execute(update(Contact).where(Contact.subject_id == subject_id).values(occurred_at=then))
        await session.execute(update(Invitation).where(Invitation.subject_id == subject_id).values(created_at=then))
        await session.execute(
            update(InvitationDecision).where(InvitationDecision.subject_id == subject_id).values(decided_at=then)
        )
        await session.execute(
            update(DataSubject).where(DataSubject.id == subject_id).values(last_contact_at=then, created_at=then)
        )


def due(rows: list[Any]) -> dict[str, int]:
    return {row.table: row.due for row in rows if row.due}


async def test_the_dry_run_reports_and_changes_nothing_then_the_run_anonymises(
    answered: tuple[Services, list[uuid.UUID]], db: TestDatabase, settings: Settings
) -> None:
    services, (old, recent, _) = answered
    await age(db, old)
    before = await facts(db)
    async with db.sessions() as session:
        dry = await report(session, [])
    assert due(dry) == {"contact": 1, "data_subject": 1, "invitation": 1, "invitation_decision": 1, "response": 1}
    vault = services.get(Vault)
    assert len(await comments_of(db, vault, old)) == 2  # the dry run changed nothing

    result = await run(db.sessions, settings, [], actor=Actor.cli())
    assert result.finished and result.counts["response"] == 1 and result.counts["answer"] >= 2
    assert result.counts["data_subject"] == 1
    async with db.sessions() as session:
        # The person and their words are gone; the response keeps its closed answers and scores.
        assert await session.scalar(select(func.count()).where(Response.subject_id == old)) == 0
        texts = (await session.scalars(select(Answer.text_ciphertext).where(Answer.text_ciphertext.is_not(None)))).all()
        assert len(texts) == 4  # the two recent people's comments
        key = await session.scalar(select(DataKey).where(DataKey.subject_id == old))
        assert key is not None and key.wrapped is None
        event = await session.scalar(select(AuditEvent).where(AuditEvent.action == "privacy.retention_run"))
        assert event is not None and event.detail["counts"]["response"] == 1
    assert await facts(db) == before
    assert len(await comments_of(db, vault, recent)) == 2
    async with db.sessions() as session:
        assert due(await report(session, [])) == {}  # nothing left to do; a second run is a no-op
    again = await run(db.sessions, settings, [], actor=Actor.cli())
    assert again.counts == {}


async def test_a_legal_hold_keeps_a_persons_rows(
    answered: tuple[Services, list[uuid.UUID]], db: TestDatabase, settings: Settings
) -> None:
    services, (old, other, _) = answered
    await age(db, old)
    await age(db, other)

    async def on_person(_session: Any, subject_id: uuid.UUID) -> list[LegalHold]:
        return [LegalHold("litigation", "a claim in the county court")] if subject_id == old else []

    async def everyone(_session: Any) -> set[uuid.UUID]:
        return {old}

    litigation = LegalHoldSource("litigation hold", on_person, everyone)
    async with db.sessions() as session:
        rows = {row.table: row for row in await report(session, [litigation])}
    assert rows["response"].due == 1 and rows["response"].held == 1
    assert rows["response"].held_by == {"litigation hold": 1}
    await run(db.sessions, settings, [litigation], actor=Actor.cli())
    vault = services.get(Vault)
    assert len(await comments_of(db, vault, old)) == 2
    async with db.sessions() as session:
        assert await session.scalar(select(func.count()).where(Response.subject_id == other)) == 0


async def test_runs_in_bounded_batches(
    answered: tuple[Services, list[uuid.UUID]], db: TestDatabase, settings: Settings
) -> None:
    _, people = answered
    for person in people:
        await age(db, person)
    async with unit_of_work(db.sessions) as session:
        first = await run_batch(session, settings, [], batch=2)
    assert not first.finished and first.counts["response"] == 2
    result = await run(db.sessions, settings, [], actor=Actor.cli(), batch=2)
    assert result.finished and result.counts["response"] == 1


@pytest.mark.parametrize(("duty", "factor"), [(0.25, 3.0), (0.5, 1.0), (1.0, 0.0)])
async def test_a_run_pauses_between_batches_as_its_duty_says(
    answered: tuple[Services, list[uuid.UUID]], db: TestDatabase, settings: Settings, duty: float, factor: float
) -> None:
    """Retention gives way to the service: after each batch but the last it pauses for (1 - duty) / duty of the
    time that batch took, so it works at most ``duty`` of the time."""
    _, people = answered
    for person in people:
        await age(db, person)
    pauses: list[float] = []

    async def pause(seconds: float) -> None:
        pauses.append(seconds)

    started = time.monotonic()
    result = await run(
        db.sessions, settings.with_changes(retention_duty=duty), [], actor=Actor.cli(), batch=1, pause=pause
    )
    took = time.monotonic() - started
    assert result.finished and result.counts["response"] == 3
    assert len(pauses) == 3  # three batches took a response each; the fourth found none left and ended the run
    if factor:
        assert all(p > 0 for p in pauses)
        # the pauses are (1 - duty) / duty of the batches' time, which is within the run's own time
        assert sum(pauses) <= factor * took
    else:
        assert pauses == [0.0, 0.0, 0.0]


def test_the_duty_is_a_setting_with_bounds() -> None:
    assert Settings().retention_duty == 0.25
    assert Settings.from_env({"CIVICVOICE_RETENTION_DUTY": "1"}).retention_duty == 1.0
    assert Settings.from_env({"CIVICVOICE_RETENTION_DUTY": "0.1"}).retention_duty == 0.1
    for wrong in ("0", "1.5", "half", "-0.2"):
        with pytest.raises(ConfigurationError, match="CIVICVOICE_RETENTION_DUTY"):
            Settings.from_env({"CIVICVOICE_RETENTION_DUTY": wrong})


async def test_a_batch_takes_the_oldest_due_rows_first(
    answered: tuple[Services, list[uuid.UUID]], db: TestDatabase, settings: Settings
) -> None:
    """Oldest first, through the partial indexes of rows that still name a person (migration 0038)."""
    _, (a, b, c) = answered
    await age(db, a, OLD + timedelta(days=30))
    await age(db, b, OLD + timedelta(days=60))  # the oldest
    await age(db, c, OLD)
    async with unit_of_work(db.sessions) as session:  # each person was in touch lately: none is shredded
        await session.execute(update(DataSubject).values(last_contact_at=utcnow()))
    async with unit_of_work(db.sessions) as session:
        step = await run_batch(session, settings, [], batch=1)
    assert not step.finished
    async with db.sessions() as session:
        linked = set((await session.scalars(select(Response.subject_id).where(Response.subject_id.is_not(None)))).all())
        assert linked == {a, c}
        for model in (Contact, Invitation, InvitationDecision):
            people = select(model.subject_id).where(model.subject_id.is_not(None))  # type: ignore[attr-defined]
            assert set((await session.scalars(people)).all()) == {a, c}, model


async def test_a_run_reads_the_holds_and_months_once_for_all_its_batches(
    answered: tuple[Services, list[uuid.UUID]], db: TestDatabase, settings: Settings
) -> None:
    _, people = answered
    for person in people:
        await age(db, person)
    asked: list[str] = []

    async def on_person(_session: Any, _subject_id: uuid.UUID) -> list[LegalHold]:
        return []

    async def everyone(_session: Any) -> set[uuid.UUID]:
        asked.append("held_people")
        return {people[0]}

    result = await run(
        db.sessions, settings, [LegalHoldSource("litigation", on_person, everyone)], actor=Actor.cli(), batch=1
    )
    assert result.finished and result.counts["response"] == 2  # the held person's response is kept
    assert asked == ["held_people"]  # three batches or more, one question to the hold source


async def test_period_keys_are_destroyed_after_the_period(db: TestDatabase, settings: Settings) -> None:
    async with unit_of_work(db.sessions) as session:
        vault = Vault(load_keyring(settings))
        old_month = (utcnow() - OLD).strftime("%Y-%m")
        this_month = utcnow().strftime("%Y-%m")
        for period in (old_month, this_month, "A-2015", f"A-{utcnow().year}"):
            await vault.encrypt_for_period(session, period, "answer.text", uuid.uuid4(), "anonymous words")
    result = await run(db.sessions, settings, [], actor=Actor.cli())
    assert result.keys_destroyed == 2
    async with db.sessions() as session:
        alive = set((await session.scalars(select(DataKey.period).where(DataKey.wrapped.is_not(None)))).all())
    assert alive == {this_month, f"A-{utcnow().year}"}


async def test_the_dpo_sets_the_periods(db: TestDatabase) -> None:
    async with unit_of_work(db.sessions) as session:
        await set_retention_months(session, "responses", 36, actor=Actor.cli())
        rows = {row.table: row for row in await report(session, [])}
    assert rows["response"].months == 36 and rows["contact"].months == 24
    with pytest.raises(InvalidInput, match="Unknown retention class"):
        async with unit_of_work(db.sessions) as session:
            await set_retention_months(session, "everything", 12, actor=Actor.cli())
    with pytest.raises(InvalidInput, match="1 to 1200"):
        async with unit_of_work(db.sessions) as session:
            await set_retention_months(session, "responses", 0, actor=Actor.cli())


def test_the_dry_run_command(settings: Settings) -> None:
    result = CliRunner().invoke(
        cli, ["privacy", "retention", "--dry-run", "--json"], env=env_for(settings), catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    classes = {row["table"]: row for row in document["classes"]}
    assert document["dry_run"] and classes["response"]["months"] == 24 and classes["response"]["action"] == "anonymise"
    assert classes["data_subject"]["action"] == "shred" and classes["audit_event"]["action"] == "delete"
    run_now = CliRunner().invoke(cli, ["privacy", "retention", "--json"], env=env_for(settings), catch_exceptions=False)
    assert run_now.exit_code == 0 and json.loads(run_now.output)["dry_run"] is False
