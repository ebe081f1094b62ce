"""Staged KEK rotation without downtime: add, wait until every process holds the new key, activate and re-wrap,
then destroy the retired key once the backup window has passed.

Web and worker processes on other machines hold the key file too. A new key-encryption key is first added as
pending (a version above the active one): nothing is wrapped under it yet, so a process that has not loaded it
loses nothing. Each process reloads the key file when it changes and reports the versions it holds
(`key_holder`); `civicvoice keys status` lists them. Only when every live process holds the new version is it made
active; a background job then re-wraps every data key under it in bounded batches (data is never re-encrypted).
A version no data key is wrapped under any more is retired, and destroyed (removed from the key file) after the
backup window, which is what makes an erasure hold against old backups.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import tempfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import structlog
from advanced_alchemy.types import DateTimeUTC, JsonB
from sqlalchemy import String, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from civicvoice.core.audit import Actor, record
from civicvoice.core.clock import utcnow
from civicvoice.core.datamap import DataMapEntry
from civicvoice.core.db import Base
from civicvoice.core.jobs import enqueue_once
from civicvoice.core.settings import Settings
from privacy.crypto import WrappedKey, rewrap
from privacy.exceptions import KeyProblem
from privacy.keyring import Keyring
from privacy.models import DataKey, KeyCheck
from privacy.vault import period_owner, subject_owner

log = structlog.get_logger("civicvoice.keys")

# A process that has not reported for this long is taken to have stopped (it reports every HEARTBEAT).
HEARTBEAT = timedelta(seconds=15)
HOLDER_TTL = timedelta(minutes=2)
REWRAP_BATCH = 500


class KeyHolder(Base):
    """A running process and the key versions it has loaded: what rotation waits for."""

    __tablename__ = "key_holder"
    __datamap__ = DataMapEntry.no_personal_data(
        "Which service processes hold which key versions, so rotation waits for all", retention="2 minutes unseen"
    )

    process: Mapped[str] = mapped_column(String(120), unique=True)
    role: Mapped[str] = mapped_column(String(20))
    kek_versions: Mapped[list[int]] = mapped_column(JsonB, default=list)
    index_versions: Mapped[list[int]] = mapped_column(JsonB, default=list)
    started_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True), default=utcnow)
    seen_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True), default=utcnow)


class KekVersion(Base):
    """The life of one key-encryption key version: added, activated, retired (nothing wrapped under it), destroyed."""

    __tablename__ = "kek_version"
    __datamap__ = DataMapEntry.no_personal_data("Dates in the life of each key-encryption key version")

    version: Mapped[int] = mapped_column(unique=True)
    added_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True))
    activated_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True))
    retired_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True))
    destroyed_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True))


# --- the key file ----------------------------------------------------------------------------------------


def key_file_of(settings: Settings) -> Path:
    if settings.keys_json:
        raise KeyProblem(
            "Keys come from CIVICVOICE_KEYS here, which civicvoice cannot change: rotate with the key file "
            "(CIVICVOICE_KEY_FILE), or update the injected secret by hand and restart every process."
        )
    return settings.key_file


def replace_key_file(path: Path, keyring: Keyring) -> None:
    """Write the keyring over the key file atomically (a private temp file renamed into place, fsynced)."""
    data = keyring.to_json().encode("utf-8")
    fd, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp_name, 0o600)
        os.replace(temp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp_name)
        raise
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def pending_keks(keyring: Keyring) -> list[int]:
    return sorted(version for version in keyring.kek if version > keyring.kek_active)


def with_pending_kek(keyring: Keyring) -> Keyring:
    """A copy with a new KEK version above every other, not yet active (nothing is wrapped under it)."""
    active = keyring.with_new_kek()
    return replace(active, kek_active=keyring.kek_active)


# --- where a rotation stands -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Holder:
    process: str
    role: str
    kek_versions: tuple[int, ...]
    index_versions: tuple[int, ...]
    seen_at: datetime


@dataclass(frozen=True)
class RotationStatus:
    active: int
    pending: tuple[int, ...]
    holders: tuple[Holder, ...]
    lacking: tuple[str, ...]  # live processes without the newest pending version
    to_rewrap: int  # data keys still wrapped under an older version
    retired: dict[int, datetime] = field(default_factory=dict)  # version -> when it was retired
    destroy_due: tuple[int, ...] = ()

    @property
    def stage(self) -> str:
        if self.pending:
            return "waiting-for-processes" if self.lacking else "ready-to-activate"
        if self.to_rewrap:
            return "rewrapping"
        if self.destroy_due:
            return "destroy-due"
        if self.retired:
            return "in-backup-window"
        return "idle"

    def as_dict(self) -> dict[str, Any]:
        return {
            "stage": self.stage,
            "active": self.active,
            "pending": list(self.pending),
            "to_rewrap": self.to_rewrap,
            "lacking": list(self.lacking),
            "retired": {str(v): at.isoformat() for v, at in self.retired.items()},
            "destroy_due": list(self.destroy_due),
            "processes": [
                {
                    "process": h.process,
                    "role": h.role,
                    "kek_versions": list(h.kek_versions),
                    "index_versions": list(h.index_versions),
                    "seen_at": h.seen_at.isoformat(),
                }
                for h in self.holders
            ],
        }


async def rotation_status(
    session: AsyncSession, keyring: Keyring, settings: Settings, *, now: datetime | None = None
) -> RotationStatus:
    now = now or utcnow()
    pending = pending_keks(keyring)
    rows = (await session.scalars(select(KeyHolder).where(KeyHolder.seen_at >= now - HOLDER_TTL))).all()
    holders = tuple(
        Holder(r.process, r.role, tuple(r.kek_versions), tuple(r.index_versions), r.seen_at)
        for r in sorted(rows, key=lambda r: r.process)
    )
    lacking = tuple(h.process for h in holders if pending and max(pending) not in h.kek_versions)
    to_rewrap = int(
        await session.scalar(
            select(func.count())
            .select_from(DataKey)
            .where(DataKey.wrapped.is_not(None), DataKey.kek_version != keyring.kek_active)
        )
        or 0
    )
    retired: dict[int, datetime] = {}
    for row in (
        await session.scalars(
            select(KekVersion).where(KekVersion.retired_at.is_not(None), KekVersion.destroyed_at.is_(None))
        )
    ).all():
        if row.version in keyring.kek and row.retired_at is not None:
            retired[row.version] = row.retired_at
    window = timedelta(days=settings.key_backup_window_days)
    destroy_due = tuple(sorted(v for v, at in retired.items() if at + window <= now))
    return RotationStatus(keyring.kek_active, tuple(pending), holders, lacking, to_rewrap, retired, destroy_due)


async def _version_row(session: AsyncSession, version: int) -> KekVersion:
    row = await session.scalar(select(KekVersion).where(KekVersion.version == version))
    if row is None:
        row = KekVersion(version=version)
        session.add(row)
    return row


def _record_check_values(session: AsyncSession, keyring: Keyring, stored: set[str]) -> None:
    for purpose, value in keyring.check_values().items():
        if purpose not in stored:
            session.add(KeyCheck(purpose=purpose, value=value, created_at=utcnow()))
            stored.add(purpose)


async def _catch_up_with_key_file(
    session: AsyncSession, keyring: Keyring, stored: set[str], *, actor: Actor, now: datetime
) -> RotationStep | None:
    """A run killed after writing the key file and before its commit leaves the database behind the file: a key
    without its check value (so a wrong key file would go unnoticed), a version added or activated that no row
    or audit entry records (and re-wrapping that has no activated version to target). Record what the file says.
    Returns the activation step when that is what was interrupted."""
    _record_check_values(session, keyring, stored)
    for version in pending_keks(keyring):
        row = await _version_row(session, version)
        if row.added_at is None:
            row.added_at = now
            record(session, actor, "keys.kek_added", detail={"version": version, "after_interruption": True})
    older = [version for version in keyring.kek if version < keyring.kek_active]
    if not older:
        return None  # the first key: active since the keys were made, never activated by a rotation
    row = await _version_row(session, keyring.kek_active)
    if row.activated_at is not None:
        return None
    if row.added_at is None:  # its adding was interrupted too, and the file has moved on to activating it
        row.added_at = now
        record(session, actor, "keys.kek_added", detail={"version": keyring.kek_active, "after_interruption": True})
    row.activated_at = now
    detail = {"version": keyring.kek_active, "previous": max(older), "after_interruption": True}
    record(session, actor, "keys.kek_activated", detail=detail)
    await enqueue_once(session, REWRAP_JOB, {}, key=f"{REWRAP_JOB}:{keyring.kek_active}")
    return RotationStep(
        "activated", f"KEK {keyring.kek_active} is active; data keys are being re-wrapped under it.", keyring
    )


@dataclass(frozen=True)
class RotationStep:
    did: str  # "added", "activated", "waiting", "rewrapping", "destroyed", "nothing"
    detail: str
    keyring: Keyring


async def advance_rotation(
    session: AsyncSession,
    settings: Settings,
    *,
    actor: Actor,
    start: bool = True,
    now: datetime | None = None,
) -> RotationStep:
    """Take the rotation one step further, whatever stage it is at (safe to run again, and on a schedule).

    ``start``: begin a new rotation when none is under way (a scheduled run passes False until a month is up).
    Writes the key file for "added", "activated" and "destroyed"; the database changes are in the caller's
    transaction, committed after the file is written (a crash in between is repaired by the next run).
    """
    now = now or utcnow()
    # The key file is the truth here, whatever this process loaded at start.
    path = key_file_of(settings)
    keyring = Keyring.load(key_file=path, env_value=None)
    if keyring is None:
        raise KeyProblem(f"The key file {path} does not exist; restore it before rotating keys.")
    status = await rotation_status(session, keyring, settings, now=now)
    stored = set((await session.scalars(select(KeyCheck.purpose))).all())
    caught_up = await _catch_up_with_key_file(session, keyring, stored, actor=actor, now=now)
    if caught_up is not None:
        return caught_up
    if status.pending:
        version = max(status.pending)
        if status.lacking:
            return RotationStep(
                "waiting",
                f"KEK {version} is added but not yet loaded by: {', '.join(status.lacking)}. They reload the key "
                "file within a minute of a change; a process that takes its keys from CIVICVOICE_KEYS needs the new "
                "keys and a restart.",
                keyring,
            )
        new = replace(keyring, kek_active=version)
        replace_key_file(path, new)
        (await _version_row(session, version)).activated_at = now
        record(session, actor, "keys.kek_activated", detail={"version": version, "previous": keyring.kek_active})
        await enqueue_once(session, REWRAP_JOB, {}, key=f"{REWRAP_JOB}:{version}")
        return RotationStep("activated", f"KEK {version} is active; data keys are being re-wrapped under it.", new)
    if status.to_rewrap:
        # Also data keys a process wrapped under the old key before it reloaded the file: the job picks them up.
        slot = now.strftime("%Y%m%d%H")
        await enqueue_once(session, REWRAP_JOB, {}, key=f"{REWRAP_JOB}:{keyring.kek_active}:{slot}")
        return RotationStep("rewrapping", f"{status.to_rewrap} data keys are still to be re-wrapped.", keyring)
    if status.destroy_due:
        remaining = {v: k for v, k in keyring.kek.items() if v not in status.destroy_due}
        new = replace(keyring, kek=remaining)
        replace_key_file(path, new)
        for version in status.destroy_due:
            (await _version_row(session, version)).destroyed_at = now
        record(session, actor, "keys.kek_destroyed", detail={"versions": list(status.destroy_due)})
        return RotationStep(
            "destroyed",
            f"Retired KEK {', '.join(map(str, status.destroy_due))} destroyed: backups older than the window can no "
            "longer be decrypted.",
            new,
        )
    if not start:
        return RotationStep("nothing", "No rotation step is due.", keyring)
    new = with_pending_kek(keyring)
    version = max(new.kek)
    replace_key_file(path, new)
    _record_check_values(session, new, stored)
    (await _version_row(session, version)).added_at = now
    record(session, actor, "keys.kek_added", detail={"version": version})
    return RotationStep(
        "added",
        f"KEK {version} added. Run 'civicvoice keys rotate' again once every process has loaded it "
        "('civicvoice keys status' shows which have).",
        new,
    )


# --- re-wrapping -----------------------------------------------------------------------------------------

REWRAP_JOB = "keys.rewrap"


def _owner(row: DataKey) -> str:
    if row.subject_id is not None:
        return subject_owner(row.subject_id)
    assert row.period is not None
    return period_owner(row.period)


async def active_since(session: AsyncSession, keyring: Keyring) -> datetime | None:
    """When the active KEK became active (or was created, for the first one); None when not recorded."""
    row = await session.scalar(select(KekVersion).where(KekVersion.version == keyring.kek_active))
    if row is not None and (row.activated_at or row.added_at):
        return row.activated_at or row.added_at
    first_check = await session.scalar(
        select(KeyCheck.created_at).where(KeyCheck.purpose == f"kek:{keyring.kek_active}")
    )
    return first_check


async def activated_version(session: AsyncSession) -> int | None:
    """The KEK version last activated by a rotation: the one re-wrapping targets, whatever a process's file says."""
    version: int | None = await session.scalar(
        select(KekVersion.version).where(KekVersion.activated_at.is_not(None)).order_by(KekVersion.version.desc())
    )
    return version


