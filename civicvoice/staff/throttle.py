"""Login throttling: after a few free failures, each further failure doubles the wait before the next attempt.

Counted per account and per client address, under keyed hashes, each count one atomic upsert. The wait is
capped and expires on its own, so no one can lock the DPO out for good by typing wrong passwords; it only makes
guessing slow.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import ReturningInsert

from civicvoice.core.db import conflict_insert, table
from civicvoice.core.errors import CivicVoiceError
from civicvoice.core.ids import new_id
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
    def __init__(self, key: bytes, *, account: BackOff = ACCOUNT_BACK_OFF, address: BackOff = ADDRESS_BACK_OFF) -> None:
        self._key = key
        self._account = account
        self._address = address

    def _digest(self, kind: str, value: str) -> str:
        return hmac.new(self._key, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()

    def keys(self, email: str, address: str) -> list[tuple[str, BackOff]]:
        return [
            (self._digest("account", email.strip().lower()), self._account),
            (self._digest("address", address), self._address),
        ]

    async def attempt(self, session: AsyncSession, email: str, address: str, now: datetime) -> None:
        """Count this attempt on both counters before its password is checked, or raise TooManyAttempts.

        Each counter is one atomic upsert that adds the attempt only while the counter asks for no wait, so
        parallel guesses each get their own count and none slips past a wait another one set. Raising leaves
        the caller to roll back, so an attempt refused by one counter is not counted on the other. A correct
        password gives its count back (`succeeded`).
        """
        for digest, back_off in self.keys(email, address):
            failures = await session.scalar(_count_attempt(session, digest, now))
            if failures is None:
                blocked_until = await session.scalar(
                    select(LoginThrottle.blocked_until).where(LoginThrottle.key_digest == digest)
                )
                raise TooManyAttempts((blocked_until or now) - now)
            wait = back_off.wait_after(failures)
            if wait:
                await session.execute(
                    update(LoginThrottle).where(LoginThrottle.key_digest == digest).values(blocked_until=now + wait)
                )

    async def succeeded(self, session: AsyncSession, email: str, address: str, now: datetime) -> None:
        """A correct password clears the account's counter and takes its attempt back from the address's (the
        address keeps its other failures: one good account must not let an attacker keep guessing others from
        the same address)."""
        (account_digest, _), (address_digest, address_back_off) = self.keys(email, address)
        await session.execute(delete(LoginThrottle).where(LoginThrottle.key_digest == account_digest))
        await session.execute(
            update(LoginThrottle)
            .where(LoginThrottle.key_digest == address_digest, LoginThrottle.failures > 0)
            .values(
                failures=LoginThrottle.failures - 1,
                blocked_until=case(
                    (LoginThrottle.failures - 1 <= address_back_off.free, None), else_=LoginThrottle.blocked_until
                ),
            )
        )
        await forget_old_counters(session, now)


def _count_attempt(session: AsyncSession, digest: str, now: datetime) -> ReturningInsert[tuple[int]]:
    """INSERT ... ON CONFLICT DO UPDATE ... RETURNING failures, in the session's dialect (PostgreSQL or SQLite).
    No row comes back while the counter asks for a wait."""
    throttle = table(LoginThrottle)
    stmt = conflict_insert(session, throttle).values(
        id=new_id(), key_digest=digest, failures=1, last_failure_at=now, blocked_until=None
    )
    return stmt.on_conflict_do_update(
        index_elements=[throttle.c.key_digest],
        set_={
            # A counter idle past FORGET_AFTER starts again (the prune job may not have deleted it yet).
            "failures": case((throttle.c.last_failure_at < now - FORGET_AFTER, 1), else_=throttle.c.failures + 1),
            "last_failure_at": now,
        },
        where=or_(throttle.c.blocked_until.is_(None), throttle.c.blocked_until <= now),
    ).returning(throttle.c.failures)


async def forget_old_counters(session: AsyncSession, now: datetime) -> int:
    """Delete counters whose last failure is past FORGET_AFTER (and that block no one); returns how many."""
    result = await session.execute(
        delete(LoginThrottle).where(
            LoginThrottle.last_failure_at < now - FORGET_AFTER,
            or_(LoginThrottle.blocked_until.is_(None), LoginThrottle.blocked_until <= now),
        )
    )
    return result.rowcount or 0  # type: ignore[attr-defined]
