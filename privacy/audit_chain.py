"""The tamper-evident audit log: one sealing job chains committed entries by SHA-256; `verify` finds tampering.

Writers only insert audit rows (in their own transaction). The sealer gives each unsealed entry the next
sequence number, the previous entry's hash and its own hash over its content (the encrypted reason included),
so an edited, deleted or reordered entry breaks the chain at that entry. The chain head is also written outside
the database (a file and the log), so a truncated tail or a restored old database shows. Signed checkpoints let
retention prune entries older than six years while the rest still verifies from the checkpoint.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import structlog
from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import String, delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from civicvoice.core.audit import AuditEvent
from civicvoice.core.clock import utcnow
from civicvoice.core.crypto import content_digest, derive_key
from civicvoice.core.datamap import DataMapEntry, FileStore
from civicvoice.core.db import Base
from civicvoice.core.settings import Settings
from privacy.keyring import Keyring

log = structlog.get_logger("civicvoice.audit")

GENESIS = "0" * 64
CHECKPOINT_EVERY = 1000
HEAD_FILE_NAME = "audit-head.jsonl"

HEAD_FILE_STORE = FileStore(
    name="audit chain head",
    purpose="Detect a truncated or restored audit log (sequence numbers and hashes only)",
    location=f"$CIVICVOICE_DATA_DIR/{HEAD_FILE_NAME} and the service log",
    holds=(),
    category="none",
    lawful_basis="none",
    retention="6 years",
)


class AuditCheckpoint(Base):
    """A signed statement that the chain had this hash at this position: verification starts from one after
    retention has pruned the entries before it."""

    __tablename__ = "audit_checkpoint"
    __datamap__ = DataMapEntry.no_personal_data(
        "Signed positions of the audit chain, so pruning old entries keeps the rest verifiable", retention="6 years"
    )

    seq: Mapped[int] = mapped_column(unique=True)
    entry_hash: Mapped[str] = mapped_column(String(64))
    # When the checkpointed entry happened: retention prunes up to the newest checkpoint older than its cut-off.
    occurred_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True), default=utcnow)
    signature: Mapped[str] = mapped_column(String(64))


def checkpoint_key(keyring: Keyring) -> bytes:
    """The checkpoint-signing key, derived from the token key under its own label (shares nothing usable)."""
    return derive_key(keyring.token, b"civicvoice audit checkpoint key v1")


def sign_checkpoint(key: bytes, seq: int, entry_hash: str) -> str:
    return hmac.new(key, f"audit checkpoint|{seq}|{entry_hash}".encode(), hashlib.sha256).hexdigest()


def entry_digest(entry: AuditEvent, seq: int, prev_hash: str) -> str:
    """SHA-256 over everything an entry says, in a canonical form, chained to the previous entry."""
    content = [
        seq,
        prev_hash,
        str(entry.id),
        entry.occurred_at.isoformat(),
        entry.actor_kind,
        entry.actor_id,
        entry.action,
        entry.target_kind,
        entry.target_id,
        entry.detail,
        base64.b64encode(entry.reason_ciphertext).decode() if entry.reason_ciphertext is not None else None,
    ]
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str)
    return content_digest(canonical)


@dataclass(frozen=True)
class ChainHead:
    seq: int
    entry_hash: str


async def chain_head(session: AsyncSession) -> ChainHead:
    row = (
        await session.execute(
            select(AuditEvent.seq, AuditEvent.entry_hash)
            .where(AuditEvent.seq.is_not(None))
            .order_by(AuditEvent.seq.desc())
            .limit(1)
        )
    ).first()
    if row is None or row[0] is None:
        checkpoint = await session.scalar(select(AuditCheckpoint).order_by(AuditCheckpoint.seq.desc()).limit(1))
        return ChainHead(checkpoint.seq, checkpoint.entry_hash) if checkpoint else ChainHead(0, GENESIS)
    return ChainHead(int(row[0]), str(row[1]))


@dataclass(frozen=True)
class SealResult:
    sealed: int
    head: ChainHead


async def seal(session: AsyncSession, keyring: Keyring, *, batch: int = 5000) -> SealResult:
    """Chain the unsealed entries, oldest first (ids are time-ordered), in the caller's transaction.

    Two sealers at once would give two entries one position; the unique sequence index refuses the second, whose
    transaction rolls back and whose entries are sealed by the next run.
    """
    head = await chain_head(session)
    entries = list(
        (
            await session.scalars(
                select(AuditEvent)
                .where(AuditEvent.seq.is_(None))
                .order_by(AuditEvent.occurred_at, AuditEvent.id)
                .limit(batch)
            )
        ).all()
    )
    key = checkpoint_key(keyring)
    seq, prev = head.seq, head.entry_hash
    for entry in entries:
        seq += 1
        digest = entry_digest(entry, seq, prev)
        entry.seq, entry.prev_hash, entry.entry_hash = seq, prev, digest
        if seq % CHECKPOINT_EVERY == 0:
            session.add(
                AuditCheckpoint(
                    seq=seq,
                    entry_hash=digest,
                    occurred_at=entry.occurred_at,
                    created_at=utcnow(),
                    signature=sign_checkpoint(key, seq, digest),
                )
            )
        prev = digest
    await session.flush()
    return SealResult(len(entries), ChainHead(seq, prev))


def head_file(settings: Settings) -> Path:
    return settings.data_dir / HEAD_FILE_NAME


def publish_head(settings: Settings, head: ChainHead, *, now: datetime | None = None) -> None:
    """Write the head outside the database: appended to a file (fsynced) and to the service log."""
    if head.seq == 0:
        return
    path = head_file(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps({"seq": head.seq, "hash": head.entry_hash, "at": (now or utcnow()).isoformat()})
    last = _last_published(path)
    if last is not None and last.get("seq") == head.seq and last.get("hash") == head.entry_hash:
        return
    with path.open("a", encoding="utf-8") as handle:
        handle.write(line + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    log.info("audit_head", seq=head.seq, hash=head.entry_hash)


def _last_published(path: Path) -> dict[str, Any] | None:
    """The file's last head, read from its end: the sealer runs every minute and the file only grows."""
    if not path.exists():
        return None
    with path.open("rb") as handle:
        handle.seek(0, os.SEEK_END)
        handle.seek(max(0, handle.tell() - 4096))
        lines = handle.read().decode("utf-8", errors="replace").splitlines()
    for line in reversed(lines):
        try:
            value = json.loads(line)
        except json.JSONDecodeError:
            continue  # a torn line, or the partial first line of the tail
        if isinstance(value, dict):
            return value
    return None