async def rewrap_batch(session: AsyncSession, keyring: Keyring, *, batch: int = REWRAP_BATCH) -> int | None:
    """Re-wrap up to ``batch`` data keys under the activated KEK (rows locked; others skip them). Returns how many,
    or None when this process has not loaded that key yet. When none are left, marks older versions retired.

    The target comes from the database, never from this process's key file alone: a process that has not yet
    reloaded the file after activation must not wrap keys back under the old version."""
    target = await activated_version(session)
    if target is not None and target != keyring.kek_active:
        if target not in keyring.kek:
            return None
        keyring = replace(keyring, kek_active=target)
    rows = (
        await session.scalars(
            select(DataKey)
            .where(DataKey.wrapped.is_not(None), DataKey.kek_version != keyring.kek_active)
            .limit(batch)
            .with_for_update(skip_locked=True)
        )
    ).all()
    for row in rows:
        assert row.wrapped is not None
        wrapped = rewrap(keyring, WrappedKey(row.kek_version, row.wrapped), owner=_owner(row))
        row.kek_version, row.wrapped = wrapped.kek_version, wrapped.blob
    if not rows:
        now = utcnow()
        for version in keyring.kek:
            if version < keyring.kek_active:
                row_version = await _version_row(session, version)
                if row_version.retired_at is None:
                    row_version.retired_at = now
                    record(session, Actor.system(), "keys.kek_retired", detail={"version": version})
    await session.flush()
    return len(rows)


