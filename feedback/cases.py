"""Complaint cases through a council's two-stage complaints procedure, on the working-day calendar the privacy
deadlines use. Defaults follow the Housing Ombudsman's Complaint Handling Code: acknowledged within 5 working
days, stage 1 answered within 10 working days of acknowledgement, stage 2 within 20, by a different officer.

An open case keeps its complainant from being surveyed (surveys' open-complaint check) and holds their records
against erasure and retention (privacy's legal holds) until it closes. Notes and response letters are personal
data: they are stored only encrypted, under the complainant's key (or the month's key for an unnamed comment).
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from advanced_alchemy.types import GUID, DateTimeUTC
from sqlalchemy import Date, ForeignKey, Index, Integer, LargeBinary, String, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from civicvoice.core.audit import Actor, record
from civicvoice.core.clock import utcnow
from civicvoice.core.datamap import DataMapEntry, Link, RetentionRule
from civicvoice.core.db import Base
from civicvoice.core.errors import Conflict, InvalidInput, NotFound
from civicvoice.core.settings import Settings
from privacy.deadlines import WorkingCalendar, london_day
from privacy.holds import LegalHold, LegalHoldSource
from privacy.vault import Vault
from surveys.models import Answer, Response

NOTE_FIELD = "complaint_case.note"


@dataclass(frozen=True)
class CasePolicy:
    """Working days allowed at each step; a council may set its own."""

    acknowledge_days: int = 5
    stage1_days: int = 10
    stage2_days: int = 20

    @classmethod
    def from_settings(cls, settings: Settings) -> CasePolicy:
        return cls(settings.case_acknowledge_days, settings.case_stage1_days, settings.case_stage2_days)


@dataclass(frozen=True)
class StageDeadlines:
    acknowledge: date
    stage1: date | None  # once acknowledged
    stage2: date | None  # once escalated


def stage_deadlines(
    calendar: WorkingCalendar,
    policy: CasePolicy,
    *,
    received: date,
    acknowledged: date | None = None,
    escalated: date | None = None,
) -> StageDeadlines:
    """A case's deadlines in working days: acknowledgement from receipt, stage 1 from acknowledgement, stage 2
    from escalation (the day itself not counted, as in "within 10 working days of acknowledgement")."""
    return StageDeadlines(
        calendar.add_working_days(received, policy.acknowledge_days),
        calendar.add_working_days(acknowledged, policy.stage1_days) if acknowledged is not None else None,
        calendar.add_working_days(escalated, policy.stage2_days) if escalated is not None else None,
    )


class CaseStatus(StrEnum):
    received = "received"  # waiting to be acknowledged
    stage1 = "stage1"  # acknowledged, being investigated at stage 1
    stage1_answered = "stage1_answered"  # answered; the complainant may escalate
    stage2 = "stage2"  # escalated, with a different officer
    closed = "closed"

    @property
    def label(self) -> str:
        return {
            CaseStatus.received: "Waiting for acknowledgement",
            CaseStatus.stage1: "Stage 1",
            CaseStatus.stage1_answered: "Stage 1 answered",
            CaseStatus.stage2: "Stage 2",
            CaseStatus.closed: "Closed",
        }[self]


class Outcome(StrEnum):
    upheld = "upheld"
    partly_upheld = "partly_upheld"
    not_upheld = "not_upheld"


class ComplaintCase(Base):
    __tablename__ = "complaint_case"
    __datamap__ = DataMapEntry(
        purpose="Handle complaints through the council's complaints procedure and learn from them",
        holds=("link to complainant", "officers handling it"),
        category="complaints",
        lawful_basis="public_task",
        retention="6 years after closure",
        subject_link="subject_id",
        links=(
            Link("response_id", "response"),
            Link("owner_id", "staff_user"),
            Link("stage2_owner_id", "staff_user"),
        ),
        retention_rule=RetentionRule("complaint_cases", "closed_at", "delete"),
    )
    __table_args__ = (Index("ix_complaint_case_status", "status", "service_id"),)

    reference: Mapped[str] = mapped_column(String(20), unique=True)
    service_id: Mapped[uuid.UUID | None] = mapped_column(GUID, ForeignKey("service.id"))
    subject_id: Mapped[uuid.UUID | None] = mapped_column(GUID, ForeignKey("data_subject.id", ondelete="SET NULL"))
    response_id: Mapped[uuid.UUID | None] = mapped_column(GUID, ForeignKey("response.id", ondelete="SET NULL"))
    answer_id: Mapped[uuid.UUID | None] = mapped_column(GUID, ForeignKey("answer.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(20), default=CaseStatus.received)
    stage: Mapped[int] = mapped_column(Integer, default=1)
    owner_id: Mapped[str] = mapped_column(String(64))
    stage2_owner_id: Mapped[str | None] = mapped_column(String(64))
    received_on: Mapped[date] = mapped_column(Date)
    acknowledge_due: Mapped[date] = mapped_column(Date)
    acknowledged_on: Mapped[date | None] = mapped_column(Date)
    stage1_due: Mapped[date | None] = mapped_column(Date)
    stage1_answered_on: Mapped[date | None] = mapped_column(Date)
    stage2_due: Mapped[date | None] = mapped_column(Date)
    stage2_answered_on: Mapped[date | None] = mapped_column(Date)
    outcome: Mapped[str | None] = mapped_column(String(20))
    closed_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True), default=utcnow)

    @property
    def due(self) -> date | None:
        """The next deadline: acknowledgement, then the open stage's answer."""
        status = CaseStatus(self.status)
        if status is CaseStatus.received:
            return self.acknowledge_due
        if status is CaseStatus.stage1:
            return self.stage1_due
        if status is CaseStatus.stage2:
            return self.stage2_due
        return None

    def overdue(self, today: date) -> bool:
        return self.due is not None and today > self.due


