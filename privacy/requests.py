"""Subject requests: the DPO's record of each access, erasure, rectification, restriction, objection, portability
request and data-protection complaint, moved through the state machine with its ICO time limit kept current.

The requester's contact details and what they asked for are personal data: they are stored only encrypted,
under a key per year of receipt (retention destroys it with the records). Every change is a row of the request's
history and an audit entry; an illegal change is refused with what is possible instead.
"""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from advanced_alchemy.types import GUID, DateTimeUTC, JsonB
from sqlalchemy import Date, ForeignKey, Index, LargeBinary, String, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from civicvoice.core.audit import Actor, record
from civicvoice.core.clock import utcnow
from civicvoice.core.datamap import DataMapEntry, Link, RetentionRule
from civicvoice.core.db import Base
from civicvoice.core.errors import InvalidInput, NotFound
from privacy.deadlines import (
    ClarificationPause,
    Deadline,
    Extension,
    RequestClock,
    WorkingCalendar,
    complaint_acknowledgement_due,
    deadline,
    extend,
    london_day,
    queue_label,
)
from privacy.request_states import RefusalNeedsReason, RequestKind, RequestState, check_transition
from privacy.restriction import lift_for_request
from privacy.vault import Vault

REQUESTER_FIELD = "subject_request.requester"
NOTE_FIELD = "subject_request.note"


class SubjectRequest(Base):
    __tablename__ = "subject_request"
    __datamap__ = DataMapEntry(
        purpose="Answer data-protection rights requests and complaints within the legal time limits",
        holds=("requester's name and contact details", "what they asked for", "link to customer"),
        category="subject rights",
        lawful_basis="legal_obligation",
        retention="6 years after receipt",
        subject_link="subject_id",
        encrypted=("requester_ciphertext",),
        links=(Link("created_by", "staff_user"),),
        retention_rule=RetentionRule("subject_requests", "received_at", "delete"),
    )
    __table_args__ = (Index("ix_subject_request_state_due", "state", "due_on"),)

    reference: Mapped[str] = mapped_column(String(20), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    state: Mapped[str] = mapped_column(String(20), default=RequestState.received)
    channel: Mapped[str] = mapped_column(String(10))  # staff, api, public
    received_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    received_on: Mapped[date] = mapped_column(Date)
    identity_required: Mapped[bool] = mapped_column(default=False)
    identity_verified_on: Mapped[date | None] = mapped_column(Date)
    identity_method: Mapped[str | None] = mapped_column(String(100))
    clock_started_on: Mapped[date | None] = mapped_column(Date)
    # Clarification pauses [{"asked_on": "2026-01-02", "received_on": null}] and any extension, as the clock needs.
    pauses: Mapped[list[dict[str, Any]]] = mapped_column(JsonB, default=list)
    extension_months: Mapped[int | None]
    extension_notified_on: Mapped[date | None] = mapped_column(Date)
    due_on: Mapped[date | None] = mapped_column(Date)
    original_due_on: Mapped[date | None] = mapped_column(Date)
    subject_id: Mapped[uuid.UUID | None] = mapped_column(GUID, ForeignKey("data_subject.id", ondelete="SET NULL"))
    requester_ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary)
    closed_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True))
    created_by: Mapped[str] = mapped_column(String(64))
    # A data-protection complaint is acknowledged within 30 days of receipt (DUA Act 2025), then tracked to its
    # outcome (the note of the move to completed).
    acknowledged_on: Mapped[date | None] = mapped_column(Date)


