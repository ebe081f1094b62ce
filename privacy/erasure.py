"""Erasure by crypto-shredding: destroy the person's data key, drop their blind indexes, keep a ledger of ids and
dates, then purge their ciphertext and links in the background.

Everything they said was encrypted under their own key, so destroying it erases it everywhere at once, backups
included once the retired KEKs are gone. Clear, non-identifying facts (scores, channel, service, dates) stay, so
scorecard totals do not change. Legal holds (an open complaint case, litigation) block it, with the reason
shown. The ledger entry is appended outside the database before the key row is destroyed, so after a restore
from backup `civicvoice privacy reapply-erasures` shreds again whoever the restored database forgot.
"""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import structlog
from advanced_alchemy.types import GUID, DateTimeUTC
from sqlalchemy import Date, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from civicvoice.core.audit import Actor, record
from civicvoice.core.clock import utcnow
from civicvoice.core.datamap import DataMapEntry, FileStore
from civicvoice.core.db import Base
from civicvoice.core.errors import CivicVoiceError
from civicvoice.core.jobs import enqueue_once
from civicvoice.core.settings import Settings
from privacy.datamap import data_map
from privacy.holds import LegalHold, LegalHoldSource, holds_on
from privacy.models import DataKey, DataSubject, SubjectConflict, SubjectIndex, SubjectNameIndex
from privacy.scrubbing import scrub_rows

log = structlog.get_logger("civicvoice.erasure")

LEDGER_FILE_NAME = "erasure-ledger.jsonl"
PURGE_JOB = "privacy.purge_erased"

LEDGER_FILE_STORE = FileStore(
    name="erasure ledger copy",
    purpose="Re-apply erasures after a restore from backup (person ids and dates only)",
    location=f"$CIVICVOICE_DATA_DIR/{LEDGER_FILE_NAME} and the service log",
    holds=(),
    category="none",
    lawful_basis="none",
    retention="as long as any backup that predates the erasure may be restored",
)


class ErasureLedger(Base):
    """One erasure: ids and dates only, outside the erased rows."""

    __tablename__ = "erasure_ledger"
    __datamap__ = DataMapEntry.no_personal_data(
        "Which person ids were erased and when, to re-apply erasures after a restore (ids and dates only)",
        retention="as long as backups that predate the erasure exist",
    )

    # The id of a person who no longer exists: not a link (the ledger outlives the erased rows).
    erased_subject_id: Mapped[uuid.UUID] = mapped_column(GUID, unique=True)
    erased_on: Mapped[date] = mapped_column(Date)
    request_id: Mapped[uuid.UUID | None] = mapped_column(GUID)
    purged_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True))


class ErasureBlocked(CivicVoiceError):
    status = 409
    slug = "erasure-blocked"
    title = "This person's data is held"


class UnknownPerson(CivicVoiceError):
    status = 404
    slug = "unknown-person"
    title = "No such person"


@dataclass(frozen=True)
class ErasureResult:
    subject_id: uuid.UUID
    erased: bool  # False when they had been erased already (a re-run is a no-op)
    erased_on: date


def ledger_file(settings: Settings) -> Path:
    return settings.data_dir / LEDGER_FILE_NAME


async def append_to_ledger_file(settings: Settings, entries: Sequence[tuple[uuid.UUID, date]]) -> None:
    """Written (and fsynced) before the key rows are destroyed, so no erasure is ever missing from it. The write and
    its fsync run in a thread: a slow disk holds up this erasure, never the other requests on the event loop."""
    if entries:
        await asyncio.to_thread(_append_lines, ledger_file(settings), entries)
    for subject_id, erased_on in entries:
        log.info("erasure_ledger", subject_id=str(subject_id), erased_on=erased_on.isoformat())


