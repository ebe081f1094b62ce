"""The DPO's long operations killed for real: an erasure (and its purge), a retention run and a key rotation (and
its re-wrap) run in a real process that is SIGKILLed at random points at least twenty times, then rerun to the end.

Afterwards the targets are gone (or their failure is recorded where an administrator sees it), every other row of
every table is byte-identical to a snapshot taken before, the audit chain seals and verifies, and the figures the
scorecard counts (responses per month, closed answers) are unchanged. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import collections
import json
import random
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import delete, select, update

from civicvoice.app import build_services, features
from civicvoice.cli import cli
from civicvoice.core.audit import AuditEvent
from civicvoice.core.clock import utcnow
from civicvoice.core.db import unit_of_work
from civicvoice.core.jobs import DEAD, Job
from civicvoice.core.services import Services
from civicvoice.core.settings import Settings
from civicvoice.models import Base
from privacy.audit_chain import publish_head, read_published_heads, seal_once, verify
from privacy.erasure import PURGE_JOB, ErasureLedger
from privacy.key_rotation import KekVersion
from privacy.keyring import Keyring
from privacy.keys import check_keys
from privacy.models import DataKey, DataSubject, SubjectIndex
from privacy.vault import Vault
from surveys.models import Answer, Response
from surveys.responses import GroupedResponses, ResponseRecorder, read_answer_text
from tests.integration.support import TestDatabase
from tests.integration.test_intake_batch import POLICY
from tests.integration.test_keys_and_cli import env_for
from tests.integration.test_response_batch import answers, invite, submit
from tests.integration.test_retention import OLD, age

KILLS = 20
OPERATOR = "dpo@council.example"

Row = dict[str, Any]
Snapshot = dict[str, dict[tuple[Any, ...], Row]]


# --- the processes --------------------------------------------------------------------------------------------


class Operations:
    """The fork server of privacy_forkserver, against the test's database and key file."""

    def __init__(self, settings: Settings, log: Path) -> None:
        with log.open("wb") as handle:
            self.server = subprocess.Popen(
                [sys.executable, "-m", "tests.integration.privacy_forkserver"],
                env=env_for(settings, CIVICVOICE_LOG_LEVEL="ERROR"),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=handle,
            )
        self.log = log

    def ask(self, request: dict[str, Any]) -> int:
        assert self.server.stdin is not None and self.server.stdout is not None
        self.server.stdin.write((json.dumps(request) + "\n").encode())
        self.server.stdin.flush()
        answer = self.server.stdout.readline()
        assert answer, f"the fork server stopped: {self.log.read_text()[-2000:]}"
        return int(answer)

    def run(self, operation: str, *, kill_at: int = 0, jitter: float = 0.0, **arguments: Any) -> int:
        pid = self.ask({"start": operation, "kill_at": kill_at, "jitter": jitter, **arguments})
        return self.ask({"wait": pid})

    def close(self) -> None:
        assert self.server.stdin is not None and self.server.stdout is not None
        self.server.stdin.close()
        self.server.wait(timeout=20)
        self.server.stdout.close()


@pytest.fixture
def operations(kill_settings: Settings, tmp_path: Path) -> Iterator[Operations]:
    server = Operations(kill_settings, tmp_path / "operations.log")
    yield server
    server.close()


def kill_repeatedly(operations: Operations, operation: str, kill_range: int, **arguments: Any) -> int:
    """SIGKILL the operation at random points until it has died KILLS times, then run it to the end."""
    seed = random.randrange(1 << 30)  # noqa: S311 - kill points, not security
    rng = random.Random(seed)  # noqa: S311
    kills = 0
    while kills < KILLS:
        status = operations.run(
            operation, kill_at=rng.randint(1, kill_range), jitter=rng.uniform(0.0, 0.003), **arguments
        )
        if status == 0:
            raise AssertionError(
                f"{operation} finished after {kills} kills (seed {seed}): the dataset is too small to kill it "
                f"{KILLS} times; see {operations.log}"
            )
        assert status == -signal.SIGKILL, (
            f"{operation} failed on its own after a kill (seed {seed}): " + (operations.log.read_text()[-3000:])
        )
        kills += 1
    status = operations.run(operation, **arguments)
    assert status == 0, f"the rerun of {operation} failed (seed {seed}): {operations.log.read_text()[-3000:]}"
    print(f"\n{operation}: {kills} SIGKILLs, seed {seed}")
    return kills


