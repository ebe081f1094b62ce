"""Tables for staff access: server-side sign-in sessions and the login throttle."""

from __future__ import annotations

import uuid
from datetime import datetime

from advanced_alchemy.types import GUID, DateTimeUTC
from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from civicvoice.core.clock import utcnow
from civicvoice.core.datamap import DataMapEntry
from civicvoice.core.db import Base


class StaffSession(Base):
    """A signed-in browser. The cookie holds a random token; only its SHA-256 digest is stored here,
    so deleting the row (sign-out, deactivation, password reset) ends the session everywhere."""

    __tablename__ = "staff_session"
    __datamap__ = DataMapEntry(
        purpose="Keep staff signed in and let them, or an administrator, end a session",
        holds=("staff user id", "sign-in times"),
        category="staff activity",
        lawful_basis="legitimate_interests",
        retention="until sign-out or 12 hours",
        subject_kind="staff",
        subject_link="user_id",
        scheduled_jobs=("staff.prune",),
    )
    __table_args__ = (Index("ix_staff_session_user", "user_id"),)

    user_id: Mapped[uuid.UUID] = mapped_column(GUID, ForeignKey("staff_user.id", ondelete="CASCADE"))
    token_digest: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True), default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))


class LoginThrottle(Base):
    """Failed sign-ins per account and per client address, under a keyed hash (never the email or address)."""

    __tablename__ = "login_throttle"
    __datamap__ = DataMapEntry(
        purpose="Slow down password guessing against staff accounts",
        holds=("keyed hash of a staff email or client address",),
        category="security",
        lawful_basis="legitimate_interests",
        retention="24 hours after the last failure",
        subject_kind="staff",
        unlinked="keyed hashes of an email or client address, deleted 24 hours after the last failure",
        scheduled_jobs=("staff.prune",),
    )

    key_digest: Mapped[str] = mapped_column(String(64), unique=True)
    failures: Mapped[int] = mapped_column(default=0)
    last_failure_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True), default=utcnow)
    blocked_until: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True))
