"""The web form's survey link: a contact reported after an online transaction and invited on the `web_link`
channel gets its survey link back in the contact API's answer, for the transaction's confirmation page to show.

Nothing is sent: handing the link back is the invitation's delivery, so the invitation moves to `sent` (once) and
its timeline says so. The link is the ordinary signed survey link (`/s/TOKEN`), derived from the invitation's id
and expiry, so a duplicate report of the same contact answers with the same link.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Final

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from surveys.models import Invitation, InvitationState
from surveys.rules import InvitationChannel
from surveys.schemas import DecisionOut
from surveys.timeline import record_events
from surveys.tokens import Purpose, TokenSigner

LINK_HANDED_OVER: Final = "survey link returned to the contact system"


def wants_link(decision: DecisionOut | None, invitation_id: uuid.UUID | None) -> bool:
    return (
        decision is not None
        and invitation_id is not None
        and decision.channel == InvitationChannel.web_link.value
        and decision.expires_at is not None
    )


async def survey_links(
    session: AsyncSession,
    signer: TokenSigner,
    base_url: str,
    invitations: Sequence[tuple[uuid.UUID, DecisionOut]],
    now: datetime,
) -> dict[uuid.UUID, str]:
    """The survey link of each web-link invitation still open, by invitation id; those not yet handed over are
    marked sent, in the caller's transaction. One query and one update for any number."""
    if not invitations:
        return {}
    ids = sorted({invitation_id for invitation_id, _ in invitations})
    rows = (
        await session.execute(
            select(Invitation.id, Invitation.state, Invitation.expires_at, Invitation.responded_at).where(
                Invitation.id.in_(ids)
            )
        )
    ).all()
    links: dict[uuid.UUID, str] = {}
    fresh: list[uuid.UUID] = []
    for invitation_id, state, expires_at, responded_at in rows:
        if responded_at is not None or expires_at <= now or InvitationState(state).closed:
            continue  # answered or closed: a link would only lead to a page saying so
        token = signer.sign(invitation_id, Purpose.survey, expires_at)
        links[invitation_id] = f"{base_url.rstrip('/')}/s/{token}"
        if state == InvitationState.queued:
            fresh.append(invitation_id)
    if fresh:
        await session.execute(
            update(Invitation)
            .where(Invitation.id.in_(fresh), Invitation.state == InvitationState.queued)
            .values(state=InvitationState.sent, sent_at=now, state_changed_at=now)
            .execution_options(synchronize_session=False)
        )
        await record_events(session, fresh, InvitationState.sent, LINK_HANDED_OVER, at=now)
    return links
