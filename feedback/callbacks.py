"""Closing the loop: a very dissatisfied answer, or a respondent who asks to be contacted, raises a callback task
for the service, due within a set number of working hours, tracked to done with its outcome; overdue ones show.

Callbacks are raised by a job every minute from the answers stored since, so answering a survey pays nothing
for it. The outcome note is about the person, so it is stored only encrypted under their key.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from advanced_alchemy.types import GUID, DateTimeUTC
from sqlalchemy import ForeignKey, Index, LargeBinary, String, exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from civicvoice.core.audit import Actor, record
from civicvoice.core.clock import utcnow
from civicvoice.core.datamap import DataMapEntry, Link
from civicvoice.core.db import Base
from civicvoice.core.errors import Conflict, InvalidInput, NotFound
from civicvoice.core.jobs import JobContext, JobRegistry
from civicvoice.core.settings import Settings
from privacy.closures import council_calendar
from privacy.deadlines import WorkingCalendar
from privacy.vault import Vault
from surveys.definitions import CONTACT_REQUEST
from surveys.models import Answer, Response

NOTE_FIELD = "callback.note"
# Working hours (on the council's opening hours) to call back within.
CALLBACK_HOURS = 16
# Answers older than this when first seen raise no callback (a restored backup, an import of old data).
LOOKBACK = timedelta(days=7)


class CallbackReason(StrEnum):
    very_dissatisfied = "very_dissatisfied"
    asked = "asked"


class CallbackOutcome(StrEnum):
    resolved = "resolved"  # spoke to them; resolved
    not_resolved = "not_resolved"  # spoke to them; not resolved (a complaint case may follow)
    no_answer = "no_answer"  # tried and could not reach them
    declined = "declined"  # they no longer wanted contact


class Callback(Base):
    __tablename__ = "callback"
    __datamap__ = DataMapEntry(
        purpose="Call back people who were very dissatisfied or asked to be contacted",
        holds=("link to customer", "notes of the call"),
        category="feedback",
        lawful_basis="public_task",
        retention="2 years",
        subject_link="subject_id",
        encrypted=("note_ciphertext",),
        links=(Link("done_by", "staff_user"),),
    )
    __table_args__ = (Index("ix_callback_open_due", "done_at", "due_at"),)

    response_id: Mapped[uuid.UUID] = mapped_column(GUID, ForeignKey("response.id", ondelete="CASCADE"), unique=True)
    subject_id: Mapped[uuid.UUID | None] = mapped_column(GUID, ForeignKey("data_subject.id", ondelete="SET NULL"))
    service_id: Mapped[uuid.UUID | None] = mapped_column(GUID, ForeignKey("service.id"))
    reason: Mapped[str] = mapped_column(String(20))
    raised_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True), default=utcnow)
    due_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    done_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True))
    done_by: Mapped[str | None] = mapped_column(String(64))
    outcome: Mapped[str | None] = mapped_column(String(20))
    note_ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary)

    def overdue(self, now: datetime) -> bool:
        return self.done_at is None and now > self.due_at


async def raise_callbacks(
    session: AsyncSession, calendar: WorkingCalendar, *, now: datetime | None = None, hours: float = CALLBACK_HOURS
) -> int:
    """Raise a callback for every recent answer that needs one and has none; returns how many were raised."""
    now = now or utcnow()
    asked = exists().where(
        Answer.response_id == Response.id, Answer.question_key == CONTACT_REQUEST, Answer.choice == "yes"
    )
    already = exists().where(Callback.response_id == Response.id)
    rows = (
        await session.execute(
            select(Response.id, Response.subject_id, Response.service_id, asked.label("asked"))
            .where(Response.submitted_at >= now - LOOKBACK, or_(Response.satisfaction == 1, asked), ~already)
            .limit(1000)
        )
    ).all()
    for response_id, subject_id, service_id, did_ask in rows:
        session.add(
            Callback(
                response_id=response_id,
                subject_id=subject_id,
                service_id=service_id,
                reason=CallbackReason.asked if did_ask else CallbackReason.very_dissatisfied,
                raised_at=now,
                due_at=calendar.due_after_working_hours(now, hours),
            )
        )
    return len(rows)


async def complete(
    session: AsyncSession, vault: Vault, callback_id: uuid.UUID, *, outcome: str, note: str, actor: Actor
) -> Callback:
    try:
        found = CallbackOutcome(outcome)
    except ValueError:
        raise InvalidInput("Choose what happened on the call.", field="outcome") from None
    callback = await session.scalar(select(Callback).where(Callback.id == callback_id).with_for_update())
    if callback is None:
        raise NotFound("No such callback.", field="callback")
    if callback.done_at is not None:
        raise Conflict("This callback is already done.", field="callback")
    callback.outcome, callback.done_at, callback.done_by = found.value, utcnow(), actor.id
    if note.strip() and callback.subject_id is not None:
        callback.note_ciphertext = await vault.encrypt(
            session, callback.subject_id, NOTE_FIELD, callback.id, note.strip()[:4000]
        )
    record(
        session,
        actor,
        "feedback.callback.done",
        target_kind="callback",
        target_id=callback.id,
        detail={"outcome": found.value},
    )
    return callback


RAISE_JOB = "feedback.callbacks.raise"
JOBS = JobRegistry()


@JOBS.cron(RAISE_JOB, every=timedelta(minutes=1), max_attempts=3)
async def raise_callbacks_job(ctx: JobContext, payload: dict[str, Any]) -> None:
    settings = ctx.service(Settings)
    async with ctx.sessions() as session, session.begin():
        calendar = await council_calendar(session, settings)
        await raise_callbacks(session, calendar, hours=settings.callback_hours)