# --- the data -------------------------------------------------------------------------------------------------


@pytest.fixture
def kill_settings(settings: Settings, keyring: Keyring) -> Settings:
    """Keys from a key file (rotation writes it), holding the test's keyring."""
    settings.key_file.parent.mkdir(parents=True, exist_ok=True)
    settings.key_file.write_text(keyring.to_json())
    settings.key_file.chmod(0o600)
    return settings.with_changes(keys_json=None)


@dataclass
class Dataset:
    services: Services
    people: list[uuid.UUID]


@pytest.fixture
async def dataset(kill_settings: Settings, db: TestDatabase, request: pytest.FixtureRequest) -> Dataset:
    """People who each answered a survey with two comments, a DPO to run commands as, period keys for anonymous
    answers this month and long ago, and a sealed audit log."""
    count = int(getattr(request, "param", 24))
    created = await asyncio.to_thread(
        CliRunner().invoke,
        cli,
        ["user", "create", "--email", OPERATOR, "--role", "dpo", "--password", "a long password 1"],
        env=env_for(kill_settings),
    )
    assert created.exit_code == 0, created.output
    await db.load_catalogue(POLICY)
    services = await build_services(kill_settings, db.sessions, features())
    writer = GroupedResponses(services.get(ResponseRecorder), db.sessions)
    try:
        invitations = await invite(services, db, count, prefix="kill")
        for n, invitation in enumerate(invitations):
            assert isinstance(await submit(writer, db, invitation, answers(n)), uuid.UUID)
    finally:
        await writer.aclose()
    vault = services.get(Vault)
    async with unit_of_work(db.sessions) as session:
        for period in ((utcnow() - OLD).strftime("%Y-%m"), utcnow().strftime("%Y-%m")):
            await vault.encrypt_for_period(session, period, "answer.text", uuid.uuid4(), "anonymous words")
        people = list((await session.scalars(select(Response.subject_id).order_by(Response.submitted_at))).all())
    await seal(db, kill_settings)
    return Dataset(services, [p for p in people if p is not None])


async def seal(db: TestDatabase, settings: Settings) -> None:
    keyring = Keyring.load(key_file=settings.key_file, env_value=None)
    assert keyring is not None
    while True:
        async with unit_of_work(db.sessions) as session:
            result = await seal_once(session, keyring)
        assert result is not None
        publish_head(settings, result.head)
        if not result.sealed:
            return


async def chain_verifies(db: TestDatabase, settings: Settings) -> None:
    await seal(db, settings)
    keyring = Keyring.load(key_file=settings.key_file, env_value=None)
    assert keyring is not None
    async with db.sessions() as session:
        verification = await verify(session, keyring, published=read_published_heads(settings))
    assert verification.ok and verification.unsealed == 0, verification.as_dict()


async def snapshot(db: TestDatabase) -> Snapshot:
    """Every row of every table, by primary key."""
    tables: Snapshot = {}
    async with db.sessions() as session:
        for table in Base.metadata.sorted_tables:
            keys = [column.name for column in table.primary_key.columns]
            rows = (await session.execute(select(table))).mappings().all()
            tables[table.name] = {tuple(row[k] for k in keys): dict(row) for row in rows}
    return tables


def rows_of(before: Snapshot, seeds: set[Any]) -> set[tuple[str, tuple[Any, ...]]]:
    """The rows that belong to the seeds: rows naming a seed id in any column, and rows naming those, and so on
    (a person's contacts, invitations, responses, the answers of those responses, ...). The audit log and the
    job outbox are not followed: their rows that existed before must stay exactly as they were."""
    ids = set(seeds)
    owned: set[tuple[str, tuple[Any, ...]]] = set()
    grew = True
    while grew:
        grew = False
        for name, rows in before.items():
            if name in ("audit_event", "job", "erasure_ledger"):
                continue
            for key, row in rows.items():
                if (name, key) in owned:
                    continue
                if any(value in ids for value in row.values() if isinstance(value, uuid.UUID)):
                    owned.add((name, key))
                    if isinstance(row.get("id"), uuid.UUID):
                        ids.add(row["id"])
                    grew = True
    return owned


