"""The tamper-evident audit log: sealing, verification naming the first bad entry, the published head, pruning
from signed checkpoints, and concurrent sealers."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import select, update

from civicvoice.cli import cli
from civicvoice.core.audit import Actor, AuditEvent, record
from civicvoice.core.clock import utcnow
from civicvoice.core.db import unit_of_work
from civicvoice.core.settings import Settings
from privacy import audit_chain
from privacy.audit_chain import (
    AuditCheckpoint,
    prune_before,
    publish_head,
    read_published_heads,
    seal_once,
    verify,
)
from privacy.keyring import Keyring
from tests.integration.support import TestDatabase
from tests.integration.test_keys_and_cli import env_for


async def write_entries(db: TestDatabase, count: int, *, action: str = "test.action") -> None:
    async with unit_of_work(db.sessions) as session:
        for number in range(count):
            record(session, Actor.cli(), action, target_kind="thing", target_id=number, detail={"n": number})


async def seal_all(db: TestDatabase, keyring: Keyring) -> audit_chain.SealResult:
    async with unit_of_work(db.sessions) as session:
        result = await seal_once(session, keyring)
    assert result is not None
    return result


async def check(db: TestDatabase, keyring: Keyring, settings: Settings | None = None) -> audit_chain.Verification:
    async with db.sessions() as session:
        published = read_published_heads(settings) if settings else []
        return await verify(session, keyring, published=published)


async def set_seq(db: TestDatabase, position: int, **values: object) -> None:
    async with unit_of_work(db.sessions) as session:
        await session.execute(update(AuditEvent).where(AuditEvent.seq == position).values(**values))


async def test_sealed_entries_form_a_chain_that_verifies(db: TestDatabase, keyring: Keyring) -> None:
    await write_entries(db, 5)
    result = await seal_all(db, keyring)
    assert result.sealed == 5 and result.head.seq == 5
    await write_entries(db, 3)
    assert (await check(db, keyring)).unsealed == 3
    assert (await seal_all(db, keyring)).head.seq == 8
    verification = await check(db, keyring)
    assert verification.ok and verification.checked == 8 and verification.unsealed == 0
    # A second run with nothing new seals nothing and keeps the head.
    assert (await seal_all(db, keyring)).sealed == 0


async def test_an_edited_entry_is_named(db: TestDatabase, keyring: Keyring) -> None:
    await write_entries(db, 6)
    await seal_all(db, keyring)
    await set_seq(db, 4, detail={"n": 99})
    verification = await check(db, keyring)
    assert verification.problem is not None
    assert (verification.problem.seq, verification.problem.kind) == (4, "edited")
    assert verification.problem.entry_id is not None


async def test_a_deleted_entry_is_named(db: TestDatabase, keyring: Keyring) -> None:
    await write_entries(db, 6)
    await seal_all(db, keyring)
    async with unit_of_work(db.sessions) as session:
        row = await session.scalar(select(AuditEvent).where(AuditEvent.seq == 3))
        await session.delete(row)
    verification = await check(db, keyring)
    assert verification.problem is not None
    assert (verification.problem.seq, verification.problem.kind) == (3, "missing")


async def test_reordered_entries_are_named(db: TestDatabase, keyring: Keyring) -> None:
    await write_entries(db, 6)
    await seal_all(db, keyring)
    # Swap positions 2 and 5, hashes and all, as someone rewriting history would.
    await set_seq(db, 2, seq=-2)
    await set_seq(db, 5, seq=2)
    await set_seq(db, -2, seq=5)
    verification = await check(db, keyring)
    assert verification.problem is not None
    assert (verification.problem.seq, verification.problem.kind) == (2, "reordered")


async def test_a_truncated_tail_shows_against_the_published_head(
    db: TestDatabase, keyring: Keyring, settings: Settings
) -> None:
    await write_entries(db, 5)
    head = (await seal_all(db, keyring)).head
    publish_head(settings, head)
    publish_head(settings, head)  # the same head again is not written twice
    assert [h["seq"] for h in read_published_heads(settings)] == [5]
    assert (await check(db, keyring, settings)).ok
    async with unit_of_work(db.sessions) as session:
        rows = (await session.scalars(select(AuditEvent).where(AuditEvent.seq >= 4))).all()
        for row in rows:
            await session.delete(row)
    verification = await check(db, keyring, settings)
    assert verification.problem is not None
    assert (verification.problem.seq, verification.problem.kind) == (4, "truncated")


async def test_a_rewritten_chain_differs_from_the_published_head(
    db: TestDatabase, keyring: Keyring, settings: Settings
) -> None:
    await write_entries(db, 4)
    publish_head(settings, (await seal_all(db, keyring)).head)
    # Rewrite entry 4 and re-seal it consistently: only the hash published outside the database shows it.
    async with unit_of_work(db.sessions) as session:
        row = await session.scalar(select(AuditEvent).where(AuditEvent.seq == 4))
        assert row is not None
        row.detail = {"n": 1000}
        row.entry_hash = audit_chain.entry_digest(row, 4, str(row.prev_hash))
    verification = await check(db, keyring, settings)
    assert verification.problem is not None
    assert (verification.problem.seq, verification.problem.kind) == (4, "edited")


async def test_pruning_to_a_checkpoint_keeps_the_rest_verifiable(
    db: TestDatabase, keyring: Keyring, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(audit_chain, "CHECKPOINT_EVERY", 4)
    await write_entries(db, 10)
    await seal_all(db, keyring)
    async with db.sessions() as session:
        assert [c.seq for c in (await session.scalars(select(AuditCheckpoint))).all()] == [4, 8]
    async with unit_of_work(db.sessions) as session:
        pruned = await prune_before(session, utcnow() + timedelta(days=1))
    assert pruned == 8
    verification = await check(db, keyring)
    assert verification.ok and (verification.first, verification.last) == (9, 10)
    # A forged checkpoint does not verify.
    async with unit_of_work(db.sessions) as session:
        await session.execute(update(AuditCheckpoint).values(entry_hash="f" * 64))
    verification = await check(db, keyring)
    assert verification.problem is not None and verification.problem.kind == "bad-checkpoint"


async def test_nothing_is_pruned_without_an_old_enough_checkpoint(db: TestDatabase, keyring: Keyring) -> None:
    await write_entries(db, 3)
    await seal_all(db, keyring)
    async with unit_of_work(db.sessions) as session:
        assert await prune_before(session, utcnow() + timedelta(days=1)) == 0
    assert (await check(db, keyring)).checked == 3


async def test_concurrent_sealers_never_give_two_entries_one_place(db: TestDatabase, keyring: Keyring) -> None:
    await write_entries(db, 40)

    async def sealer() -> None:
        for _ in range(3):
            async with unit_of_work(db.sessions) as session:
                await seal_once(session, keyring)

    await asyncio.gather(sealer(), sealer(), write_entries(db, 20))
    await seal_all(db, keyring)
    verification = await check(db, keyring)
    assert verification.ok and verification.checked == 60 and verification.unsealed == 0


def test_the_command_names_the_first_broken_entry(settings: Settings) -> None:
    runner = CliRunner()

    def run(*args: str) -> tuple[int, str]:
        result = runner.invoke(cli, list(args), env=env_for(settings), catch_exceptions=False)
        return result.exit_code, result.output

    for name in ("one", "two", "three"):  # each key creation is an audited action
        assert run("apikey", "create", "--name", name, "--scope", "contacts:write", "--source", "crm")[0] == 0
    code, out = run("audit", "seal")
    assert code == 0 and "chain is at entry 3" in out
    assert read_published_heads(settings)[-1]["seq"] == 3
    code, out = run("audit", "verify")
    assert code == 0 and "intact: 3 sealed entries" in out

    async def tamper() -> None:
        database = TestDatabase(settings)
        try:
            await set_seq(database, 2, action="something.else")
        finally:
            await database.close()

    asyncio.run(tamper())
    code, out = run("audit", "verify", "--json")
    assert code == 1 and '"seq": 2' in out and '"kind": "edited"' in out
    code, out = run("audit", "verify")
    assert code == 1 and "BROKEN at entry 2" in out


async def _tamper(settings: Settings, how: str) -> str | None:
    """Tamper with sealed entry 3 of 5 as someone with database access would; returns the id it names."""
    database = TestDatabase(settings)
    try:
        async with unit_of_work(database.sessions) as session:
            third = await session.scalar(select(AuditEvent).where(AuditEvent.seq == 3))
            assert third is not None
            third_id = str(third.id)
            if how == "edit":
                third.target_id = "someone-else"
            elif how == "delete":
                await session.delete(third)
            else:  # swap entries 3 and 4, hashes and all, so each row is intact on its own
                await session.execute(update(AuditEvent).where(AuditEvent.seq == 3).values(seq=-3))
                await session.execute(update(AuditEvent).where(AuditEvent.seq == 4).values(seq=3))
                await session.execute(update(AuditEvent).where(AuditEvent.seq == -3).values(seq=4))
                fourth = await session.scalar(select(AuditEvent.id).where(AuditEvent.seq == 3))
                return str(fourth)
        return third_id if how == "edit" else None
    finally:
        await database.close()


@pytest.mark.parametrize(
    ("how", "kind", "says"),
    [
        ("edit", "edited", "entry 3 was changed after it was sealed"),
        ("delete", "missing", "entry 3 is missing"),
        ("reorder", "reordered", "entry 3 does not follow entry 2"),
    ],
)
def test_the_command_fails_and_names_an_edited_deleted_or_reordered_entry(
    settings: Settings, how: str, kind: str, says: str
) -> None:
    runner = CliRunner()

    def run(*args: str) -> tuple[int, str]:
        result = runner.invoke(cli, list(args), env=env_for(settings), catch_exceptions=False)
        return result.exit_code, result.output

    for name in ("one", "two", "three", "four", "five"):
        assert run("apikey", "create", "--name", name, "--scope", "contacts:write", "--source", "crm")[0] == 0
    assert run("audit", "seal")[0] == 0
    assert run("audit", "verify")[0] == 0
    named = asyncio.run(_tamper(settings, how))
    code, out = run("audit", "verify", "--json")
    problem = json.loads(out)["problem"]
    assert code == 1 and (problem["seq"], problem["kind"]) == (3, kind)
    assert problem["entry_id"] == named
    code, out = run("audit", "verify")
    assert code == 1 and "BROKEN at entry 3" in out and says in out
    if named is not None:
        assert named in out
