"""Login throttling: after a few free failures, each further failure doubles the wait before the next attempt.

Counted per account and per client address, under keyed hashes. The wait is capped and expires on its own, so
no one can lock the DPO out for good by typing wrong passwords; it only makes guessing slow.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from civicvoice.core.errors import CivicVoiceError
from civicvoice.staff.models import LoginThrottle


@dataclass(frozen=True)
class BackOff:
    """``free`` failures cost nothing; the next waits ``base``, then twice as long each time, up to ``cap``."""

    free: int
    base: timedelta = timedelta(seconds=1)
    cap: timedelta = timedelta(minutes=15)

    def wait_after(self, failures: int) -> timedelta:
        if failures <= self.free:
            return timedelta(0)
        exponent = min(failures - self.free - 1, 30)
        wait: timedelta = self.base * (2**exponent)
        return min(wait, self.cap)


# An office behind one NAT address shares the address counter, so it gets more free failures than an account.
ACCOUNT_BACK_OFF = BackOff(free=5)
ADDRESS_BACK_OFF = BackOff(free=20)
FORGET_AFTER = timedelta(hours=24)


class TooManyAttempts(CivicVoiceError):
    status = 429
    slug = "too-many-attempts"
    title = "Too many sign-in attempts"

    def __init__(self, retry_after: timedelta) -> None:
        seconds = max(1, int(retry_after.total_seconds() + 0.999))
        super().__init__(f"Too many failed sign-in attempts. Wait {_duration(seconds)} and try again.")
        self.retry_after_seconds = seconds


def _duration(seconds: int) -> str:
    if seconds < 60:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    minutes = (seconds + 59) // 60
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


class LoginThrottler:
    def __init__(self, key: bytes) -> None:
        self._key = key

    def _digest(self, kind: str, value: str) -> str:
        return hmac.new(self._key, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()

    def keys(self, email: str, address: str) -> list[tuple[str, BackOff]]:
        return [
            (self._digest("account", email.strip().lower()), ACCOUNT_BACK_OFF),
            (self._digest("address", address), ADDRESS_BACK_OFF),
        ]

    async def check(self, session: AsyncSession, email: str, address: str, now: datetime) -> None:
        """Raise TooManyAttempts while either counter asks the caller to wait."""
        digests = [digest for digest, _ in self.keys(email, address)]
        rows = (await session.scalars(select(LoginThrottle).where(LoginThrottle.key_digest.in_(digests)))).all()
        waits = [row.blocked_until - now for row in rows if row.blocked_until is not None and row.blocked_until > now]
        if waits:
            raise TooManyAttempts(max(waits))

    async def failed(self, session: AsyncSession, email: str, address: str, now: datetime) -> None:
        for digest, back_off in self.keys(email, address):
            row = await session.scalar(select(LoginThrottle).where(LoginThrottle.key_digest == digest))
            if row is None:
                row = LoginThrottle(key_digest=digest, failures=0, last_failure_at=now)
                session.add(row)
            elif now - row.last_failure_at > FORGET_AFTER:
                row.failures = 0
            row.failures += 1
            row.last_failure_at = now
            wait = back_off.wait_after(row.failures)
            row.blocked_until = now + wait if wait else None

    async def succeeded(self, session: AsyncSession, email: str, now: datetime) -> None:
        """A correct password clears the account's counter (not the address's: one good account must not
        let an attacker keep guessing others from the same address)."""
        account_digest = self.keys(email, "")[0][0]
        await session.execute(delete(LoginThrottle).where(LoginThrottle.key_digest == account_digest))
        await forget_old_counters(session, now)


async def forget_old_counters(session: AsyncSession, now: datetime) -> int:
    """Delete counters whose last failure is past FORGET_AFTER (and that block no one); returns how many."""
    result = await session.execute(
        delete(LoginThrottle).where(
            LoginThrottle.last_failure_at < now - FORGET_AFTER,
            or_(LoginThrottle.blocked_until.is_(None), LoginThrottle.blocked_until <= now),
        )
    )
    return result.rowcount or 0  # type: ignore[attr-defined]
