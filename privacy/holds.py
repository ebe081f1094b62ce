"""Legal holds: what keeps a person's records from erasure and retention, asked of every feature that holds some.

Features register a check through `LEGAL_HOLDS` (an open complaint case holds its complainant's records); the
DPO's own holds (litigation, an investigation: `DpoHold`, added and released from the CLI and the staff pages,
audited) join them through `DPO_HOLDS`. Privacy asks before it erases or expires anything.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from advanced_alchemy.types import GUID, DateTimeUTC
from sqlalchemy import ForeignKey, Index, String, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from civicvoice.core.audit import Actor, record
from civicvoice.core.clock import utcnow
from civicvoice.core.datamap import DataMapEntry, Link
from civicvoice.core.db import Base
from civicvoice.core.errors import Conflict, InvalidInput, NotFound
from civicvoice.core.services import ExtensionPoint
from privacy.audit_reasons import record_with_reason
from privacy.models import DataSubject
from privacy.vault import Vault


@dataclass(frozen=True)
class LegalHold:
    """One reason a person's records must be kept: shown to the DPO when an erasure is refused or narrowed."""

    kind: str  # "open_complaint", "litigation", ...
    reason: str  # plain English, no personal data
    record_kind: str | None = None  # the record the hold covers ("complaint_case"); None: all of the person's records
    record_id: uuid.UUID | None = None


@dataclass(frozen=True)
class LegalHoldSource:
    """What a feature tells privacy about the holds it places: on one person (before an erasure, with reasons to
    show), and everyone held at once (so a retention run leaves their rows alone without asking row by row)."""

    name: str
    holds_on: Callable[[AsyncSession, uuid.UUID], Awaitable[Iterable[LegalHold]]]
    held_people: Callable[[AsyncSession], Awaitable[set[uuid.UUID]]]


LEGAL_HOLDS: ExtensionPoint[LegalHoldSource] = ExtensionPoint(
    "privacy.legal_holds", "asked which holds cover a person's records before erasure or retention"
)


async def holds_on(session: AsyncSession, subject_id: uuid.UUID, sources: Iterable[LegalHoldSource]) -> list[LegalHold]:
    """Every hold any feature reports on this person, in registration order."""
    found: list[LegalHold] = []
    for source in sources:
        found.extend(await source.holds_on(session, subject_id))
    return found


async def held_people(session: AsyncSession, sources: Iterable[LegalHoldSource]) -> dict[uuid.UUID, str]:
    """Everyone some hold covers, with the name of the first source that holds them."""
    held: dict[uuid.UUID, str] = {}
    for source in sources:
        for subject_id in await source.held_people(session):
            held.setdefault(subject_id, source.name)
    return held


# --- the DPO's own holds ----------------------------------------------------------------------------------

HOLD_KINDS: dict[str, str] = {
    "litigation": "Litigation or a claim",
    "investigation": "An investigation (police, ombudsman, regulator)",
    "complaint": "A complaint being handled outside civicvoice",
    "other": "Another legal reason",
}
HOLD_REASON_MAX = 300


class DpoHold(Base):
    """A hold the DPO placed on a person (litigation, an investigation): their records are neither erased nor
    expired until it is released. The reason is a case reference or short description, without personal details."""

    __tablename__ = "legal_hold"
    __datamap__ = DataMapEntry(
        purpose="Keep a person's records from erasure and retention while a legal matter needs them",
        holds=("link to customer", "kind of legal matter and its reference"),
        category="legal",
        lawful_basis="legal_obligation",
        retention="while the hold stands, then with the person's records",
        subject_link="subject_id",
        links=(Link("created_by", "staff_user"), Link("released_by", "staff_user")),
    )
    __table_args__ = (Index("ix_legal_hold_subject", "subject_id", "released_at"),)

    subject_id: Mapped[uuid.UUID] = mapped_column(GUID, ForeignKey("data_subject.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(String(HOLD_REASON_MAX))
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True), default=utcnow)
    created_by: Mapped[str] = mapped_column(String(64))
    released_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True))
    released_by: Mapped[str | None] = mapped_column(String(64))


class HoldNotFound(NotFound):
    slug = "hold-not-found"
    title = "No such legal hold"


async def _dpo_holds_on(session: AsyncSession, subject_id: uuid.UUID) -> list[LegalHold]:
    rows = await session.scalars(
        select(DpoHold)
        .where(DpoHold.subject_id == subject_id, DpoHold.released_at.is_(None))
        .order_by(DpoHold.created_at)
    )
    return [LegalHold(row.kind, row.reason, None, row.id) for row in rows]


async def _dpo_held_people(session: AsyncSession) -> set[uuid.UUID]:
    return set((await session.scalars(select(DpoHold.subject_id).where(DpoHold.released_at.is_(None)))).all())


DPO_HOLDS = LegalHoldSource("data protection officer's holds", _dpo_holds_on, _dpo_held_people)


