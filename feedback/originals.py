"""Seeing a comment as written: a permission of its own, granted to named staff by an administrator (no role
carries it), asked for with a reason each time, and audited with that reason encrypted. Every list and the inbox
show comments redacted; only this one page, for one comment, shows the original.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from advanced_alchemy.types import GUID, DateTimeUTC
from sqlalchemy import ForeignKey, String, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from civicvoice.core.audit import Actor, record
from civicvoice.core.auth import StaffUser
from civicvoice.core.clock import utcnow
from civicvoice.core.datamap import DataMapEntry, Link
from civicvoice.core.db import Base
from civicvoice.core.errors import InvalidInput, NotFound, PermissionDenied
from privacy.audit_reasons import record_with_reason
from privacy.exceptions import KeyDestroyed
from privacy.vault import Vault
from surveys.models import Answer, Response
from surveys.responses import read_answer_text

# A reason a person can later be asked about: a few words at least.
MIN_REASON = 10


class OriginalTextGrant(Base):
    """A staff member allowed to ask for comments as written."""

    __tablename__ = "original_text_grant"
    __datamap__ = DataMapEntry(
        purpose="Who may see comments as written (unredacted), and who allowed it",
        holds=("staff id of the holder", "staff id of who granted it"),
        category="staff activity",
        lawful_basis="public_task",
        retention="account lifetime + 1 year",
        subject_kind="staff",
        subject_link="staff_user_id",
        links=(Link("granted_by", "staff_user"),),
    )

    staff_user_id: Mapped[uuid.UUID] = mapped_column(GUID, ForeignKey("staff_user.id", ondelete="CASCADE"), unique=True)
    granted_by: Mapped[str] = mapped_column(String(64))
    granted_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True), default=utcnow)


class NeedsOriginalTextPermission(PermissionDenied):
    slug = "needs-original-text-permission"
    title = "Permission to see comments as written needed"


async def may_see_originals(session: AsyncSession, user: StaffUser) -> bool:
    if not user.active:
        return False
    found = await session.scalar(select(OriginalTextGrant.id).where(OriginalTextGrant.staff_user_id == user.id))
    return found is not None


async def require_original_permission(session: AsyncSession, user: StaffUser) -> None:
    if not await may_see_originals(session, user):
        raise NeedsOriginalTextPermission(
            "Seeing comments as written is a separate permission; ask an administrator "
            "('civicvoice feedback originals grant')."
        )


async def grant(session: AsyncSession, user: StaffUser, *, actor: Actor) -> bool:
    """Allow ``user`` to see originals; False when they already could. Audited."""
    if await may_see_originals(session, user):
        return False
    session.add(OriginalTextGrant(staff_user_id=user.id, granted_by=actor.id, granted_at=utcnow()))
    record(session, actor, "feedback.originals.grant", target_kind="staff_user", target_id=user.id)
    return True


async def revoke(session: AsyncSession, user: StaffUser, *, actor: Actor) -> bool:
    found = await session.scalar(select(OriginalTextGrant).where(OriginalTextGrant.staff_user_id == user.id))
    if found is None:
        return False
    await session.delete(found)
    record(session, actor, "feedback.originals.revoke", target_kind="staff_user", target_id=user.id)
    return True


def check_reason(reason: str) -> str:
    text = " ".join(reason.split())
    if len(text) < MIN_REASON:
        raise InvalidInput(
            f"Say why you need to see this comment as written (at least {MIN_REASON} characters); it is recorded.",
            field="reason",
        )
    return text[:2000]


async def read_original(
    session: AsyncSession, vault: Vault, answer: Answer, response: Response, *, reason: str, actor: Actor
) -> str | None:
    """The comment as written (None when the person's key is gone), audited with the reason encrypted."""
    why = check_reason(reason)
    try:
        text = await read_answer_text(session, vault, response, answer)
    except KeyDestroyed:
        text = None
    await record_with_reason(
        session,
        vault,
        actor,
        "feedback.comment_original_viewed",
        reason=why,
        target_kind="answer",
        target_id=answer.id,
        detail={"found": text is not None},
    )
    return text


async def comment_and_response(session: AsyncSession, answer_id: uuid.UUID) -> tuple[Answer, Response]:
    found = (
        await session.execute(
            select(Answer, Response).join(Response, Response.id == Answer.response_id).where(Answer.id == answer_id)
        )
    ).first()
    if found is None or found[0].text_ciphertext is None:
        raise NotFound("No such comment.", field="answer_id")
    return found[0], found[1]