class CaseNote(Base):
    """A note or a response letter on a case; the text only ever encrypted."""

    __tablename__ = "complaint_case_note"
    __datamap__ = DataMapEntry(
        purpose="What was found and said while handling a complaint",
        holds=("notes and letters about the complaint",),
        category="complaints",
        lawful_basis="public_task",
        retention="6 years after closure",
        encrypted=("text_ciphertext",),
        links=(Link("case_id", "complaint_case"),),
    )
    __table_args__ = (Index("ix_complaint_case_note_case", "case_id", "at"),)

    case_id: Mapped[uuid.UUID] = mapped_column(GUID, ForeignKey("complaint_case.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))  # note, letter
    at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True), default=utcnow)
    author_id: Mapped[str] = mapped_column(String(64))
    # None once the complainant is erased (their key is gone) or retention has run.
    text_ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary)


def new_reference(day: date) -> str:
    return f"CC-{day.year}-{secrets.token_hex(3).upper()}"


async def _seal(session: AsyncSession, vault: Vault, case: ComplaintCase, row_id: uuid.UUID, text: str) -> bytes:
    if case.subject_id is not None:
        return await vault.encrypt(session, case.subject_id, NOTE_FIELD, row_id, text)
    return await vault.encrypt_for_period(session, case.received_on.strftime("%Y-%m"), NOTE_FIELD, row_id, text)


async def read_note(session: AsyncSession, vault: Vault, case: ComplaintCase, note: CaseNote) -> str:
    if note.text_ciphertext is None:
        return "(removed: the complainant's data was erased or has passed its retention period)"
    if case.subject_id is not None:
        return await vault.decrypt(session, case.subject_id, NOTE_FIELD, note.id, note.text_ciphertext)
    return await vault.decrypt_for_period(
        session, case.received_on.strftime("%Y-%m"), NOTE_FIELD, note.id, note.text_ciphertext
    )


