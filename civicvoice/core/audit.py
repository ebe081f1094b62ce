"""The audit table: every privileged action, written in the same transaction as the action itself.

Writers only insert; one sealing job (privacy's audit chain) later gives each committed entry its place in a
SHA-256 chain, so no writer ever waits on a chain head.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from advanced_alchemy.types import DateTimeUTC, JsonB
from sqlalchemy import Index, LargeBinary, String
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from civicvoice.core.clock import utcnow
from civicvoice.core.datamap import DataMapEntry, RetentionRule
from civicvoice.core.db import Base


@dataclass(frozen=True)
class Actor:
    """Who did it: a staff user, an API key, the command line or the system itself (ids, never names)."""

    kind: str
    id: str

    @classmethod
    def cli(cls) -> Actor:
        return cls("cli", "operator")

    @classmethod
    def system(cls) -> Actor:
        return cls("system", "civicvoice")


class AuditEvent(Base):
    __tablename__ = "audit_event"
    __datamap__ = DataMapEntry(
        purpose="Accountability for privileged actions (Art. 5(2))",
        holds=("staff user id",),
        category="staff activity",
        lawful_basis="legal_obligation",
        retention="6 years",
        subject_kind="staff",
        subject_link="actor_id",
        retention_rule=RetentionRule("audit_log", "occurred_at", "delete"),
    )
    __table_args__ = (
        Index("ix_audit_event_occurred_at", "occurred_at"),
        Index("ix_audit_event_seq", "seq", unique=True),
    )

    occurred_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True), default=utcnow)
    actor_kind: Mapped[str] = mapped_column(String(20))
    actor_id: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(80))
    target_kind: Mapped[str | None] = mapped_column(String(40))
    target_id: Mapped[str | None] = mapped_column(String(64))
    # Detail is ids, counts and names of settings only; no personal data, no secrets.
    detail: Mapped[dict[str, Any]] = mapped_column(JsonB, default=dict)
    # Why, as the operator typed it: encrypted under a yearly audit key that retention destroys (never in clear).
    reason_ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary)
    # The chain, filled in by the sealing job: position, the previous entry's hash and this entry's hash.
    seq: Mapped[int | None]
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    entry_hash: Mapped[str | None] = mapped_column(String(64))


def record(
    session: AsyncSession,
    actor: Actor,
    action: str,
    *,
    target_kind: str | None = None,
    target_id: object | None = None,
    detail: dict[str, Any] | None = None,
    reason_ciphertext: bytes | None = None,
) -> AuditEvent:
    event = AuditEvent(
        occurred_at=utcnow(),
        actor_kind=actor.kind,
        actor_id=actor.id,
        action=action,
        target_kind=target_kind,
        target_id=None if target_id is None else str(target_id),
        detail=detail or {},
        reason_ciphertext=reason_ciphertext,
    )
    session.add(event)
    return event
