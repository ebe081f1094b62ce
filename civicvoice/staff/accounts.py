"""Signing staff in and out, and the account changes an administrator makes: reset password, deactivate.

Every outcome is written to the audit table: the user id on success, on failure only the user id when the
account exists (never the email typed, never the password).
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from civicvoice.core.audit import Actor, record
from civicvoice.core.auth import ROLES, StaffUser, normalise_staff_email
from civicvoice.core.clock import utcnow
from civicvoice.core.crypto import digest_secret
from civicvoice.core.db import unit_of_work
from civicvoice.core.errors import CivicVoiceError, Conflict, InvalidInput, NotFound
from civicvoice.staff.models import StaffSession
from civicvoice.staff.passwords import PasswordWorkers, hash_password
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
    sessions: async_sessionmaker[AsyncSession],
    throttler: LoginThrottler,
    passwords: PasswordWorkers,
    *,
    email: str,
    password: str,
    address: str,
) -> SignedIn:
    """Count the attempt (after the throttle), check the password, and open a session.

    Three steps, so the slow one holds nothing: a short transaction counts the attempt and reads the account;
    the password is checked in the password pool outside any transaction (on SQLite a transaction holds the
    writer lock); a second short transaction writes the outcome. Raises TooManyAttempts or SignInFailed.
    """
    now = utcnow()
    email = email.strip().lower()[:254]
    try:
        async with unit_of_work(sessions) as session:
            await throttler.attempt(session, email, address, now)
            user = await session.scalar(select(StaffUser).where(StaffUser.email == email)) if email else None
    except TooManyAttempts:
        async with unit_of_work(sessions) as session:
            record(session, Actor("anonymous", "sign-in"), "staff.sign_in.throttled")
        raise
    checked_hash = user.password_hash if user else _DUMMY_HASH
    ok = await passwords.verify(checked_hash, password)
    async with unit_of_work(sessions) as session:
        if user is not None and ok:
            # The account as it is now: deactivated or given a new password while the check ran means no.
            user = await session.scalar(select(StaffUser).where(StaffUser.id == user.id))
            ok = user is not None and user.password_hash == checked_hash
        if user is None or not ok or not user.active:
            reason = "unknown_account" if user is None else ("inactive" if not user.active else "wrong_password")
            record(
                session,
                Actor("anonymous", "sign-in"),
                "staff.sign_in.failed",
                target_kind="staff_user" if user else None,
                target_id=user.id if user else None,
                detail={"reason": reason},
            )
            failed = True
        else:
            failed = False
            await throttler.succeeded(session, email, address, now)
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
    if failed or user is None:
        raise SignInFailed("Enter a correct email address and password.", field="email")
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
    session: AsyncSession,
    *,
    actor: Actor,
    password: str = "",
    password_hash: str | None = None,
    user_id: uuid.UUID | None = None,
    email: str | None = None,
) -> StaffUser:
    """Set a new password and end the user's sessions, so a stolen session dies with the old password.

    The web pages hash in the password pool first and pass ``password_hash``; the CLI passes ``password``."""
    user = await _user(session, user_id, email)
    user.password_hash = password_hash or hash_password(password)
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


async def create_staff_user(
    session: AsyncSession,
    *,
    email: str,
    display_name: str,
    role: str,
    actor: Actor,
    password: str = "",
    password_hash: str | None = None,
    service_scope: Iterable[str] = (),
    agent_ref: str | None = None,
) -> StaffUser:
    """Create an active staff account. The web pages hash in their password pool first and pass
    ``password_hash`` (argon2 never runs inside their transaction); the CLI passes ``password``."""
    if role not in ROLES:
        raise InvalidInput(f"Role must be one of {', '.join(ROLES)}.", field="role")
    email = normalise_staff_email(email)
    if await session.scalar(select(StaffUser.id).where(StaffUser.email == email)) is not None:
        raise Conflict("A staff user with that email already exists.", field="email")
    display_name = display_name.strip() or email.split("@")[0]
    user = StaffUser(
        email=email,
        display_name=display_name[:200],
        password_hash=password_hash or hash_password(password),
        role=role,
        service_scope=sorted(set(service_scope)),
        agent_ref=agent_ref,
        active=True,
        created_at=utcnow(),
        password_changed_at=utcnow(),
    )
    session.add(user)
    record(session, actor, "staff_user.create", target_kind="staff_user", target_id=user.id, detail={"role": role})
    return user