async def open_case(
    session: AsyncSession,
    calendar: WorkingCalendar,
    *,
    answer_id: uuid.UUID,
    owner_id: str,
    actor: Actor,
    policy: CasePolicy = CasePolicy(),
    today: date | None = None,
) -> ComplaintCase:
    """A complaint comment becomes a case; one case per comment."""
    existing = await session.scalar(select(ComplaintCase).where(ComplaintCase.answer_id == answer_id))
    if existing is not None:
        raise Conflict(f"This comment already has case {existing.reference}.", field="answer_id")
    found = (
        await session.execute(
            select(Answer, Response).join(Response, Response.id == Answer.response_id).where(Answer.id == answer_id)
        )
    ).first()
    if found is None:
        raise NotFound("No such comment.", field="answer_id")
    _, response = found
    received = today or london_day(utcnow())
    case = ComplaintCase(
        reference=new_reference(received),
        service_id=response.service_id,
        subject_id=response.subject_id,
        response_id=response.id,
        answer_id=answer_id,
        status=CaseStatus.received,
        stage=1,
        owner_id=owner_id,
        received_on=received,
        acknowledge_due=stage_deadlines(calendar, policy, received=received).acknowledge,
    )
    session.add(case)
    record(
        session,
        actor,
        "feedback.case.open",
        target_kind="complaint_case",
        target_id=case.id,
        detail={"reference": case.reference},
    )
    return case


async def add_note(
    session: AsyncSession, vault: Vault, case: ComplaintCase, text: str, *, actor: Actor, kind: str = "note"
) -> CaseNote:
    text = text.strip()
    if not text:
        raise InvalidInput("Write the note." if kind == "note" else "Write the response letter.", field="text")
    note = CaseNote(case_id=case.id, kind=kind, at=utcnow(), author_id=actor.id, text_ciphertext=b"")
    note.text_ciphertext = await _seal(session, vault, case, note.id, text[:20000])
    session.add(note)
    return note


async def acknowledge(
    session: AsyncSession,
    calendar: WorkingCalendar,
    case: ComplaintCase,
    *,
    actor: Actor,
    policy: CasePolicy = CasePolicy(),
    today: date | None = None,
) -> None:
    _expect(case, CaseStatus.received, "acknowledged")
    day = today or london_day(utcnow())
    case.acknowledged_on = day
    case.stage1_due = stage_deadlines(calendar, policy, received=case.received_on, acknowledged=day).stage1
    case.status = CaseStatus.stage1
    record(session, actor, "feedback.case.acknowledge", target_kind="complaint_case", target_id=case.id)


async def answer_stage(
    session: AsyncSession,
    vault: Vault,
    case: ComplaintCase,
    *,
    outcome: str,
    letter: str,
    actor: Actor,
    today: date | None = None,
) -> None:
    """The stage's response: an outcome and the letter sent. Stage 2's answer closes the case."""
    try:
        found = Outcome(outcome)
    except ValueError:
        raise InvalidInput("Choose upheld, partly upheld or not upheld.", field="outcome") from None
    status = CaseStatus(case.status)
    if status not in (CaseStatus.stage1, CaseStatus.stage2):
        raise Conflict(f"A case that is {status.label.lower()} has no stage to answer.", field="status")
    await add_note(session, vault, case, letter, actor=actor, kind="letter")
    day = today or london_day(utcnow())
    case.outcome = found.value
    if status is CaseStatus.stage1:
        case.stage1_answered_on, case.status = day, CaseStatus.stage1_answered
    else:
        case.stage2_answered_on, case.status, case.closed_at = day, CaseStatus.closed, utcnow()
    record(
        session,
        actor,
        "feedback.case.answer",
        target_kind="complaint_case",
        target_id=case.id,
        detail={"stage": case.stage, "outcome": found.value},
    )


