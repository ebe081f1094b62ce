"""Blind-index key rotation: a new index key, every person re-indexed under it in the background, the old key
retired once nothing needs it. Search works throughout, because lookups consult every index-key version held.

Staged like the KEK rotation (`privacy.key_rotation`), because web and worker processes on other machines hold
the key file too: `civicvoice keys rotate --index` run again and again takes the step that is due.

1. added: a new index key version is written to the key file, not yet active. Processes reload the file and,
   from then on, look people up under it as well (nothing is indexed under it yet).
2. activated: once every live process holds it, it becomes active (new people and identifiers are indexed under
   it) and the re-index job is queued. The job re-indexes every person in bounded batches, each its own
   transaction, moving a cursor kept in `index_rotation`: a crash resumes from the last committed batch. When
   the cursor reaches the end, a last sweep picks up anyone a lagging process indexed under the old key only,
   and the old version's person indexes are deleted (the new ones now cover everyone).
3. retired: contact references are kept only as keyed hashes (their plain value is never stored), so they cannot
   be re-indexed; they stay findable under the old key until every contact indexed under it is past the
   contacts retention period. Then the old key is removed from the key file and its check value deleted.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import structlog
from advanced_alchemy.types import GUID, DateTimeUTC
from sqlalchemy import and_, case, delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from civicvoice.core.audit import Actor, record
from civicvoice.core.clock import utcnow
from civicvoice.core.datamap import DataMapEntry
from civicvoice.core.db import Base, table
from civicvoice.core.ids import new_id
from civicvoice.core.jobs import enqueue_once
from civicvoice.core.settings import Settings
from privacy.blind_index import BlindIndexer, normalise_name
from privacy.exceptions import InvalidIdentifier, KeyProblem
from privacy.key_rotation import HOLDER_TTL, KeyHolder, key_file_of, replace_key_file
from privacy.keyring import Keyring, _new_key
from privacy.models import DataSubject, KeyCheck, SubjectIndex, SubjectNameIndex
from privacy.retention import cutoff, retention_months
from privacy.vault import IDENTITY_FIELD, Identity, Vault

log = structlog.get_logger("civicvoice.keys")

REINDEX_JOB = "keys.reindex"
REINDEX_BATCH = 500
CONTACT_TABLE = "contact"


class IndexRotation(Base):
    """One blind-index key version's rotation: when it was added and activated, how far re-indexing has gone,
    and when the version before it was retired."""

    __tablename__ = "index_rotation"
    __datamap__ = DataMapEntry.no_personal_data("Progress of a blind-index key rotation (versions, counts, dates)")

    version: Mapped[int] = mapped_column(unique=True)
    previous: Mapped[int]
    added_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True), default=utcnow)
    activated_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True))
    # The last person re-indexed (ids are UUIDv7, so people created later sort after it): where a run resumes.
    cursor: Mapped[uuid.UUID | None] = mapped_column(GUID)
    reindexed: Mapped[int] = mapped_column(default=0)
    reindexed_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True))
    retired_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True))


def with_pending_index_key(keyring: Keyring) -> Keyring:
    """A copy with a new index key version above every other, not yet active."""
    version = max(keyring.index) + 1
    return replace(keyring, index={**keyring.index, version: _new_key()})


@dataclass(frozen=True)
class IndexStatus:
    stage: str  # idle, waiting-for-processes, reindexing, waiting-for-contacts, retire-due
    active: int
    versions: tuple[int, ...]
    rotating_to: int | None
    people: int
    reindexed: int
    lacking: tuple[str, ...]
    contacts_under_old: int
    contacts_clear_after: str | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "stage": self.stage,
            "active": self.active,
            "versions": list(self.versions),
            "rotating_to": self.rotating_to,
            "people": self.people,
            "reindexed": self.reindexed,
            "lacking": list(self.lacking),
            "contacts_under_old_key": self.contacts_under_old,
            "contacts_clear_after": self.contacts_clear_after,
        }


async def _open_rotation(session: AsyncSession) -> IndexRotation | None:
    row: IndexRotation | None = await session.scalar(
        select(IndexRotation).where(IndexRotation.retired_at.is_(None)).order_by(IndexRotation.version.desc())
    )
    return row


async def _contacts_under(session: AsyncSession, versions: list[int], now: datetime, base: Any) -> tuple[int, Any]:
    """Contacts still inside their retention period whose reference is indexed only under one of ``versions``,
    and the latest of their dates (after which, plus the period, none is left)."""
    if not versions:
        return 0, None
    contacts = base.metadata.tables[CONTACT_TABLE]
    months = (await retention_months(session))["contacts"]
    live = and_(contacts.c.ref_key_version.in_(versions), contacts.c.occurred_at >= cutoff(now, months))
    count = int(await session.scalar(select(func.count()).select_from(contacts).where(live)) or 0)
    latest = await session.scalar(select(func.max(contacts.c.occurred_at)).where(live)) if count else None
    return count, latest


async def index_status(
    session: AsyncSession, keyring: Keyring, *, now: datetime | None = None, base: Any = Base
) -> IndexStatus:
    now = now or utcnow()
    rotation = await _open_rotation(session)
    people = int(
        await session.scalar(select(func.count()).select_from(DataSubject).where(DataSubject.erased_at.is_(None))) or 0
    )
    holders = (await session.scalars(select(KeyHolder).where(KeyHolder.seen_at >= now - HOLDER_TTL))).all()
    old = [v for v in keyring.index if v != keyring.index_active and (rotation is None or v < rotation.version)]
    if rotation is None:
        return IndexStatus("idle", keyring.index_active, tuple(keyring.index), None, people, 0, (), 0, None)
    lacking = tuple(sorted(h.process for h in holders if rotation.version not in (h.index_versions or [])))
    contacts, latest = await _contacts_under(session, old, now, base)
    clear_after = None
    if latest is not None:
        months = (await retention_months(session))["contacts"]
        clear_after = cutoff(latest, -months).date().isoformat()
    if rotation.activated_at is None:
        stage = "waiting-for-processes" if lacking else "ready-to-activate"
    elif rotation.reindexed_at is None:
        stage = "reindexing"
    elif contacts:
        stage = "waiting-for-contacts"
    else:
        stage = "retire-due"
    return IndexStatus(
        stage,
        keyring.index_active,
        tuple(keyring.index),
        rotation.version,
        people,
        rotation.reindexed,
        lacking,
        contacts,
        clear_after,
    )


@dataclass(frozen=True)
class IndexStep:
    did: str  # added, waiting, activated, reindexing, waiting-for-contacts, retired
    detail: str
    keyring: Keyring


async def advance_index_rotation(
    session: AsyncSession, settings: Settings, *, actor: Actor, now: datetime | None = None, base: Any = Base
) -> IndexStep:
    """Take the index rotation one step further (safe to run again at any stage). Writes the key file for
    "added", "activated" and "retired"; the database changes are in the caller's transaction."""
    now = now or utcnow()
    path = key_file_of(settings)
    keyring = Keyring.load(key_file=path, env_value=None)
    if keyring is None:
        raise KeyProblem(f"The key file {path} does not exist; restore it before rotating keys.")
    status = await index_status(session, keyring, now=now, base=base)
    rotation = await _open_rotation(session)
    if rotation is None:
        new = with_pending_index_key(keyring)
        version = max(new.index)
        replace_key_file(path, new)
        stored = set((await session.scalars(select(KeyCheck.purpose))).all())
        for purpose, value in new.check_values().items():
            if purpose not in stored:
                session.add(KeyCheck(purpose=purpose, value=value, created_at=now))
        session.add(IndexRotation(version=version, previous=keyring.index_active, added_at=now, reindexed=0))
        record(session, actor, "keys.index_added", detail={"version": version})
        return IndexStep(
            "added",
            f"Index key {version} added. Run 'civicvoice keys rotate --index' again once every process has loaded "
            "it ('civicvoice keys status' shows which have).",
            new,
        )
    if rotation.activated_at is None:
        if status.lacking:
            return IndexStep(
                "waiting",
                f"Index key {rotation.version} is added but not yet loaded by: {', '.join(status.lacking)}.",
                keyring,
            )
        if rotation.version not in keyring.index:
            raise KeyProblem(f"Index key {rotation.version} is missing from {path}; restore the key file.")
        new = replace(keyring, index_active=rotation.version)
        replace_key_file(path, new)
        rotation.activated_at = now
        await enqueue_once(session, REINDEX_JOB, {"rotation_id": rotation.id}, key=f"{REINDEX_JOB}:{rotation.id}")
        record(session, actor, "keys.index_activated", detail={"version": rotation.version})
        return IndexStep(
            "activated",
            f"Index key {rotation.version} is active; {status.people} people are being re-indexed in the background.",
            new,
        )
    if rotation.reindexed_at is None:
        # Also after a crash or a dead job: one job per hour slot picks the cursor up where it stopped.
        slot = now.strftime("%Y%m%d%H")
        await enqueue_once(
            session, REINDEX_JOB, {"rotation_id": rotation.id}, key=f"{REINDEX_JOB}:{rotation.id}:{slot}"
        )
        return IndexStep(
            "reindexing", f"{rotation.reindexed} of about {status.people} people re-indexed so far.", keyring
        )
    if status.contacts_under_old:
        return IndexStep(
            "waiting-for-contacts",
            f"Everyone is re-indexed. {status.contacts_under_old} contacts are still found by their reference under "
            f"the old index key; the last passes its retention period on {status.contacts_clear_after}, and the "
            "old key can be retired then.",
            keyring,
        )
    retired = sorted(v for v in keyring.index if v < rotation.version)
    new = replace(keyring, index={v: k for v, k in keyring.index.items() if v >= rotation.version})
    replace_key_file(path, new)
    await session.execute(delete(KeyCheck).where(KeyCheck.purpose.in_([f"index:{v}" for v in retired])))
    rotation.retired_at = now
    record(session, actor, "keys.index_retired", detail={"versions": retired, "active": rotation.version})
    return IndexStep("retired", f"Old index key {', '.join(map(str, retired))} retired and removed.", new)