def same(a: Row, b: Row) -> bool:
    return {k: repr(v) for k, v in a.items()} == {k: repr(v) for k, v in b.items()}


def assert_only_targets_changed(
    before: Snapshot, after: Snapshot, targets: set[tuple[str, tuple[Any, ...]]], new_rows_in: set[str]
) -> None:
    """Every row outside the targets is still there and byte-identical; new rows only where the operation keeps
    its records (the audit log, the outbox, the ledger, ...)."""
    for name, rows in before.items():
        for key, row in rows.items():
            if (name, key) in targets:
                continue
            assert key in after[name], f"{name} row {key} outside the targets was deleted"
            assert same(row, after[name][key]), f"{name} row {key} outside the targets changed"
    for name, rows in after.items():
        added = set(rows) - set(before[name])
        assert not added or name in new_rows_in, f"{len(added)} new {name} rows"


async def aggregates(db: TestDatabase) -> tuple[collections.Counter[Any], collections.Counter[Any]]:
    """What the scorecard counts: responses per month, service, channel and score; closed answers."""
    async with db.sessions() as session:
        responses = collections.Counter(
            (row.submitted_at.strftime("%Y-%m"), row.service_id, row.channel, row.satisfaction, row.resolved)
            for row in (await session.execute(select(Response))).scalars()
        )
        closed = collections.Counter(
            (row.question_key, row.number, row.choice)
            for row in (await session.execute(select(Answer))).scalars()
            if row.choice is not None or row.number is not None
        )
    return responses, closed


async def comments(db: TestDatabase, vault: Vault, people: list[uuid.UUID]) -> dict[uuid.UUID, list[str]]:
    async with db.sessions() as session:
        found: dict[uuid.UUID, list[str]] = {}
        for person in people:
            for response in (await session.scalars(select(Response).where(Response.subject_id == person))).all():
                for answer in (await session.scalars(select(Answer).where(Answer.response_id == response.id))).all():
                    if answer.text_ciphertext is not None:
                        text = await read_answer_text(session, vault, response, answer)
                        found.setdefault(person, []).append(text)
        return found


async def assert_people_gone(db: TestDatabase, before: Snapshot, people: set[uuid.UUID]) -> None:
    """Key destroyed, identity, indexes and links gone, and every comment they wrote nulled."""
    their_responses = {row["id"] for row in before["response"].values() if row["subject_id"] in people}
    async with db.sessions() as session:
        for person in people:
            key = await session.scalar(select(DataKey).where(DataKey.subject_id == person))
            assert key is not None and key.wrapped is None and key.destroyed_at is not None
            subject = await session.get(DataSubject, person)
            assert subject is not None and subject.identity_ciphertext is None and subject.erased_at is not None
            assert not (await session.scalars(select(SubjectIndex).where(SubjectIndex.subject_id == person))).all()
    after = await snapshot(db)
    for name, rows in after.items():
        if name in ("data_subject", "data_key", "erasure_ledger", "audit_event", "job"):
            continue
        for row in rows.values():
            linked = [v for k, v in row.items() if k != "id" and isinstance(v, uuid.UUID) and v in people]
            assert not linked, f"a {name} row still links an erased person"
    for row in after["answer"].values():
        if row["response_id"] in their_responses:
            assert row["text_ciphertext"] is None


# --- the tests ------------------------------------------------------------------------------------------------