async def escalate(
    session: AsyncSession,
    calendar: WorkingCalendar,
    case: ComplaintCase,
    *,
    stage2_owner_id: str,
    actor: Actor,
    policy: CasePolicy = CasePolicy(),
    today: date | None = None,
) -> None:
    """The complainant is not satisfied: stage 2, by a different officer."""
    _expect(case, CaseStatus.stage1_answered, "escalated")
    if stage2_owner_id == case.owner_id:
        raise InvalidInput("Stage 2 must be handled by a different officer from stage 1.", field="stage2_owner")
    day = today or london_day(utcnow())
    case.stage, case.status, case.stage2_owner_id = 2, CaseStatus.stage2, stage2_owner_id
    case.stage2_due = stage_deadlines(calendar, policy, received=case.received_on, escalated=day).stage2
    record(session, actor, "feedback.case.escalate", target_kind="complaint_case", target_id=case.id)


async def close(session: AsyncSession, case: ComplaintCase, *, actor: Actor) -> None:
    """Closed after stage 1 when the complainant does not escalate."""
    _expect(case, CaseStatus.stage1_answered, "closed")
    case.status, case.closed_at = CaseStatus.closed, utcnow()
    record(session, actor, "feedback.case.close", target_kind="complaint_case", target_id=case.id)


def _expect(case: ComplaintCase, status: CaseStatus, doing: str) -> None:
    current = CaseStatus(case.status)
    if current is not status:
        raise Conflict(
            f"Only a case that is {status.label.lower()} can be {doing}; this one is {current.label.lower()}."
        )


async def find_case(session: AsyncSession, reference: str, *, lock: bool = False) -> ComplaintCase:
    stmt = select(ComplaintCase).where(ComplaintCase.reference == reference.strip().upper())
    found = await session.scalar(stmt.with_for_update() if lock else stmt)
    if found is None:
        raise NotFound(f"No complaint case {reference!r}.", field="reference")
    return found


async def open_cases(session: AsyncSession, *, service_ids: Sequence[uuid.UUID] | None = None) -> list[ComplaintCase]:
    stmt = select(ComplaintCase).where(ComplaintCase.status != CaseStatus.closed)
    if service_ids is not None:
        stmt = stmt.where(ComplaintCase.service_id.in_(service_ids))
    return list((await session.scalars(stmt.order_by(ComplaintCase.received_on))).all())


# --- what an open case means to the other features --------------------------------------------------------


async def with_open_complaints(session: AsyncSession, subject_ids: Iterable[uuid.UUID]) -> set[uuid.UUID]:
    """Surveys asks before inviting: those of these people with an open complaint are not surveyed meanwhile.
    One query for a whole batch of contacts, as `privacy.restriction.restricted_among` asks of restrictions."""
    wanted = sorted(set(subject_ids))
    if not wanted:
        return set()
    rows = await session.scalars(
        select(ComplaintCase.subject_id)
        .where(ComplaintCase.subject_id.in_(wanted), ComplaintCase.status != CaseStatus.closed)
        .distinct()
    )
    return {subject_id for subject_id in rows if subject_id is not None}


async def _holds_on(session: AsyncSession, subject_id: uuid.UUID) -> list[LegalHold]:
    cases = (
        await session.scalars(
            select(ComplaintCase).where(
                ComplaintCase.subject_id == subject_id, ComplaintCase.status != CaseStatus.closed
            )
        )
    ).all()
    return [
        LegalHold(
            "open_complaint",
            f"open complaint case {case.reference} ({CaseStatus(case.status).label})",
            "complaint_case",
            case.id,
        )
        for case in cases
    ]


async def _held_people(session: AsyncSession) -> set[uuid.UUID]:
    rows = await session.scalars(
        select(ComplaintCase.subject_id).where(
            ComplaintCase.status != CaseStatus.closed, ComplaintCase.subject_id.is_not(None)
        )
    )
    return {subject_id for subject_id in rows.all() if subject_id is not None}


OPEN_CASES_HOLD = LegalHoldSource("open complaint cases", _holds_on, _held_people)