def _clean_reason(reason: str) -> str:
    text = " ".join(reason.split())
    if not text:
        raise InvalidInput("Give the reason for the hold, such as a claim or case reference.", field="reason")
    if len(text) > HOLD_REASON_MAX:
        raise InvalidInput(f"Keep the reason to {HOLD_REASON_MAX} characters.", field="reason")
    return text


async def add_hold(session: AsyncSession, subject_id: uuid.UUID, *, kind: str, reason: str, actor: Actor) -> DpoHold:
    """Place a hold on a person (audited). Erasure is then refused with its reason, and retention skips them."""
    if kind not in HOLD_KINDS:
        raise InvalidInput(f"Choose the kind of hold: {', '.join(HOLD_KINDS)}.", field="kind")
    text = _clean_reason(reason)
    person = await session.get(DataSubject, subject_id)
    if person is None:
        raise NotFound("No person with that id.", field="subject_id")
    if person.erased_at is not None:
        raise Conflict("This person has been erased; there is nothing left to hold.", field="subject_id")
    hold = DpoHold(subject_id=subject_id, kind=kind, reason=text, created_at=utcnow(), created_by=actor.id)
    session.add(hold)
    record(
        session,
        actor,
        "privacy.hold.add",
        target_kind="data_subject",
        target_id=subject_id,
        detail={"hold": str(hold.id), "kind": kind},
    )
    return hold


async def release_hold(
    session: AsyncSession, vault: Vault, hold_id: uuid.UUID, *, reason: str, actor: Actor
) -> DpoHold:
    """Release a DPO's hold, audited with why (the reason encrypted, like every reason a DPO types); releasing
    one already released is refused, naming when it was."""
    if not reason.strip():
        raise InvalidInput("Give the reason the hold can be released.", field="reason")
    hold = await session.scalar(select(DpoHold).where(DpoHold.id == hold_id).with_for_update())
    if hold is None:
        raise HoldNotFound("No legal hold with that id.", field="hold")
    if hold.released_at is not None:
        raise Conflict(f"This hold was released on {hold.released_at:%d %B %Y}.", field="hold")
    hold.released_at, hold.released_by = utcnow(), actor.id
    await record_with_reason(
        session,
        vault,
        actor,
        "privacy.hold.release",
        reason=reason,
        target_kind="data_subject",
        target_id=hold.subject_id,
        detail={"hold": str(hold.id), "kind": hold.kind},
    )
    return hold


@dataclass(frozen=True)
class HoldView:
    """A hold as the DPO sees it: their own (releasable) or a feature's (read-only, with its reason)."""

    source: str
    subject_id: uuid.UUID
    kind: str
    reason: str
    hold_id: uuid.UUID | None  # the DPO's own holds only
    created_at: datetime | None = None
    record_kind: str | None = None
    record_id: uuid.UUID | None = None

    @property
    def releasable(self) -> bool:
        return self.source == DPO_HOLDS.name

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "subject_id": str(self.subject_id),
            "kind": self.kind,
            "reason": self.reason,
            "hold_id": str(self.hold_id) if self.hold_id else None,
            "created_at": self.created_at.isoformat() if self.created_at else None,
            "record_kind": self.record_kind,
            "record_id": str(self.record_id) if self.record_id else None,
            "releasable": self.releasable,
        }


async def holds_of(session: AsyncSession, subject_id: uuid.UUID, sources: Iterable[LegalHoldSource]) -> list[HoldView]:
    """Every hold on one person: the DPO's (with their ids, to release) and each feature's, read-only."""
    views: list[HoldView] = []
    own = {
        row.id: row
        for row in (
            await session.scalars(
                select(DpoHold).where(DpoHold.subject_id == subject_id, DpoHold.released_at.is_(None))
            )
        ).all()
    }
    for own_hold in own.values():
        views.append(
            HoldView(DPO_HOLDS.name, subject_id, own_hold.kind, own_hold.reason, own_hold.id, own_hold.created_at)
        )
    for source in sources:
        if source.name == DPO_HOLDS.name:
            continue
        for hold in await source.holds_on(session, subject_id):
            views.append(
                HoldView(source.name, subject_id, hold.kind, hold.reason, None, None, hold.record_kind, hold.record_id)
            )
    return views


async def all_holds(session: AsyncSession, sources: Iterable[LegalHoldSource], *, limit: int = 500) -> list[HoldView]:
    """Every hold standing now, the DPO's first, then each feature's for the people it holds (at most ``limit``
    people per feature, so the list stays quick)."""
    views: list[HoldView] = []
    rows = (
        await session.scalars(select(DpoHold).where(DpoHold.released_at.is_(None)).order_by(DpoHold.created_at.desc()))
    ).all()
    for row in rows:
        views.append(HoldView(DPO_HOLDS.name, row.subject_id, row.kind, row.reason, row.id, row.created_at))
    for source in sources:
        if source.name == DPO_HOLDS.name:
            continue
        for subject_id in sorted(await source.held_people(session))[:limit]:
            for hold in await source.holds_on(session, subject_id):
                views.append(
                    HoldView(
                        source.name, subject_id, hold.kind, hold.reason, None, None, hold.record_kind, hold.record_id
                    )
                )
    return views