async def test_an_erasure_killed_at_random_points_erases_its_targets_and_nothing_else(
    dataset: Dataset, db: TestDatabase, kill_settings: Settings, operations: Operations
) -> None:
    targets = dataset.people[:14]
    kept = dataset.people[14:]
    vault = dataset.services.get(Vault)
    kept_comments = await comments(db, vault, kept)
    figures = await aggregates(db)
    before = await snapshot(db)

    kill_repeatedly(operations, "erase", 40, subjects=[str(t) for t in targets], operator=OPERATOR)

    after = await snapshot(db)
    async with db.sessions() as session:
        ledger = {row.erased_subject_id: row for row in (await session.scalars(select(ErasureLedger))).all()}
        dead = (await session.scalars(select(Job).where(Job.name == PURGE_JOB, Job.state == DEAD))).all()
    assert set(ledger) == set(targets)
    # A purge killed more often than its attempts allow is dead, with its error, for an administrator to retry;
    # the person is erased all the same (their key is gone). Every other purge finished.
    failed = {uuid.UUID(job.payload["subject_id"]) for job in dead}
    assert all(job.last_error for job in dead)
    assert {t for t in targets if ledger[t].purged_at is None} == failed
    await assert_people_gone(db, before, set(targets) - failed)
    assert_only_targets_changed(
        before, after, rows_of(before, set(targets)), {"audit_event", "job", "erasure_ledger", "data_key"}
    )
    new_keys = [after["data_key"][k] for k in set(after["data_key"]) - set(before["data_key"])]
    assert all(row["period"] is not None for row in new_keys), "only the audit reasons' period key is new"
    assert await aggregates(db) == figures
    vault.use_keyring(vault.keyring)
    assert await comments(db, vault, kept) == kept_comments
    await chain_verifies(db, kill_settings)
    assert len(read_ledger_subjects(kill_settings)) >= len(targets)


def read_ledger_subjects(settings: Settings) -> set[uuid.UUID]:
    from privacy.erasure import read_ledger_file

    return {subject for subject, _ in read_ledger_file(settings)}


@pytest.mark.parametrize("dataset", [30], indirect=True)
async def test_a_retention_run_killed_at_random_points_expires_only_what_is_due(
    dataset: Dataset, db: TestDatabase, kill_settings: Settings, operations: Operations
) -> None:
    expired, kept = dataset.people[:18], dataset.people[18:]
    for person in expired:
        await age(db, person)
    await seal(db, kill_settings)
    vault = dataset.services.get(Vault)
    kept_comments = await comments(db, vault, kept)
    figures = await aggregates(db)
    before = await snapshot(db)
    old_period = (utcnow() - OLD).strftime("%Y-%m")
    old_key = next(k for k, row in before["data_key"].items() if row["period"] == old_period)

    kill_repeatedly(operations, "retention", 60)

    after = await snapshot(db)
    await assert_people_gone(db, before, set(expired))
    assert after["data_key"][old_key]["wrapped"] is None, "the old month's anonymous key is destroyed"
    targets = rows_of(before, set(expired)) | {("data_key", old_key)}
    assert_only_targets_changed(before, after, targets, {"audit_event", "erasure_ledger"})
    assert await aggregates(db) == figures
    vault.use_keyring(vault.keyring)
    assert await comments(db, vault, kept) == kept_comments
    async with db.sessions() as session:
        runs = (await session.scalars(select(AuditEvent).where(AuditEvent.action == "privacy.retention_run"))).all()
    assert runs, "the completed run is audited"
    await chain_verifies(db, kill_settings)


@pytest.mark.parametrize("dataset", [30], indirect=True)
async def test_a_key_rotation_killed_at_random_points_rewraps_every_key_and_changes_nothing_else(
    dataset: Dataset, db: TestDatabase, kill_settings: Settings, operations: Operations
) -> None:
    vault = dataset.services.get(Vault)
    everyone = await comments(db, vault, dataset.people)
    figures = await aggregates(db)
    before = await snapshot(db)
    live = {key for key, row in before["data_key"].items() if row["wrapped"] is not None}

    kill_repeatedly(operations, "rotate", 14, operator=OPERATOR)

    on_disk = Keyring.load(key_file=kill_settings.key_file, env_value=None)
    assert on_disk is not None and sorted(on_disk.kek) == [1, 2] and on_disk.kek_active == 2
    after = await snapshot(db)
    for key in live:
        row, was = after["data_key"][key], before["data_key"][key]
        assert row["kek_version"] == 2 and row["wrapped"] != was["wrapped"]
        assert {k: v for k, v in row.items() if k not in ("kek_version", "wrapped")} == {
            k: v for k, v in was.items() if k not in ("kek_version", "wrapped")
        }
    targets = {("data_key", key) for key in live}
    assert_only_targets_changed(before, after, targets, {"audit_event", "job", "kek_version", "key_check"})
    assert await aggregates(db) == figures
    # Everything still reads, with the keys as they are on disk now, and the database knows the new key.
    vault.use_keyring(on_disk)
    assert await comments(db, vault, dataset.people) == everyone
    async with db.sessions() as session:
        checks = {status.purpose: status.state for status in await check_keys(session, on_disk, record_new=False)}
        actions = set((await session.scalars(select(AuditEvent.action))).all())
    assert checks.get("kek:2") == "ok" and set(checks.values()) == {"ok"}, checks
    assert {"keys.kek_added", "keys.kek_activated", "keys.kek_retired"} <= actions
    await chain_verifies(db, kill_settings)


