"""Staged KEK rotation: add, wait for every process, activate and re-wrap, destroy after the backup window; data
written before and during the rotation stays readable throughout."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from civicvoice.cli import cli
from civicvoice.core.audit import Actor, AuditEvent
from civicvoice.core.clock import utcnow
from civicvoice.core.db import unit_of_work
from civicvoice.core.settings import Settings
from privacy.exceptions import KeyProblem
from privacy.key_rotation import KeyringWatcher, advance_rotation, rewrap_batch, rotation_status
from privacy.keyring import Keyring
from privacy.models import DataKey
from privacy.vault import IdentityClaim, Vault
from tests.integration.support import TestDatabase
from tests.integration.test_keys_and_cli import env_for

ANSWER = "answer.text"


@pytest.fixture
def file_settings(settings: Settings, keyring: Keyring) -> Settings:
    """Keys from a key file (rotation writes it), holding the test's keyring."""
    settings.key_file.parent.mkdir(parents=True, exist_ok=True)
    settings.key_file.write_text(keyring.to_json())
    settings.key_file.chmod(0o600)
    return settings.with_changes(keys_json=None)


async def people_with_secrets(db: TestDatabase, vault: Vault, count: int) -> list[tuple[uuid.UUID, uuid.UUID, bytes]]:
    stored = []
    async with unit_of_work(db.sessions) as session:
        for n in range(count):
            resolution = await vault.resolve(session, IdentityClaim(email=f"person{n}@example.org"))
            row_id = uuid.uuid4()
            secret = await vault.encrypt(session, resolution.subject_id, ANSWER, row_id, f"secret {n}")
            stored.append((resolution.subject_id, row_id, secret))
    return stored


async def readable(db: TestDatabase, vault: Vault, stored: list[tuple[uuid.UUID, uuid.UUID, bytes]]) -> list[str]:
    vault.use_keyring(vault.keyring)  # forget cached keys: unwrap from the rows as stored now
    async with db.sessions() as session:
        return [await vault.decrypt(session, subject, ANSWER, row, secret) for subject, row, secret in stored]


async def kek_versions(db: TestDatabase) -> set[int]:
    async with db.sessions() as session:
        return set((await session.scalars(select(DataKey.kek_version))).all())


async def test_a_rotation_runs_in_stages_and_loses_nothing(
    db: TestDatabase, keyring: Keyring, file_settings: Settings
) -> None:
    vault = Vault(keyring)
    stored = await people_with_secrets(db, vault, 12)
    web = KeyringWatcher(file_settings, keyring, on_reload=[vault.use_keyring])
    other = KeyringWatcher(file_settings, keyring)
    await web.heartbeat(db.sessions)
    await other.heartbeat(db.sessions)

    async def step() -> str:
        async with unit_of_work(db.sessions) as session:
            result = await advance_rotation(session, file_settings, actor=Actor.cli())
        return result.did

    assert await step() == "added"
    on_disk = Keyring.load(key_file=file_settings.key_file, env_value=None)
    assert on_disk is not None and sorted(on_disk.kek) == [1, 2] and on_disk.kek_active == 1
    # Neither process has loaded version 2: activation waits.
    assert await step() == "waiting"
    # The web process reloads the changed file; the other still lacks it.
    assert web.reload_if_changed() and sorted(web.keyring.kek) == [1, 2]
    await web.heartbeat(db.sessions)
    assert await step() == "waiting"
    # Data written meanwhile is still wrapped under version 1, which every process can read.
    stored += await people_with_secrets(db, vault, 3)
    assert await kek_versions(db) == {1}
    other.reload_if_changed()
    await other.heartbeat(db.sessions)
    assert await step() == "activated"
    assert web.reload_if_changed() and web.keyring.kek_active == 2
    # Re-wrapping in bounded batches, while data stays readable.
    async with unit_of_work(db.sessions) as session:
        assert await rewrap_batch(session, web.keyring, batch=5) == 5
    assert await kek_versions(db) == {1, 2}
    assert await readable(db, vault, stored) == [f"secret {n}" for n in range(12)] + [f"secret {n}" for n in range(3)]
    while True:
        async with unit_of_work(db.sessions) as session:
            if not await rewrap_batch(session, web.keyring, batch=5):
                break
    assert await kek_versions(db) == {2}
    async with db.sessions() as session:
        status = await rotation_status(session, web.keyring, file_settings)
    assert status.stage == "in-backup-window" and set(status.retired) == {1}
    # Nothing is destroyed inside the backup window; after it, the retired key leaves the key file.
    assert await step() == "added"  # a new rotation may start meanwhile; destroy waits for the window
    later = utcnow() + timedelta(days=file_settings.key_backup_window_days + 1)
    web.reload_if_changed()
    for process in (web, other):
        process.reload_if_changed()
        await process.heartbeat(db.sessions, now=later)
    async with unit_of_work(db.sessions) as session:
        activated = await advance_rotation(session, file_settings, actor=Actor.cli(), now=later)
    assert activated.did == "activated"
    web.reload_if_changed()
    while True:
        async with unit_of_work(db.sessions) as session:
            if not await rewrap_batch(session, web.keyring):
                break
    async with unit_of_work(db.sessions) as session:
        destroyed = await advance_rotation(session, file_settings, actor=Actor.cli(), now=later + timedelta(days=40))
    assert destroyed.did == "destroyed"
    on_disk = Keyring.load(key_file=file_settings.key_file, env_value=None)
    assert on_disk is not None and 1 not in on_disk.kek and on_disk.kek_active == 3
    assert web.reload_if_changed()
    assert await readable(db, vault, stored) == [f"secret {n}" for n in range(12)] + [f"secret {n}" for n in range(3)]
    async with db.sessions() as session:
        actions = set((await session.scalars(select(AuditEvent.action))).all())
    assert {"keys.kek_added", "keys.kek_activated", "keys.kek_retired", "keys.kek_destroyed"} <= actions


