"""Delivery receipts: what a provider says happened to a message moves its invitation on.

sent -> delivered | permanent_failure | temporary_failure | technical_failure. A permanent failure (no such
number or address) is final and never sent again. A temporary failure (phone off, inbox full) or a technical one
(the provider's own fault) is sent again, at most `MAX_REDELIVERIES` times, while the invitation is open. A
receipt for a message we do not know (sent from the provider's own pages, or an erased invitation) changes
nothing; the same receipt twice changes nothing the second time.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from enum import StrEnum
from typing import Final

import structlog
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from civicvoice.core.clock import utcnow
from civicvoice.core.jobs import enqueue_once
from surveys.channels import DeliveryStatus, StatusReport
from surveys.models import Invitation, InvitationEvent, InvitationState
from surveys.sending import SEND_INVITATION_JOB
from surveys.timeline import record_event

log = structlog.get_logger("civicvoice.receipts")

MAX_REDELIVERIES: Final = 2
REDELIVERY_DELAY: Final = {
    DeliveryStatus.temporary_failure: timedelta(hours=1),
    DeliveryStatus.technical_failure: timedelta(minutes=10),
}
_STATE_OF: Final = {
    DeliveryStatus.delivered: InvitationState.delivered,
    DeliveryStatus.permanent_failure: InvitationState.permanent_failure,
    DeliveryStatus.temporary_failure: InvitationState.temporary_failure,
    DeliveryStatus.technical_failure: InvitationState.technical_failure,
}
# A receipt moves an invitation only from these states (a late receipt never reopens an expired one).
_MOVABLE: Final = frozenset({InvitationState.sent, InvitationState.delivered})


class ReceiptOutcome(StrEnum):
    moved = "moved"
    redelivering = "redelivering"
    unchanged = "unchanged"  # a repeat, or a state a receipt does not move
    unknown = "unknown"  # not one of our references


async def apply_receipt(session: AsyncSession, report: StatusReport, *, channel: str) -> ReceiptOutcome:
    """Move the invitation the receipt is about, in the caller's transaction."""
    try:
        invitation_id = uuid.UUID(report.reference)
    except ValueError:
        return ReceiptOutcome.unknown
    invitation = await session.scalar(
        select(Invitation).where(Invitation.id == invitation_id, Invitation.channel == channel).with_for_update()
    )
    if invitation is None:
        return ReceiptOutcome.unknown
    target = _STATE_OF.get(report.status)
    if target is None or invitation.state == target or invitation.state not in _MOVABLE:
        return ReceiptOutcome.unchanged
    if target is InvitationState.delivered and invitation.state != InvitationState.sent:
        return ReceiptOutcome.unchanged
    now = utcnow()
    invitation.state, invitation.state_changed_at = target, now
    invitation.failure = None if target is InvitationState.delivered else report.status.value
    await record_event(session, invitation.id, target, f"receipt from {channel} provider", at=now)
    log.info("invitation_receipt", invitation_id=str(invitation.id), state=str(target))
    delay = REDELIVERY_DELAY.get(report.status)
    if delay is None or invitation.responded_at is not None:
        return ReceiptOutcome.moved
    retry_at = now + delay
    if retry_at >= invitation.expires_at:
        return ReceiptOutcome.moved
    failures = await session.scalar(
        select(func.count())
        .select_from(InvitationEvent)
        .where(
            InvitationEvent.invitation_id == invitation.id,
            InvitationEvent.state.in_([InvitationState.temporary_failure, InvitationState.technical_failure]),
        )
    )
    if (failures or 0) > MAX_REDELIVERIES:
        return ReceiptOutcome.moved
    invitation.state = InvitationState.queued
    invitation.due_at = retry_at
    await enqueue_once(
        session,
        SEND_INVITATION_JOB,
        {"invitation_id": invitation.id},
        key=f"{SEND_INVITATION_JOB}:{invitation.id}:redeliver-{failures}",
        run_at=retry_at,
    )
    await record_event(session, invitation.id, InvitationState.queued, f"sent again at {retry_at:%H:%M} UTC", at=now)
    return ReceiptOutcome.redelivering