def read_published_heads(settings: Settings) -> list[dict[str, Any]]:
    path = head_file(settings)
    if not path.exists():
        return []
    heads = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            value = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(value, dict) and isinstance(value.get("seq"), int) and isinstance(value.get("hash"), str):
            heads.append(value)
    return heads


@dataclass(frozen=True)
class Problem:
    """The first thing wrong with the chain, named so an investigator can find the row."""

    seq: int | None
    entry_id: str | None
    kind: str  # "edited", "missing", "reordered", "bad-checkpoint", "truncated", "unsealed-gap"
    detail: str


@dataclass(frozen=True)
class Verification:
    checked: int
    first: int | None
    last: int | None
    unsealed: int
    problem: Problem | None

    @property
    def ok(self) -> bool:
        return self.problem is None

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "checked": self.checked,
            "first_seq": self.first,
            "last_seq": self.last,
            "unsealed": self.unsealed,
            "problem": None
            if self.problem is None
            else {
                "seq": self.problem.seq,
                "entry_id": self.problem.entry_id,
                "kind": self.problem.kind,
                "detail": self.problem.detail,
            },
        }


async def verify(
    session: AsyncSession, keyring: Keyring, *, published: Sequence[dict[str, Any]] = (), page: int = 5000
) -> Verification:
    """Walk the chain in sequence order and stop at the first broken, missing or reordered entry."""
    key = checkpoint_key(keyring)
    unsealed = int(await session.scalar(select(func.count()).where(AuditEvent.seq.is_(None))) or 0)
    first = await session.scalar(select(func.min(AuditEvent.seq)))
    checked = 0
    if first is None:
        return Verification(0, None, None, unsealed, _truncation(published, ChainHead(0, GENESIS)))
    prev = GENESIS
    expected = 1
    if first > 1:
        # Entries before `first` were pruned by retention: the chain restarts from a signed checkpoint.
        checkpoint = await session.scalar(select(AuditCheckpoint).where(AuditCheckpoint.seq == first - 1))
        if checkpoint is None:
            return Verification(
                0, first, None, unsealed, Problem(1, None, "missing", f"entries 1 to {first - 1} are missing")
            )
        if not hmac.compare_digest(checkpoint.signature, sign_checkpoint(key, checkpoint.seq, checkpoint.entry_hash)):
            return Verification(
                0,
                first,
                None,
                unsealed,
                Problem(checkpoint.seq, None, "bad-checkpoint", "the checkpoint's signature does not match"),
            )
        prev, expected = checkpoint.entry_hash, first
    last_seq = 0
    while True:
        rows = list(
            (
                await session.scalars(
                    select(AuditEvent).where(AuditEvent.seq >= expected).order_by(AuditEvent.seq).limit(page)
                )
            ).all()
        )
        if not rows:
            break
        for entry in rows:
            assert entry.seq is not None
            if entry.seq != expected:
                return Verification(
                    checked,
                    first,
                    last_seq,
                    unsealed,
                    Problem(expected, None, "missing", f"entry {expected} is missing (the next is {entry.seq})"),
                )
            if entry.prev_hash != prev:
                return Verification(
                    checked,
                    first,
                    last_seq,
                    unsealed,
                    Problem(
                        entry.seq,
                        str(entry.id),
                        "reordered",
                        f"entry {entry.seq} does not follow entry {entry.seq - 1} (moved, reordered or replaced)",
                    ),
                )
            if entry.entry_hash != entry_digest(entry, entry.seq, prev):
                return Verification(
                    checked,
                    first,
                    last_seq,
                    unsealed,
                    Problem(entry.seq, str(entry.id), "edited", f"entry {entry.seq} was changed after it was sealed"),
                )
            prev = entry.entry_hash
            last_seq = entry.seq
            expected += 1
            checked += 1
    head = ChainHead(last_seq, prev)
    problem = _truncation(published, head) or await confirm_published(session, published)
    return Verification(checked, first, last_seq, unsealed, problem)