async def test_a_process_that_missed_the_activation_never_wraps_keys_back(
    db: TestDatabase, keyring: Keyring, file_settings: Settings
) -> None:
    vault = Vault(keyring)
    stored = await people_with_secrets(db, vault, 4)
    watcher = KeyringWatcher(file_settings, keyring)
    await watcher.heartbeat(db.sessions)
    async with unit_of_work(db.sessions) as session:
        await advance_rotation(session, file_settings, actor=Actor.cli())
    watcher.reload_if_changed()
    stale = watcher.keyring  # holds version 2, still thinks version 1 is active
    await watcher.heartbeat(db.sessions)
    async with unit_of_work(db.sessions) as session:
        await advance_rotation(session, file_settings, actor=Actor.cli())
    assert stale.kek_active == 1
    async with unit_of_work(db.sessions) as session:
        assert await rewrap_batch(session, stale) == 4
    assert await kek_versions(db) == {2}
    vault.use_keyring(Keyring.load(key_file=file_settings.key_file, env_value=None) or keyring)
    assert len(await readable(db, vault, stored)) == 4


async def test_rotation_needs_the_key_file(db: TestDatabase, keyring: Keyring, settings: Settings) -> None:
    with pytest.raises(KeyProblem, match="CIVICVOICE_KEYS"):
        async with unit_of_work(db.sessions) as session:
            await advance_rotation(session, settings, actor=Actor.cli())


def test_the_rotate_and_status_commands(file_settings: Settings) -> None:
    runner = CliRunner()

    def run(*args: str) -> tuple[int, str]:
        result = runner.invoke(cli, list(args), env=env_for(file_settings), catch_exceptions=False)
        return result.exit_code, result.output

    code, out = run("keys", "rotate", "--as", "dpo@council.example")
    assert code == 0 and "KEK 2 added" in out
    code, out = run("keys", "status", "--json")
    status = json.loads(out)
    assert code == 0 and status["rotation"]["stage"] == "ready-to-activate" and status["checks"]["kek:2"] == "ok"
    code, out = run("keys", "rotate", "--json")
    assert code == 0 and json.loads(out)["step"] == "activated"
    code, out = run("keys", "rotate", "--scheduled")
    assert (code == 0 and "re-wrapped" in out) or "No rotation step is due" in out
    code, out = run("keys", "status")
    assert code == 0 and "Active versions: kek 2" in out