class SubjectRequestEvent(Base):
    """One change to a request: who moved it from what to what, when, with a note only ever encrypted."""

    __tablename__ = "subject_request_event"
    __datamap__ = DataMapEntry(
        purpose="The history of a rights request, to show it was handled lawfully",
        holds=("notes about the request",),
        category="subject rights",
        lawful_basis="legal_obligation",
        retention="6 years after receipt",
        encrypted=("note_ciphertext",),
        links=(Link("request_id", "subject_request"), Link("actor_id", "staff_user")),
    )
    __table_args__ = (Index("ix_subject_request_event_request", "request_id", "at"),)

    request_id: Mapped[uuid.UUID] = mapped_column(GUID, ForeignKey("subject_request.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True), default=utcnow)
    actor_kind: Mapped[str] = mapped_column(String(20))
    actor_id: Mapped[str] = mapped_column(String(64))
    from_state: Mapped[str | None] = mapped_column(String(20))
    to_state: Mapped[str] = mapped_column(String(20))
    # What happened besides a move ("acknowledged", "restricted", "rectified"); None for a move.
    action: Mapped[str | None] = mapped_column(String(20))
    note_ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary)


@dataclass(frozen=True)
class Requester:
    """Who asked and how to reach them; stored only encrypted."""

    name: str
    email: str | None = None
    phone: str | None = None
    address: str | None = None
    details: str = ""  # what they asked for, in their words
    contact_reference: str | None = None  # a reference from their contact with the council, to find it

    def to_json(self) -> str:
        return json.dumps(self.__dict__, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Requester:
        return cls(**json.loads(text))


def _period(request: SubjectRequest) -> str:
    return f"R-{request.received_on.year}"


def new_reference(received: date) -> str:
    return f"SR-{received.year}-{secrets.token_hex(3).upper()}"


def request_clock(request: SubjectRequest) -> RequestClock | None:
    """The clock as the deadline rules see it; None before it starts (identity not yet verified)."""
    if request.clock_started_on is None:
        return None
    pauses = tuple(
        ClarificationPause(
            date.fromisoformat(p["asked_on"]),
            date.fromisoformat(p["received_on"]) if p.get("received_on") else None,
        )
        for p in request.pauses or []
    )
    extension = None
    if request.extension_months and request.extension_notified_on:
        extension = Extension(request.extension_months, "recorded in the history", request.extension_notified_on)
    return RequestClock(request.clock_started_on, pauses, extension)


def current_deadline(request: SubjectRequest, calendar: WorkingCalendar) -> Deadline | None:
    clock = request_clock(request)
    return None if clock is None else deadline(clock, calendar)


def _refresh_due(request: SubjectRequest, calendar: WorkingCalendar) -> None:
    current = current_deadline(request, calendar)
    request.due_on = current.due if current else None
    request.original_due_on = current.original_due if current else None


async def _note(session: AsyncSession, vault: Vault, request: SubjectRequest, row_id: uuid.UUID, text: str) -> bytes:
    return await vault.encrypt_for_period(session, _period(request), NOTE_FIELD, row_id, text.strip()[:4000])


async def _history(
    session: AsyncSession,
    vault: Vault,
    request: SubjectRequest,
    actor: Actor,
    before: str | None,
    after: str,
    note: str | None,
    at: datetime,
) -> None:
    event = SubjectRequestEvent(
        request_id=request.id, at=at, actor_kind=actor.kind, actor_id=actor.id, from_state=before, to_state=after
    )
    if note and note.strip():
        event.note_ciphertext = await _note(session, vault, request, event.id, note)
    session.add(event)
    record(
        session,
        actor,
        "privacy.request." + ("open" if before is None else "move"),
        target_kind="subject_request",
        target_id=request.id,
        detail={"reference": request.reference, "kind": request.kind, "from": before, "to": after},
    )


async def open_request(
    session: AsyncSession,
    vault: Vault,
    calendar: WorkingCalendar,
    *,
    kind: RequestKind,
    requester: Requester,
    channel: str,
    actor: Actor,
    identity_required: bool,
    received_at: datetime | None = None,
    subject_id: uuid.UUID | None = None,
    identity_checked: str | None = None,
) -> SubjectRequest:
    """Record a new request. Without an identity check the clock starts on the day of receipt; with one it starts
    the day identity is verified (ICO: the time limit starts once the information needed is received).

    ``identity_checked`` records a check already made at intake (the public page's "email control confirmed"):
    the request starts in progress with the check, what was checked and the day it was made on record."""
    if not requester.name.strip():
        raise InvalidInput("Give the requester's name.", field="name")
    if not (requester.email or requester.phone or requester.address):
        raise InvalidInput("Give at least one way to reach the requester: email, phone or address.", field="email")
    received_at = received_at or utcnow()
    received_on = london_day(received_at)
    if received_at > utcnow():
        raise InvalidInput("The date of receipt cannot be in the future.", field="received_at")
    request = SubjectRequest(
        reference=new_reference(received_on),
        kind=kind,
        state=RequestState.identity_pending if identity_required else RequestState.in_progress,
        channel=channel,
        received_at=received_at,
        received_on=received_on,
        identity_required=identity_required,
        clock_started_on=None if identity_required else received_on,
        pauses=[],
        subject_id=subject_id,
        created_by=actor.id,
    )
    if identity_checked and not identity_required:
        request.identity_verified_on = london_day(utcnow())
        request.identity_method = identity_checked.strip()[:100]
    request.requester_ciphertext = await vault.encrypt_for_period(
        session, _period(request), REQUESTER_FIELD, request.id, requester.to_json()
    )
    _refresh_due(request, calendar)
    session.add(request)
    await _history(session, vault, request, actor, None, request.state, requester.details, received_at)
    return request


async def requester_of(session: AsyncSession, vault: Vault, request: SubjectRequest) -> Requester | None:
    if request.requester_ciphertext is None:
        return None
    text = await vault.decrypt_for_period(
        session, _period(request), REQUESTER_FIELD, request.id, request.requester_ciphertext
    )
    return Requester.from_json(text)


async def find_request(session: AsyncSession, reference: str, *, lock: bool = False) -> SubjectRequest:
    stmt = select(SubjectRequest).where(SubjectRequest.reference == reference.strip().upper())
    found = await session.scalar(stmt.with_for_update() if lock else stmt)
    if found is None:
        raise NotFound(f"No subject request {reference!r}.", field="reference")
    return found


async def move(
    session: AsyncSession,
    vault: Vault,
    calendar: WorkingCalendar,
    request: SubjectRequest,
    target: RequestState,
    *,
    actor: Actor,
    reason: str | None = None,
    on: date | None = None,
    months: int | None = None,
    identity_method: str | None = None,
) -> SubjectRequest:
    """Move a request, keeping its clock right: identity verified starts it, on hold pauses it, clarification
    received restarts it, an extension adds months (only within the first month, with a reason)."""
    now = utcnow()
    today = on or london_day(now)
    current = RequestState(request.state)
    check_transition(current, target, reason=reason)
    kind = RequestKind(request.kind)
    if kind is RequestKind.complaint and target is RequestState.completed and not (reason or "").strip():
        raise RefusalNeedsReason("Record the outcome of the complaint; the complainant is told it.", field="reason")
    clock = request_clock(request)
    if current is RequestState.identity_pending and target is RequestState.in_progress:
        method = (identity_method or "").strip()
        if not method:
            raise InvalidInput("Say how identity was checked (it is recorded).", field="identity_method")
        request.identity_verified_on, request.identity_method = today, method[:100]
        request.clock_started_on = max(today, request.received_on)
    if target is RequestState.on_hold:
        if clock is None:
            raise InvalidInput("The clock has not started yet: verify identity first.", field="state")
        request.pauses = [*(request.pauses or []), {"asked_on": today.isoformat(), "received_on": None}]
    if current is RequestState.on_hold and target in (RequestState.in_progress, RequestState.extended):
        pauses = list(request.pauses or [])
        pauses[-1] = {**pauses[-1], "received_on": today.isoformat()}
        request.pauses = pauses
        # Back to where it was: an extended request stays extended.
        if target is RequestState.in_progress and request.extension_months:
            target = RequestState.extended
    if target is RequestState.extended and current is not RequestState.on_hold:
        if clock is None:
            raise InvalidInput("The clock has not started yet: verify identity first.", field="state")
        extended = extend(clock, calendar, months=months or 2, reason=reason or "", notified_on=today)
        assert extended.extension is not None
        request.extension_months = extended.extension.months
        request.extension_notified_on = extended.extension.notified_on
    request.state = target
    if target.closed:
        request.closed_at = now
        if kind is RequestKind.complaint and target is RequestState.completed and request.acknowledged_on is None:
            request.acknowledged_on = today  # telling them the outcome acknowledges it too
        # A restriction placed for this request stands only while the request does.
        await lift_for_request(session, request.id, actor=actor, reason=f"request {target.value}")
    _refresh_due(request, calendar)
    await _history(session, vault, request, actor, current, target, reason, now)
    return request


def acknowledgement_due(request: SubjectRequest) -> date | None:
    """When a data-protection complaint must be acknowledged by: within the 30 days beginning with the day it
    was received (DUA Act 2025, s. 103, inserting s. 164A into the DPA 2018). None for other requests."""
    if request.kind != RequestKind.complaint:
        return None
    return complaint_acknowledgement_due(request.received_on)


async def acknowledge(
    session: AsyncSession, vault: Vault, request: SubjectRequest, *, actor: Actor, note: str | None = None
) -> SubjectRequest:
    """Record that a data-protection complaint was acknowledged (once; audited, with any note encrypted)."""
    if request.kind != RequestKind.complaint:
        raise InvalidInput("Only a data-protection complaint is acknowledged.", field="state")
    if RequestState(request.state).closed:
        raise InvalidInput("The complaint is closed.", field="state")
    if request.acknowledged_on is not None:
        raise InvalidInput(f"The complaint was acknowledged on {request.acknowledged_on:%-d %B %Y}.", field="state")
    request.acknowledged_on = london_day(utcnow())
    await record_step(session, vault, request, actor=actor, action="acknowledged", note=note)
    return request


@dataclass(frozen=True)
class QueueItem:
    reference: str
    kind: RequestKind
    state: RequestState
    received_on: date
    due_on: date | None
    label: str
    overdue: bool
    request_id: uuid.UUID
    acknowledge_by: date | None = None  # a complaint not yet acknowledged

    def as_dict(self) -> dict[str, Any]:
        return {
            "acknowledge_by": self.acknowledge_by.isoformat() if self.acknowledge_by else None,
            "reference": self.reference,
            "kind": self.kind.value,
            "state": self.state.value,
            "received_on": self.received_on.isoformat(),
            "due_on": self.due_on.isoformat() if self.due_on else None,
            "label": self.label,
            "overdue": self.overdue,
        }


async def queue(
    session: AsyncSession, calendar: WorkingCalendar, *, today: date | None = None, include_closed: bool = False
) -> list[QueueItem]:
    """The DPO's queue: open requests, soonest due first, with days left or how overdue."""
    today = today or london_day(utcnow())
    stmt = select(SubjectRequest)
    if not include_closed:
        stmt = stmt.where(SubjectRequest.closed_at.is_(None))
    items = []
    for request in (await session.scalars(stmt)).all():
        state = RequestState(request.state)
        current = current_deadline(request, calendar)
        if state.closed:
            label = state.label
        elif current is None:
            label = "Waiting for proof of identity: the clock has not started"
        else:
            label = queue_label(current, today)
        due = current.due if current else None
        overdue = bool(due and not state.closed and today > due)
        acknowledge_by = None
        if request.acknowledged_on is None and not state.closed:
            acknowledge_by = acknowledgement_due(request)
        if acknowledge_by is not None:
            left = (acknowledge_by - today).days
            label = (
                f"Not acknowledged: overdue by {-left} day{'' if left == -1 else 's'}"
                if left < 0
                else f"Acknowledge by {acknowledge_by:%-d %B %Y} ({left} day{'' if left == 1 else 's'} left); {label}"
            )
            overdue = overdue or left < 0
        items.append(
            QueueItem(
                request.reference,
                RequestKind(request.kind),
                state,
                request.received_on,
                due,
                label,
                overdue,
                request.id,
                acknowledge_by,
            )
        )
    return sorted(items, key=lambda i: (i.state.closed, i.due_on or date.max, i.received_on))


async def history(session: AsyncSession, request: SubjectRequest) -> Sequence[SubjectRequestEvent]:
    return (
        await session.scalars(
            select(SubjectRequestEvent)
            .where(SubjectRequestEvent.request_id == request.id)
            .order_by(SubjectRequestEvent.at, SubjectRequestEvent.id)
        )
    ).all()


async def record_step(
    session: AsyncSession,
    vault: Vault,
    request: SubjectRequest,
    *,
    actor: Actor,
    action: str,
    note: str | None = None,
    detail: dict[str, Any] | None = None,
) -> SubjectRequestEvent:
    """A step in a request's history that is not a move (acknowledged, restricted, rectified): a history row
    and an audit entry ``privacy.request.<action>``; the note is stored only encrypted."""
    now = utcnow()
    event = SubjectRequestEvent(
        request_id=request.id,
        at=now,
        actor_kind=actor.kind,
        actor_id=actor.id,
        from_state=request.state,
        to_state=request.state,
        action=action,
    )
    if note and note.strip():
        event.note_ciphertext = await _note(session, vault, request, event.id, note)
    session.add(event)
    record(
        session,
        actor,
        f"privacy.request.{action}",
        target_kind="subject_request",
        target_id=request.id,
        detail={"reference": request.reference, "kind": request.kind, **(detail or {})},
    )
    return event
