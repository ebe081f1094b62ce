"""Signing staff in and out, and the account changes an administrator makes: reset password, deactivate.

Every outcome is written to the audit table: the user id on success, on failure only the user id when the
account exists (never the email typed, never the password).
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from civicvoice.core.audit import Actor, record
from civicvoice.core.auth import StaffUser, hash_password, verify_password
from civicvoice.core.clock import utcnow
from civicvoice.core.crypto import digest_secret
from civicvoice.core.errors import CivicVoiceError, NotFound
from civicvoice.staff.models import StaffSession
from civicvoice.staff.throttle import LoginThrottler, TooManyAttempts

SESSION_LIFETIME = timedelta(hours=12)
IDLE_TIMEOUT = timedelta(hours=1)
_TOUCH_EVERY = timedelta(minutes=1)
# Compared against when the email is unknown, so a wrong email costs as long as a wrong password.
_DUMMY_HASH = "$argon2id$v=19$m=65536,t=3,p=4$YvnbEUngngtHZ8aVKhC38A$DTuVQ0HxYCvbs+ma02jXGHsSADSgjMj8l8ubCe9BUEA"


class SignInFailed(CivicVoiceError):
    status = 401
    slug = "sign-in-failed"
    title = "Sign-in failed"


def staff_actor(user: StaffUser) -> Actor:
    return Actor("staff", str(user.id))


@dataclass(frozen=True)
class SignedIn:
    user: StaffUser
    token: str


async def sign_in(
    session: AsyncSession, throttler: LoginThrottler, *, email: str, password: str, address: str
) -> SignedIn:
    """Check the password (after the throttle) and open a session. Commits nothing: the caller's unit of work does."""
    now = utcnow()
    email = email.strip().lower()[:254]
    try:
        await throttler.check(session, email, address, now)
    except TooManyAttempts:
        record(session, Actor("anonymous", "sign-in"), "staff.sign_in.throttled")
        raise
    user = await session.scalar(select(StaffUser).where(StaffUser.email == email)) if email else None
    ok = verify_password(user.password_hash if user else _DUMMY_HASH, password)
    if user is None or not ok or not user.active:
        await throttler.failed(session, email, address, now)
        reason = "unknown_account" if user is None else ("inactive" if not user.active else "wrong_password")
        record(
            session,
            Actor("anonymous", "sign-in"),
            "staff.sign_in.failed",
            target_kind="staff_user" if user else None,
            target_id=user.id if user else None,
            detail={"reason": reason},
        )
        raise SignInFailed("Enter a correct email address and password.", field="email")
    await throttler.succeeded(session, email, now)
    token = secrets.token_urlsafe(32)
    session.add(
        StaffSession(
            user_id=user.id,
            token_digest=digest_secret(token),
            created_at=now,
            last_seen_at=now,
            expires_at=now + SESSION_LIFETIME,
        )
    )
    record(session, staff_actor(user), "staff.sign_in", target_kind="staff_user", target_id=user.id)
    return SignedIn(user, token)


async def session_user(session: AsyncSession, token: str, now: datetime | None = None) -> StaffUser | None:
    """The active user behind a session token, or None if the session is unknown, expired or idle too long."""
    now = now or utcnow()
    found = (
        await session.execute(
            select(StaffSession, StaffUser)
            .join(StaffUser, StaffUser.id == StaffSession.user_id)
            .where(StaffSession.token_digest == digest_secret(token))
        )
    ).first()
    if found is None:
        return None
    staff_session, user = found._tuple()
    if not user.active or staff_session.expires_at <= now or now - staff_session.last_seen_at > IDLE_TIMEOUT:
        await session.delete(staff_session)
        return None
    if now - staff_session.last_seen_at > _TOUCH_EVERY:
        staff_session.last_seen_at = now
    return user


async def sign_out(session: AsyncSession, token: str, user: StaffUser) -> None:
    await session.execute(delete(StaffSession).where(StaffSession.token_digest == digest_secret(token)))
    record(session, staff_actor(user), "staff.sign_out", target_kind="staff_user", target_id=user.id)


async def _user(session: AsyncSession, user_id: uuid.UUID | None = None, email: str | None = None) -> StaffUser:
    stmt = (
        select(StaffUser).where(StaffUser.id == user_id)
        if user_id
        else select(StaffUser).where(StaffUser.email == (email or "").strip().lower())
    )
    user = await session.scalar(stmt)
    if user is None:
        raise NotFound("There is no staff user with that email address." if email else "There is no such staff user.")
    return user


async def reset_password(
    session: AsyncSession, *, actor: Actor, password: str, user_id: uuid.UUID | None = None, email: str | None = None
) -> StaffUser:
    """Set a new password and end the user's sessions, so a stolen session dies with the old password."""
    user = await _user(session, user_id, email)
    user.password_hash = hash_password(password)
    user.password_changed_at = utcnow()
    await session.execute(delete(StaffSession).where(StaffSession.user_id == user.id))
    record(session, actor, "staff_user.reset_password", target_kind="staff_user", target_id=user.id)
    return user


async def deactivate(
    session: AsyncSession, *, actor: Actor, user_id: uuid.UUID | None = None, email: str | None = None
) -> StaffUser:
    """Deactivate the account (kept for the audit trail) and end its sessions at once."""
    user = await _user(session, user_id, email)
    if user.active:
        user.active = False
        await session.execute(delete(StaffSession).where(StaffSession.user_id == user.id))
        record(session, actor, "staff_user.deactivate", target_kind="staff_user", target_id=user.id)
    return user
