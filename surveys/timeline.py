"""An invitation's timeline: decided, queued, then every state it moved through (sending, sent, delivered or a
failure, a reply, reminded or its reminder called off, expired), and answered. Staff see it; it never holds
personal data."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from civicvoice.core.clock import utcnow
from civicvoice.core.db import table
from civicvoice.core.ids import new_id
from surveys.models import Invitation, InvitationDecision, InvitationEvent

# Timeline steps that are not invitation states.
REMINDED = "reminded"
REMINDER_CANCELLED = "reminder_cancelled"  # a reminder refused when due (opted out, erased, ...): never sent later
REPLY_NOT_UNDERSTOOD = "reply_not_understood"
ANSWERED = "answered"
OPTED_OUT = "opted_out"


async def record_event(
    session: AsyncSession,
    invitation_id: uuid.UUID,
    state: str,
    detail: str | None = None,
    *,
    at: datetime | None = None,
) -> None:
    """Add one step to the invitation's timeline, in the caller's transaction."""
    await record_events(session, [invitation_id], state, detail, at=at)


async def record_events(
    session: AsyncSession,
    invitation_ids: Iterable[uuid.UUID],
    state: str,
    detail: str | None = None,
    *,
    at: datetime | None = None,
) -> None:
    moment = at or utcnow()
    rows = [
        {"id": new_id(), "invitation_id": i, "state": state, "at": moment, "detail": detail[:300] if detail else None}
        for i in invitation_ids
    ]
    if rows:
        await session.execute(insert(table(InvitationEvent)), rows)


@dataclass(frozen=True)
class TimelineEntry:
    state: str
    at: datetime
    detail: str | None = None


async def timeline(session: AsyncSession, invitation: Invitation) -> list[TimelineEntry]:
    """Every step of one invitation, oldest first."""
    entries: list[TimelineEntry] = []
    decided = await session.scalar(
        select(InvitationDecision.decided_at).where(InvitationDecision.id == invitation.decision_id)
    )
    if decided is not None:
        entries.append(TimelineEntry("decided", decided))
    entries.append(TimelineEntry("queued", invitation.created_at, f"due {invitation.due_at:%Y-%m-%d %H:%M} UTC"))
    rows = await session.execute(
        select(InvitationEvent.state, InvitationEvent.at, InvitationEvent.detail)
        .where(InvitationEvent.invitation_id == invitation.id)
        .order_by(InvitationEvent.at, InvitationEvent.id)
    )
    entries += [TimelineEntry(state, at, detail) for state, at, detail in rows]
    if invitation.responded_at is not None and not any(e.state == ANSWERED for e in entries):
        entries.append(TimelineEntry(ANSWERED, invitation.responded_at))
    return sorted(entries, key=lambda e: e.at)
