"""Demand types: a contact or a complaint tagged as value demand or one kind of non-value demand (excess, failure,
preventable, co-dependent) with the reason, by a reviewer in the inbox or by the contact system through the API.

One tag per contact and one per complaint comment; tagging again replaces it (audited both times). The tag keeps
the month, service and channel in clear, so the scorecard counts demand without joining or decrypting anything.
The reason is free text from staff or a contact system: it is redacted before it is stored, like every comment
staff see.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime

from advanced_alchemy.types import GUID, DateTimeUTC
from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, String, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from civicvoice.core.audit import Actor, record
from civicvoice.core.clock import utcnow
from civicvoice.core.datamap import DataMapEntry, Link
from civicvoice.core.db import Base
from civicvoice.core.errors import InvalidInput, NotFound
from feedback.classification import CommentClass
from feedback.models import CommentClassification
from feedback.scorecard.formulas import NON_VALUE_DEMAND, Counts, DemandType, london_month
from privacy.redaction import redact
from surveys.models import Answer, Contact, Response

REASON_LIMIT = 300

LABELS = {
    DemandType.value: "Value demand",
    DemandType.excess: "Excess demand",
    DemandType.failure: "Failure demand",
    DemandType.preventable: "Preventable demand",
    DemandType.co_dependent: "Co-dependent demand",
}
HINTS = {
    DemandType.value: "what the council exists to provide",
    DemandType.excess: "more contact than the need requires",
    DemandType.failure: "caused by a failure to do something or do it right",
    DemandType.preventable: "could have been avoided with information or self-service",
    DemandType.co_dependent: "caused by another organisation or service",
}


class DemandTag(Base):
    __tablename__ = "demand_tag"
    __datamap__ = DataMapEntry(
        purpose="Count value and non-value demand per month, service and channel (the scorecard's demand figures)",
        holds=("who tagged it (staff id or API key id)", "reason (free text, redacted before storing)"),
        category="staff activity",
        lawful_basis="public_task",
        retention="2 years",
        subject_kind="staff",
        subject_link="tagged_by",
        links=(Link("contact_id", "contact"), Link("answer_id", "answer")),
    )
    __table_args__ = (
        CheckConstraint("(contact_id IS NULL) <> (answer_id IS NULL)", name="one_target"),
        Index("ix_demand_tag_month", "month", "service_id", "channel"),
    )

    # Exactly one of the two: a contact, or a complaint comment (which may have no contact: kiosk, paper).
    contact_id: Mapped[uuid.UUID | None] = mapped_column(
        GUID, ForeignKey("contact.id", ondelete="CASCADE"), unique=True
    )
    answer_id: Mapped[uuid.UUID | None] = mapped_column(GUID, ForeignKey("answer.id", ondelete="CASCADE"), unique=True)
    demand_type: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str | None] = mapped_column(String(REASON_LIMIT + 60))
    # Where the scorecard counts it: the contact's (or the response's) month in Europe/London, service, channel.
    month: Mapped[date] = mapped_column(Date)
    service_id: Mapped[uuid.UUID | None] = mapped_column(GUID, ForeignKey("service.id"))
    channel: Mapped[str] = mapped_column(String(20))
    tagged_by_kind: Mapped[str] = mapped_column(String(10))  # staff, api_key
    tagged_by: Mapped[str] = mapped_column(String(64))
    tagged_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True), default=utcnow)


@dataclass(frozen=True)
class DemandChoice:
    """A checked demand type and reason, ready to store."""

    demand_type: DemandType
    reason: str | None


def check_demand(demand_type: str, reason: str | None) -> DemandChoice:
    """InvalidInput naming the field unless ``demand_type`` is a known type and non-value demand has a reason."""
    try:
        kind = DemandType(demand_type.strip())
    except ValueError:
        known = ", ".join(kind.value for kind in DemandType)
        raise InvalidInput(f"Choose the type of demand: one of {known}.", field="type") from None
    text = " ".join((reason or "").split())
    if len(text) > REASON_LIMIT:
        raise InvalidInput(f"Keep the reason to {REASON_LIMIT} characters.", field="reason")
    if kind in NON_VALUE_DEMAND and not text:
        raise InvalidInput(f"Say why this is {LABELS[kind].lower()}.", field="reason")
    return DemandChoice(kind, redact(text) if text else None)


async def _store(
    session: AsyncSession,
    choice: DemandChoice,
    *,
    actor: Actor,
    contact_id: uuid.UUID | None,
    answer_id: uuid.UUID | None,
    month: date,
    service_id: uuid.UUID | None,
    channel: str,
) -> DemandTag:
    target = DemandTag.contact_id == contact_id if contact_id is not None else DemandTag.answer_id == answer_id
    tag = await session.scalar(select(DemandTag).where(target).with_for_update())
    replaced = tag.demand_type if tag is not None else None
    if tag is None:
        tag = DemandTag(contact_id=contact_id, answer_id=answer_id)
        session.add(tag)
    tag.demand_type = choice.demand_type.value
    tag.reason = choice.reason
    tag.month, tag.service_id, tag.channel = month, service_id, channel
    tag.tagged_by_kind, tag.tagged_by, tag.tagged_at = actor.kind, actor.id, utcnow()
    record(
        session,
        actor,
        "feedback.demand_tagged",
        target_kind="contact" if contact_id is not None else "answer",
        target_id=contact_id or answer_id,
        detail={"type": choice.demand_type.value, "replaced": replaced},
    )
    return tag


async def tag_contact(session: AsyncSession, contact: Contact, choice: DemandChoice, *, actor: Actor) -> DemandTag:
    return await _store(
        session,
        choice,
        actor=actor,
        contact_id=contact.id,
        answer_id=None,
        month=london_month(contact.occurred_at),
        service_id=contact.service_id,
        channel=contact.channel,
    )


async def tag_complaint(
    session: AsyncSession, answer_id: uuid.UUID, choice: DemandChoice, *, actor: Actor
) -> DemandTag:
    """Tag a complaint comment; one classified (or reviewed) as anything else is refused."""
    found = (
        await session.execute(
            select(Response, CommentClassification)
            .join(Answer, Answer.response_id == Response.id)
            .join(CommentClassification, CommentClassification.answer_id == Answer.id, isouter=True)
            .where(Answer.id == answer_id)
        )
    ).first()
    if found is None:
        raise NotFound("No such comment.", field="answer_id")
    response, classified = found
    if classified is None or classified.final_class != CommentClass.COMPLAINT:
        raise InvalidInput(
            "Only a complaint comment can be tagged on its own; tag the contact instead.", field="answer_id"
        )
    return await _store(
        session,
        choice,
        actor=actor,
        contact_id=None,
        answer_id=answer_id,
        month=london_month(response.submitted_at),
        service_id=response.service_id,
        channel=response.channel,
    )


async def tags_for(
    session: AsyncSession, *, contact_ids: list[uuid.UUID], answer_ids: list[uuid.UUID]
) -> tuple[dict[uuid.UUID, DemandTag], dict[uuid.UUID, DemandTag]]:
    """The tags of these contacts and of these comments (for a page of the inbox)."""
    by_contact: dict[uuid.UUID, DemandTag] = {}
    by_answer: dict[uuid.UUID, DemandTag] = {}
    if contact_ids:
        for tag in (await session.scalars(select(DemandTag).where(DemandTag.contact_id.in_(contact_ids)))).all():
            assert tag.contact_id is not None
            by_contact[tag.contact_id] = tag
    if answer_ids:
        for tag in (await session.scalars(select(DemandTag).where(DemandTag.answer_id.in_(answer_ids)))).all():
            assert tag.answer_id is not None
            by_answer[tag.answer_id] = tag
    return by_contact, by_answer


@dataclass(frozen=True)
class DemandCount:
    month: date
    service_id: uuid.UUID | None
    channel: str
    counts: Counts


async def demand_counts(session: AsyncSession, *, since: date | None = None) -> list[DemandCount]:
    """Tagged contacts and complaints per month, service and channel, by demand type: the scorecard's input."""
    stmt = select(
        DemandTag.month, DemandTag.service_id, DemandTag.channel, DemandTag.demand_type, func.count()
    ).group_by(DemandTag.month, DemandTag.service_id, DemandTag.channel, DemandTag.demand_type)
    if since is not None:
        stmt = stmt.where(DemandTag.month >= since)
    grouped: dict[tuple[date, uuid.UUID | None, str], dict[str, int]] = {}
    for month, service_id, channel, kind, count in (await session.execute(stmt)).tuples():
        grouped.setdefault((month, service_id, channel), {})[kind] = int(count)
    return [
        DemandCount(month, service_id, channel, Counts.from_mapping(counts))
        for (month, service_id, channel), counts in sorted(grouped.items(), key=lambda item: (item[0][0], item[0][2]))
    ]