def _append_lines(path: Path, entries: Sequence[tuple[uuid.UUID, date]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = "".join(
        json.dumps({"subject_id": str(subject_id), "erased_on": erased_on.isoformat()}) + "\n"
        for subject_id, erased_on in entries
    )
    with path.open("a", encoding="utf-8") as handle:
        handle.write(lines)
        handle.flush()
        os.fsync(handle.fileno())


def read_ledger_file(settings: Settings) -> list[tuple[uuid.UUID, date]]:
    path = ledger_file(settings)
    if not path.exists():
        return []
    entries = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            value = json.loads(line)
            entries.append((uuid.UUID(value["subject_id"]), date.fromisoformat(value["erased_on"])))
        except (ValueError, KeyError, TypeError):
            continue  # a torn last line after a crash
    return entries


async def erase(
    session: AsyncSession,
    settings: Settings,
    subject_id: uuid.UUID,
    *,
    actor: Actor,
    holds: Iterable[LegalHoldSource],
    request_id: uuid.UUID | None = None,
    now: datetime | None = None,
) -> ErasureResult:
    """Shred one person in the caller's transaction; the purge job is enqueued in it. Idempotent."""
    now = now or utcnow()
    subject = await session.scalar(select(DataSubject).where(DataSubject.id == subject_id).with_for_update())
    if subject is None:
        done = await session.scalar(select(ErasureLedger).where(ErasureLedger.erased_subject_id == subject_id))
        if done is not None:
            return ErasureResult(subject_id, False, done.erased_on)
        raise UnknownPerson("No person with that id.", field="subject_id")
    if subject.erased_at is not None:
        return ErasureResult(subject_id, False, subject.erased_at.date())
    found = await holds_on(session, subject_id, holds)
    if found:
        raise ErasureBlocked(
            "Erasure is blocked: " + "; ".join(hold.reason for hold in found) + ".",
            extra={"holds": [{"kind": h.kind, "reason": h.reason} for h in found]},
        )
    erased_on = now.date()
    await append_to_ledger_file(settings, [(subject_id, erased_on)])
    await shred(session, subject_id, now)
    session.add(ErasureLedger(erased_subject_id=subject_id, erased_on=erased_on, request_id=request_id))
    record(session, actor, "privacy.erase", target_kind="data_subject", target_id=subject_id)
    await enqueue_once(session, PURGE_JOB, {"subject_id": subject_id}, key=f"{PURGE_JOB}:{subject_id}:{erased_on}")
    return ErasureResult(subject_id, True, erased_on)


async def shred(session: AsyncSession, subject_id: uuid.UUID, now: datetime) -> None:
    """The irreversible step: the data key, the identity ciphertext and the blind indexes go."""
    keys = await session.execute(
        update(DataKey).where(DataKey.subject_id == subject_id).values(wrapped=None, destroyed_at=now)
    )
    await session.execute(delete(SubjectIndex).where(SubjectIndex.subject_id == subject_id))
    await session.execute(delete(SubjectNameIndex).where(SubjectNameIndex.subject_id == subject_id))
    await session.execute(
        delete(SubjectConflict).where(
            (SubjectConflict.chosen_subject_id == subject_id) | (SubjectConflict.other_subject_id == subject_id)
        )
    )
    await session.execute(
        update(DataSubject).where(DataSubject.id == subject_id).values(identity_ciphertext=None, erased_at=now)
    )
    # A person the vault never gave a key (no data yet) gets a destroyed tombstone, so none is ever made for them.
    if keys.rowcount == 0:  # type: ignore[attr-defined]
        session.add(DataKey(subject_id=subject_id, kek_version=0, wrapped=None, created_at=now, destroyed_at=now))


# --- the background purge --------------------------------------------------------------------------------

# Kept by the erasure itself: the person's tombstone, their destroyed key; indexes and conflicts are gone already.
_KEEP = frozenset({"data_subject", "data_key", "subject_index", "subject_name_index", "subject_conflict"})


async def purge(session: AsyncSession, subject_id: uuid.UUID, *, base: Any = Base) -> dict[str, int]:
    """Null the person's ciphertext and unlink their rows, leaving the clear facts; returns rows touched per table."""
    touched: dict[str, int] = {}
    tables = base.metadata.tables
    for name, entry in data_map(base).items():
        if entry is None or entry.subject_kind != "customer" or not entry.subject_link or name in _KEEP:
            continue
        touched.update(await scrub_rows(session, base, name, tables[name].c[entry.subject_link] == subject_id))
    await session.execute(
        update(ErasureLedger).where(ErasureLedger.erased_subject_id == subject_id).values(purged_at=utcnow())
    )
    return touched


async def reapply_erasures(
    session: AsyncSession, settings: Settings, *, actor: Actor, extra: Sequence[tuple[uuid.UUID, date]] = ()
) -> dict[str, int]:
    """After a restore: shred everyone in the ledger (database and file) who is not shredded in this database."""
    entries = {sid: on for sid, on in read_ledger_file(settings)}
    entries.update(dict(extra))
    for row in (await session.scalars(select(ErasureLedger))).all():
        entries.setdefault(row.erased_subject_id, row.erased_on)
    reapplied = 0
    now = utcnow()
    for subject_id, erased_on in sorted(entries.items()):
        subject = await session.scalar(select(DataSubject).where(DataSubject.id == subject_id).with_for_update())
        key = await session.scalar(
            select(DataKey).where(DataKey.subject_id == subject_id, DataKey.wrapped.is_not(None))
        )
        needs = subject is not None and (subject.erased_at is None or key is not None)
        if needs:
            await shred(session, subject_id, now)
            reapplied += 1
        if await session.scalar(select(ErasureLedger.id).where(ErasureLedger.erased_subject_id == subject_id)) is None:
            session.add(ErasureLedger(erased_subject_id=subject_id, erased_on=erased_on))
        if needs:
            await enqueue_once(session, PURGE_JOB, {"subject_id": subject_id}, key=f"{PURGE_JOB}:{subject_id}:re")
    record(session, actor, "privacy.reapply_erasures", detail={"ledger": len(entries), "reapplied": reapplied})
    return {"ledger": len(entries), "reapplied": reapplied}


__all__ = ["ErasureBlocked", "ErasureLedger", "LegalHold", "erase", "purge", "reapply_erasures"]