# --- re-indexing ----------------------------------------------------------------------------------------------


def _rows_for(
    indexer: BlindIndexer, version: int, subject_id: uuid.UUID, identity: Identity
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    rows: list[dict[str, Any]] = [
        {"field": name, "digest": indexer.digest(name, value, version=version)}
        for name, values in (
            ("email", identity.emails),
            ("phone", identity.phones),
            ("external_id", identity.external_ids),
        )
        for value in values
    ]
    for row in rows:
        row.update({"id": new_id(), "subject_id": subject_id, "key_version": version})
    name_row = None
    try:
        normalised = normalise_name(identity.name or "")
    except InvalidIdentifier:
        normalised = ""
    if normalised:
        name_row = {
            "id": new_id(),
            "subject_id": subject_id,
            "key_version": version,
            "digest": indexer.digest("name", normalised, version=version),
        }
    return rows, name_row


async def _reindex(session: AsyncSession, vault: Vault, version: int, subject_ids: list[uuid.UUID]) -> int:
    """Index these people under ``version`` from their decrypted identity (rows they have under it already stay)."""
    if not subject_ids:
        return 0
    people = (
        await session.execute(
            select(DataSubject.id, DataSubject.identity_ciphertext)
            .where(DataSubject.id.in_(subject_ids), DataSubject.erased_at.is_(None))
            .with_for_update()
        )
    ).all()
    await vault.load_subject_keys(session, [p.id for p in people])
    have = {
        (sid, field, digest)
        for sid, field, digest in (
            await session.execute(
                select(SubjectIndex.subject_id, SubjectIndex.field, SubjectIndex.digest).where(
                    SubjectIndex.subject_id.in_(subject_ids), SubjectIndex.key_version == version
                )
            )
        ).all()
    }
    named = set(
        (
            await session.scalars(
                select(SubjectNameIndex.subject_id).where(
                    SubjectNameIndex.subject_id.in_(subject_ids), SubjectNameIndex.key_version == version
                )
            )
        ).all()
    )
    index_rows: list[dict[str, Any]] = []
    name_rows: list[dict[str, Any]] = []
    for subject_id, ciphertext in people:
        if ciphertext is None:
            continue
        try:
            text = await vault.decrypt(session, subject_id, IDENTITY_FIELD, subject_id, ciphertext)
        except Exception as exc:  # one unreadable person must not stop the rotation; logged without data
            log.warning("reindex_person_unreadable", subject_id=str(subject_id), error_type=type(exc).__name__)
            continue
        rows, name_row = _rows_for(vault.indexer, version, subject_id, Identity.from_json(text))
        index_rows.extend(r for r in rows if (subject_id, r["field"], r["digest"]) not in have)
        if name_row is not None and subject_id not in named:
            name_rows.append(name_row)
    index_rows.sort(key=lambda r: (r["field"], r["digest"]))
    if index_rows:
        await session.execute(insert(table(SubjectIndex)), index_rows)
    if name_rows:
        await session.execute(insert(table(SubjectNameIndex)), name_rows)
    return len(people)


async def _missing_under(session: AsyncSession, version: int) -> list[uuid.UUID]:
    """People with more index rows for some field under older versions than under ``version``."""
    old = func.sum(case((SubjectIndex.key_version < version, 1), else_=0))
    new = func.sum(case((SubjectIndex.key_version == version, 1), else_=0))
    rows = await session.execute(
        select(SubjectIndex.subject_id).group_by(SubjectIndex.subject_id, SubjectIndex.field).having(old > new)
    )
    return sorted({r[0] for r in rows}, key=str)


async def reindex_batch(
    session: AsyncSession, vault: Vault, rotation_id: uuid.UUID, *, batch: int = REINDEX_BATCH
) -> bool | None:
    """Re-index the next ``batch`` people after the cursor; True when everyone is done, None when this process
    has not loaded the new key yet. The rotation row is locked, so two runs never take the same batch."""
    rotation = await session.scalar(select(IndexRotation).where(IndexRotation.id == rotation_id).with_for_update())
    if rotation is None or rotation.reindexed_at is not None or rotation.retired_at is not None:
        return True
    if rotation.version not in vault.keyring.index:
        return None
    stmt = select(DataSubject.id).where(DataSubject.erased_at.is_(None)).order_by(DataSubject.id).limit(batch)
    if rotation.cursor is not None:
        stmt = stmt.where(DataSubject.id > rotation.cursor)
    ids = list((await session.scalars(stmt)).all())
    done = await _reindex(session, vault, rotation.version, ids)
    rotation.reindexed += done
    if ids:
        rotation.cursor = ids[-1]
    if len(ids) < batch:
        # A lagging process may have indexed someone under an old key only: sweep them up, then the old
        # version's person indexes go (everyone has their rows under the new one).
        missed = await _missing_under(session, rotation.version)
        if missed:
            await _reindex(session, vault, rotation.version, missed[:batch])
            await session.flush()
            missed = await _missing_under(session, rotation.version)
            if len(missed) >= batch:
                await session.flush()
                return False
        # Anyone still missing could not be read (logged): their old rows stay until the old key is retired.
        keep = sorted(set(missed), key=str)
        await session.execute(
            delete(SubjectIndex).where(
                SubjectIndex.key_version < rotation.version, SubjectIndex.subject_id.not_in(keep)
            )
        )
        await session.execute(
            delete(SubjectNameIndex).where(
                SubjectNameIndex.key_version < rotation.version, SubjectNameIndex.subject_id.not_in(keep)
            )
        )
        rotation.reindexed_at = utcnow()
        record(
            session,
            Actor.system(),
            "keys.index_reindexed",
            detail={"version": rotation.version, "people": rotation.reindexed},
        )
        log.info("index_reindexed", version=rotation.version, people=rotation.reindexed)
        await session.flush()
        return True
    await session.flush()
    return False


__all__ = ["REINDEX_JOB", "IndexRotation", "advance_index_rotation", "index_status", "reindex_batch"]