# --- every process: reload the key file when it changes, and say what it holds --------------------------


class KeyringWatcher:
    """Holds the process's keyring, reloads the key file when it changes and reports the versions it holds."""

    def __init__(
        self,
        settings: Settings,
        keyring: Keyring,
        *,
        role: str = "service",
        on_reload: list[Callable[[Keyring], None]] | None = None,
    ) -> None:
        self.settings = settings
        self.keyring = keyring
        self.role = role
        self.process = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.on_reload = on_reload or []
        self._mtime = self._file_mtime()
        self._task: asyncio.Task[None] | None = None

    def _file_mtime(self) -> float | None:
        if self.settings.keys_json:
            return None
        try:
            return self.settings.key_file.stat().st_mtime_ns / 1e9
        except OSError:
            return None

    def reload_if_changed(self) -> bool:
        mtime = self._file_mtime()
        if mtime is None or mtime == self._mtime:
            return False
        fresh = Keyring.load(key_file=self.settings.key_file, env_value=None)
        if fresh is None:
            return False
        # Never drop a key this process is using for new data: a file missing the active KEK is a mistake.
        if fresh.kek_active not in fresh.kek or keyring_fingerprint(fresh) == keyring_fingerprint(self.keyring):
            self._mtime = mtime
            return False
        self._mtime = mtime
        self.keyring = fresh
        for callback in self.on_reload:
            callback(fresh)
        log.info("keys_reloaded", kek_versions=sorted(fresh.kek), kek_active=fresh.kek_active)
        return True

    async def heartbeat(self, sessions: async_sessionmaker[AsyncSession], *, now: datetime | None = None) -> None:
        now = now or utcnow()
        async with sessions() as session, session.begin():
            row = await session.scalar(select(KeyHolder).where(KeyHolder.process == self.process))
            if row is None:
                row = KeyHolder(
                    process=self.process, role=self.role, started_at=now, kek_versions=[], index_versions=[]
                )
                session.add(row)
            row.kek_versions = sorted(self.keyring.kek)
            row.index_versions = sorted(self.keyring.index)
            row.seen_at = now

    async def forget(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        async with sessions() as session, session.begin():
            row = await session.scalar(select(KeyHolder).where(KeyHolder.process == self.process))
            if row is not None:
                await session.delete(row)

    async def run(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        while True:
            try:
                self.reload_if_changed()
                await self.heartbeat(sessions)
            except Exception as exc:  # a bad key file or a database hiccup must not stop the process
                log.warning("keys_watch_failed", error_type=type(exc).__name__)
            await asyncio.sleep(HEARTBEAT.total_seconds())


def keyring_fingerprint(keyring: Keyring) -> tuple[tuple[str, str], ...]:
    # The active index version too: activating a new index key changes nothing else in the file.
    return (
        *sorted(keyring.check_values().items()),
        ("kek_active", str(keyring.kek_active)),
        ("index_active", str(keyring.index_active)),
    )
