"""Unsubscribing: a sticky opt-out for the person, their identifiers on the suppression list, queued sends cancelled."""

from __future__ import annotations

import uuid

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from civicvoice.core.clock import utcnow
from privacy.exceptions import KeyDestroyed
from privacy.models import DataSubject
from privacy.vault import IdentityClaim, Vault
from surveys.models import Invitation, InvitationState


async def unsubscribe(session: AsyncSession, vault: Vault, invitation_id: uuid.UUID) -> bool:
    """Opt the invitation's person out of surveys; idempotent. False when there is no one left to opt out."""
    invitation = await session.get(Invitation, invitation_id)
    if invitation is None or invitation.subject_id is None:
        return False
    return await opt_out(session, vault, invitation.subject_id, reason="unsubscribe")


async def opt_out(session: AsyncSession, vault: Vault, subject_id: uuid.UUID, *, reason: str) -> bool:
    """Opt a person out on every channel: sticky opt-out, every email and number of theirs on the suppression
    list, queued invitations cancelled. Idempotent; False when there is no one left to opt out."""
    subject = await session.scalar(select(DataSubject).where(DataSubject.id == subject_id).with_for_update())
    if subject is None:
        return False
    now = utcnow()
    if subject.opted_out_at is None:
        subject.opted_out_at = now
    try:
        identity = await vault.identity(session, subject)
    except KeyDestroyed:
        identity = None
    if identity is not None:
        for email in identity.emails:
            await vault.suppress(session, IdentityClaim(email=email), reason=reason)
        for phone in identity.phones:
            await vault.suppress(session, IdentityClaim(phone=phone), reason=reason)
    await session.execute(
        update(Invitation)
        .where(Invitation.subject_id == subject.id, Invitation.state == InvitationState.queued)
        .values(state=InvitationState.cancelled, failure="opted_out")
    )
    return True
