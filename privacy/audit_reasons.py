"""Why a privileged action was taken, as the operator typed it: stored only encrypted under the year's audit key,
which retention destroys after six years; the audit chain covers the ciphertext."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from civicvoice.core.audit import Actor, AuditEvent, record
from civicvoice.core.auth import StaffUser, normalise_staff_email
from civicvoice.core.errors import NotFound
from privacy.vault import Vault

REASON_FIELD = "audit.reason"


def audit_period(moment: datetime) -> str:
    return f"A-{moment.year}"


async def record_with_reason(
    session: AsyncSession,
    vault: Vault,
    actor: Actor,
    action: str,
    *,
    reason: str,
    target_kind: str | None = None,
    target_id: object | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditEvent:
    event = record(session, actor, action, target_kind=target_kind, target_id=target_id, detail=detail)
    event.reason_ciphertext = await vault.encrypt_for_period(
        session, audit_period(event.occurred_at), REASON_FIELD, event.id, reason.strip()[:2000]
    )
    return event


async def read_reason(session: AsyncSession, vault: Vault, event: AuditEvent) -> str | None:
    if event.reason_ciphertext is None:
        return None
    return await vault.decrypt_for_period(
        session, audit_period(event.occurred_at), REASON_FIELD, event.id, event.reason_ciphertext
    )


async def operator(session: AsyncSession, email: str | None) -> Actor:
    """The staff member a command acts as (``--as``): recorded in the audit by id, never by email."""
    if email is None:
        return Actor.cli()
    user = await session.scalar(select(StaffUser).where(StaffUser.email == normalise_staff_email(email)))
    if user is None or not user.active:
        raise NotFound("No active staff user has that email; give yours with --as.", field="as")
    return Actor("staff", str(user.id))
