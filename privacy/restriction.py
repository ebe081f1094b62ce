"""Restriction of processing (Art. 18): while a restriction stands, the person is not processed: no invitation is
decided for them, none is sent, and exports leave them out. Intake, sending and exports ask this module, so the
rule lives in one place.

A restriction is placed when a restriction request is linked to its person (or by the DPO directly) and stands
until it is lifted: by the DPO with a reason, or when its request is completed, refused or withdrawn. Every
placement and lift is audited; the rows keep the history (a lift is a date, never a deletion).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from advanced_alchemy.types import GUID, DateTimeUTC
from sqlalchemy import ColumnElement, ForeignKey, Index, String, exists, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from civicvoice.core.audit import Actor, record
from civicvoice.core.clock import utcnow
from civicvoice.core.datamap import DataMapEntry, Link
from civicvoice.core.db import Base
from civicvoice.core.errors import InvalidInput, NotFound

# The reason stored with the intake decision and the cancelled invitation (surveys stores it as given).
RESTRICTED = "restricted"


class ProcessingRestriction(Base):
    """One restriction of one person's processing, from when it was placed until it was lifted."""

    __tablename__ = "processing_restriction"
    __datamap__ = DataMapEntry(
        purpose="Stop processing a person's data while a restriction (UK GDPR Article 18) stands",
        holds=("link to customer", "link to the restriction request"),
        category="subject rights",
        lawful_basis="legal_obligation",
        retention="6 years after the restriction is lifted, with the request",
        subject_link="subject_id",
        links=(
            Link("request_id", "subject_request"),
            Link("placed_by", "staff_user"),
            Link("lifted_by", "staff_user"),
        ),
    )
    __table_args__ = (Index("ix_processing_restriction_subject", "subject_id", "lifted_at"),)

    subject_id: Mapped[uuid.UUID] = mapped_column(GUID, ForeignKey("data_subject.id", ondelete="CASCADE"))
    request_id: Mapped[uuid.UUID | None] = mapped_column(GUID, ForeignKey("subject_request.id", ondelete="SET NULL"))
    placed_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True), default=utcnow)
    placed_by: Mapped[str] = mapped_column(String(64))
    lifted_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True))
    lifted_by: Mapped[str | None] = mapped_column(String(64))
    # Why it was lifted, in words without personal data ("request completed", "accuracy verified").
    lift_reason: Mapped[str | None] = mapped_column(String(200))


_R = ProcessingRestriction


def is_standing() -> ColumnElement[bool]:
    return _R.lifted_at.is_(None)


def unrestricted(subject_column: Any) -> ColumnElement[bool]:
    """A filter for queries over rows linked to a person: true unless a restriction stands for that person
    (rows linked to nobody pass). Exports add it to their statements, so restricted people are left out."""
    return ~exists(select(_R.id).where(_R.subject_id == subject_column, is_standing()))


async def restricted_among(session: AsyncSession, subject_ids: Iterable[uuid.UUID]) -> set[uuid.UUID]:
    """The people among ``subject_ids`` whose processing is restricted now: one query."""
    wanted = sorted(set(subject_ids))
    if not wanted:
        return set()
    rows = await session.scalars(select(_R.subject_id).where(_R.subject_id.in_(wanted), is_standing()).distinct())
    return set(rows.all())


async def is_restricted(session: AsyncSession, subject_id: uuid.UUID) -> bool:
    return bool(await restricted_among(session, [subject_id]))


async def restrict(
    session: AsyncSession, subject_id: uuid.UUID, *, actor: Actor, request_id: uuid.UUID | None = None
) -> ProcessingRestriction:
    """Place a restriction (once per request: placing it again returns the one standing)."""
    stmt = select(_R).where(_R.subject_id == subject_id, is_standing())
    if request_id is not None:
        stmt = stmt.where(_R.request_id == request_id)
    standing = await session.scalar(stmt.limit(1))
    if standing is not None and (request_id is not None or standing.request_id is None):
        return standing
    restriction = ProcessingRestriction(
        subject_id=subject_id, request_id=request_id, placed_at=utcnow(), placed_by=actor.id
    )
    session.add(restriction)
    await session.flush()
    record(
        session,
        actor,
        "privacy.restriction.place",
        target_kind="data_subject",
        target_id=subject_id,
        detail={"restriction": str(restriction.id), "request": str(request_id) if request_id else None},
    )
    return restriction


def _lift(session: AsyncSession, restriction: ProcessingRestriction, *, actor: Actor, reason: str) -> None:
    restriction.lifted_at = utcnow()
    restriction.lifted_by = actor.id
    restriction.lift_reason = reason[:200]
    record(
        session,
        actor,
        "privacy.restriction.lift",
        target_kind="data_subject",
        target_id=restriction.subject_id,
        detail={"restriction": str(restriction.id), "reason": reason[:200]},
    )


async def lift(session: AsyncSession, restriction_id: uuid.UUID, *, actor: Actor, reason: str) -> ProcessingRestriction:
    """The DPO lifts a restriction, saying why (Art. 18(3): the person is told before it is lifted)."""
    if not reason.strip():
        raise InvalidInput("Say why the restriction is lifted; it is recorded.", field="lift_reason")
    restriction = await session.get(_R, restriction_id, with_for_update=True)
    if restriction is None:
        raise NotFound("No such restriction.", field="restriction")
    if restriction.lifted_at is not None:
        raise InvalidInput("This restriction was already lifted.", field="restriction")
    _lift(session, restriction, actor=actor, reason=reason.strip())
    return restriction


async def lift_for_request(session: AsyncSession, request_id: uuid.UUID, *, actor: Actor, reason: str) -> int:
    """Lift every restriction placed for a request (it was completed, refused or withdrawn); returns how many."""
    standing = (await session.scalars(select(_R).where(_R.request_id == request_id, is_standing()))).all()
    for restriction in standing:
        _lift(session, restriction, actor=actor, reason=reason)
    return len(standing)


async def restrictions_of(session: AsyncSession, *, subject_id: uuid.UUID | None = None) -> list[ProcessingRestriction]:
    """Restrictions standing now (of one person, or everyone), oldest first."""
    stmt = select(_R).where(is_standing()).order_by(_R.placed_at, _R.id)
    if subject_id is not None:
        stmt = stmt.where(_R.subject_id == subject_id)
    return list((await session.scalars(stmt)).all())


async def restrictions_for_request(session: AsyncSession, request_id: uuid.UUID) -> list[ProcessingRestriction]:
    return list(
        (await session.scalars(select(_R).where(_R.request_id == request_id).order_by(_R.placed_at, _R.id))).all()
    )