async def restore(db: TestDatabase, before: Snapshot) -> None:
    """Put every table back as the snapshot had it (rows added since deleted, rows changed set back)."""
    now = await snapshot(db)
    async with unit_of_work(db.sessions) as session:
        for table in reversed(Base.metadata.sorted_tables):
            keys = [column.name for column in table.primary_key.columns]
            for key, row in now[table.name].items():
                where = [table.c[k] == v for k, v in zip(keys, key, strict=True)]
                if key not in before[table.name]:
                    await session.execute(delete(table).where(*where))
                elif not same(row, before[table.name][key]):
                    await session.execute(update(table).where(*where).values(**before[table.name][key]))


@pytest.mark.parametrize("dataset", [3], indirect=True)
async def test_a_key_rotation_killed_at_each_step_of_adding_and_activating_completes_whole(
    dataset: Dataset, db: TestDatabase, kill_settings: Settings, operations: Operations
) -> None:
    """Not at random: killed at its first statement, then its second, and so on until a run gets through, each
    time from the same start and then run to the end. The key file is written between statements, so this finds
    what a kill between the key file and the database's commit leaves behind."""
    original = kill_settings.key_file.read_text()
    before = await snapshot(db)
    vault = dataset.services.get(Vault)
    everyone = await comments(db, vault, dataset.people)
    point = 0
    while True:
        point += 1
        await restore(db, before)
        kill_settings.key_file.write_text(original)
        status = operations.run("rotate", kill_at=point, operator=OPERATOR)
        assert status in (0, -signal.SIGKILL), operations.log.read_text()[-3000:]
        if status == 0 or await activation_committed(db):
            break  # from here on it is re-wrapping, in batches: the random kills above cover that
        assert operations.run("rotate", operator=OPERATOR) == 0, operations.log.read_text()[-3000:]
        on_disk = Keyring.load(key_file=kill_settings.key_file, env_value=None)
        assert on_disk is not None and on_disk.kek_active == 2 and sorted(on_disk.kek) == [1, 2], point
        async with db.sessions() as session:
            checks = {s.purpose: s.state for s in await check_keys(session, on_disk, record_new=False)}
            versions = {row.version: row for row in (await session.scalars(select(KekVersion))).all()}
            actions = collections.Counter((await session.scalars(select(AuditEvent.action))).all())
            wrapped_under = set(
                (await session.scalars(select(DataKey.kek_version).where(DataKey.wrapped.is_not(None)))).all()
            )
        assert checks.get("kek:2") == "ok", f"killed at statement {point}: the new key's check value is missing"
        assert versions[2].added_at and versions[2].activated_at, f"killed at statement {point}: {versions[2]}"
        assert actions["keys.kek_added"] == 1 and actions["keys.kek_activated"] == 1, (point, actions)
        assert wrapped_under == {2}, point
        vault.use_keyring(on_disk)
        assert await comments(db, vault, dataset.people) == everyone
    assert point > 10, "the rotation ran through with hardly a statement: nothing was tested"
    print(f"\nrotate: killed at each of its first {point} statements and commits")


async def activation_committed(db: TestDatabase) -> bool:
    async with db.sessions() as session:
        return await session.scalar(select(KekVersion.activated_at).where(KekVersion.version == 2)) is not None