def _truncation(published: Sequence[dict[str, Any]], head: ChainHead) -> Problem | None:
    """The database's chain must reach every head published outside it, with the same hash at that position."""
    if not published:
        return None
    newest = max(published, key=lambda h: int(h["seq"]))
    if int(newest["seq"]) > head.seq:
        return Problem(
            head.seq + 1,
            None,
            "truncated",
            f"the chain ends at entry {head.seq} but entry {newest['seq']} was published outside the database "
            f"at {newest.get('at', 'an earlier time')}: entries were deleted or an old database was restored",
        )
    return None


async def confirm_published(session: AsyncSession, published: Sequence[dict[str, Any]]) -> Problem | None:
    """Each published head's hash must be the hash stored at its position (a rewritten chain shows here)."""
    for head in published:
        stored = await session.scalar(select(AuditEvent.entry_hash).where(AuditEvent.seq == int(head["seq"])))
        if stored is not None and stored != head["hash"]:
            return Problem(
                int(head["seq"]),
                None,
                "edited",
                f"entry {head['seq']} differs from the hash published outside the database at {head.get('at')}",
            )
    return None


async def prune_before(session: AsyncSession, cutoff: datetime) -> int:
    """Delete sealed entries up to the newest checkpoint older than ``cutoff``; the chain still verifies."""
    checkpoint = await session.scalar(
        select(AuditCheckpoint)
        .where(AuditCheckpoint.occurred_at < cutoff)
        .order_by(AuditCheckpoint.seq.desc())
        .limit(1)
    )
    if checkpoint is None:
        return 0
    result = await session.execute(delete(AuditEvent).where(AuditEvent.seq <= checkpoint.seq))
    await session.execute(delete(AuditCheckpoint).where(AuditCheckpoint.seq < checkpoint.seq))
    return int(getattr(result, "rowcount", 0) or 0)


async def seal_once(session: AsyncSession, keyring: Keyring) -> SealResult | None:
    """One sealing run in a savepoint: None when another sealer won the race (its entries are sealed there)."""
    try:
        async with session.begin_nested():
            return await seal(session, keyring)
    except IntegrityError:
        return None
