"""One rate limiter shared by every worker: a provider's ceiling (GOV.UK Notify: 3,000 messages a minute) holds
however many processes and machines send.

The limiter is GCRA (the generic cell rate algorithm): one number per limit, the theoretical arrival time (TAT)
of the next request. A caller reserves a slot by moving the TAT on by one emission interval, atomically, and
waits until its slot starts. With ``burst`` slots allowed at once, any window of ``period`` holds at most
``burst + (period - emission) / emission`` requests, so the emission interval is chosen to keep that within
``limit``: the ceiling is never exceeded, and a steady sender reaches ``(limit - burst + 1) / limit`` of it.

Two stores run the same algorithm: the database (one row per limit, updated in one atomic statement: PostgreSQL
serialises updates of a row, SQLite has one writer) and Redis (a Lua script, when the SAQ backend is on).
A reservation that would wait longer than ``max_wait`` is not taken: `RateLimited` says when to come back.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import Float, String, case, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from civicvoice.core.datamap import DataMapEntry
from civicvoice.core.db import Base, table
from civicvoice.core.ids import new_id


class RateLimitState(Base):
    """The theoretical arrival time of the next request, per limit (GCRA), for the database limiter."""

    __tablename__ = "rate_limit"
    __datamap__ = DataMapEntry.no_personal_data("Shared rate limits of outside providers (GOV.UK Notify)")

    name: Mapped[str] = mapped_column(String(64), unique=True)
    # Seconds since the epoch (a double: sub-microsecond precision for centuries).
    tat: Mapped[float] = mapped_column(Float(precision=53))


class RateLimited(Exception):
    """The next free slot is further away than the caller is willing to wait."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"rate limit reached; next slot in {retry_after:.2f}s")
        self.retry_after = retry_after


@dataclass(frozen=True)
class Rate:
    """``limit`` requests in any ``period`` seconds, ``burst`` of them at once."""

    limit: int
    period: float = 60.0
    burst: int = 10

    def __post_init__(self) -> None:
        if self.limit < 1 or self.period <= 0:
            raise ValueError("a rate needs a limit of at least 1 and a positive period")
        if not 1 <= self.burst <= self.limit:
            raise ValueError("burst must be between 1 and the limit")

    @property
    def emission(self) -> float:
        """Seconds between slots: any window of ``period`` then holds at most ``limit`` of them."""
        return self.period / (self.limit - self.burst + 1)

    @property
    def tolerance(self) -> float:
        """How far ahead of now the TAT may run while a slot is still free at once (the burst)."""
        return (self.burst - 1) * self.emission

    @property
    def steady_per_period(self) -> float:
        """What a sender that never stops gets per period: the limiter's own ceiling, for benchmarks."""
        return self.period / self.emission


class RateLimiter(Protocol):
    rate: Rate

    async def reserve(self, name: str, *, max_wait: float) -> float:
        """Reserve the next slot of ``name``; returns the seconds to wait before using it (0 if free now).
        Raises RateLimited, reserving nothing, if that would be more than ``max_wait``."""
        ...

    async def aclose(self) -> None: ...


async def acquire(limiter: RateLimiter, name: str, *, max_wait: float = 10.0) -> None:
    """Wait for a slot of ``name``: the one way callers use a limiter."""
    delay = await limiter.reserve(name, max_wait=max_wait)
    if delay > 0:
        await asyncio.sleep(delay)


def _now() -> float:
    return time.time()


class DatabaseRateLimiter:
    """GCRA on one row per limit, moved on in one UPDATE ... RETURNING (atomic on PostgreSQL and SQLite).

    Each worker uses its own clock: keep the machines' clocks in sync (NTP), as for job leases.
    """

    def __init__(self, sessions: async_sessionmaker[AsyncSession], rate: Rate) -> None:
        self.sessions = sessions
        self.rate = rate

    async def reserve(self, name: str, *, max_wait: float) -> float:
        emission, tolerance = self.rate.emission, self.rate.tolerance
        for _ in range(10):
            now = _now()
            rows = table(RateLimitState)
            start = case((rows.c.tat > now, rows.c.tat), else_=now)
            async with self.sessions() as session, session.begin():
                new_tat = await session.scalar(
                    update(rows)
                    .where(rows.c.name == name, start - now - tolerance <= max_wait)
                    .values(tat=start + emission)
                    .returning(rows.c.tat)
                )
                if new_tat is not None:
                    return max(0.0, float(new_tat) - emission - tolerance - now)
                current = await session.scalar(select(rows.c.tat).where(rows.c.name == name))
            if current is not None:
                wait = max(current, now) - now - tolerance
                if wait > max_wait:
                    raise RateLimited(wait)
                continue  # the row was created, or moved on, by another worker in between: try again
            try:
                async with self.sessions() as session, session.begin():
                    await session.execute(insert(rows).values(id=new_id(), name=name, tat=0.0))
            except IntegrityError:
                pass  # another worker created it first
        raise RuntimeError(f"rate limit {name!r} could not be reserved")  # pragma: no cover

    async def aclose(self) -> None:
        return None


# KEYS[1]: the limit's key. ARGV: emission, tolerance, max_wait (seconds). Redis's own clock is the clock, so
# every worker on every machine reads the same time. Returns the wait as a string, or "-" and the retry delay.
_GCRA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local emission = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local max_wait = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
local start = math.max(tat, now)
local wait = start - now - tolerance
if wait > max_wait then
  return {'-', tostring(wait)}
end
local new_tat = start + emission
redis.call('SET', KEYS[1], string.format('%.6f', new_tat), 'PX', math.ceil((new_tat - now) * 1000) + 1000)
return {'+', tostring(math.max(0, wait))}
"""


class RedisRateLimiter:
    """GCRA in a Lua script on the SAQ backend's Redis: one atomic step per reservation."""

    def __init__(self, url: str, rate: Rate, *, prefix: str = "civicvoice:ratelimit:") -> None:
        from redis.asyncio import Redis

        self.redis: Any = Redis.from_url(url)
        self.rate = rate
        self.prefix = prefix
        self._script: Any = self.redis.register_script(_GCRA)

    async def reserve(self, name: str, *, max_wait: float) -> float:
        sign, value = await self._script(
            keys=[self.prefix + name], args=[repr(self.rate.emission), repr(self.rate.tolerance), repr(max_wait)]
        )
        delay = float(value)
        if sign in (b"-", "-"):
            raise RateLimited(delay)
        return delay

    async def aclose(self) -> None:
        await self.redis.aclose()
