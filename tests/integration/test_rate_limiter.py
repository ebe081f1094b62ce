"""The shared rate limiter under concurrency: parallel senders, each a "worker" with its own database engine (or
its own Redis connection), never get more than the limit of slots in any period between them."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from civicvoice.core.db import create_engine, session_factory
from civicvoice.core.ratelimit import DatabaseRateLimiter, Rate, RateLimited, RateLimiter, RedisRateLimiter
from civicvoice.core.settings import Settings
from tests.integration.job_backends import REDIS_URL, require_redis

RATE = Rate(limit=20, period=1.0, burst=5)
WORKERS = 4
SENDERS_PER_WORKER = 3
SLOTS = 60

MakeLimiter = Callable[..., Awaitable[tuple[RateLimiter, Callable[[], Awaitable[None]]]]]


def redis_url_db7() -> str:
    base = REDIS_URL.rsplit("/", 1)[0] if REDIS_URL.count("/") >= 3 else REDIS_URL
    return f"{base}/7"


@pytest.fixture(params=["database", "redis"])
async def limiters(request: pytest.FixtureRequest, settings: Settings) -> AsyncIterator[MakeLimiter]:
    """A factory of limiters that share one limit as separate workers would: own engine, or own connection."""
    made: list[Callable[[], Awaitable[None]]] = []
    prefix = f"cvtest-ratelimit-{uuid.uuid4().hex[:8]}:"
    if request.param == "redis":
        require_redis()

    async def make(rate: Rate = RATE) -> tuple[RateLimiter, Callable[[], Awaitable[None]]]:
        if request.param == "redis":
            redis_limiter = RedisRateLimiter(redis_url_db7(), rate, prefix=prefix)
            made.append(redis_limiter.aclose)
            return redis_limiter, redis_limiter.aclose
        engine = create_engine(settings)
        made.append(engine.dispose)
        return DatabaseRateLimiter(session_factory(engine), rate), engine.dispose

    yield make
    for close in made:
        await close()
    if request.param == "redis":
        import redis

        client = redis.Redis.from_url(redis_url_db7())
        try:
            for key in client.scan_iter(match=f"{prefix}*"):
                client.delete(key)
        finally:
            client.close()


def most_in_any_window(times: list[float], window: float) -> int:
    times = sorted(times)
    best, start = 0, 0
    for end, moment in enumerate(times):
        while times[start] <= moment - window:
            start += 1
        best = max(best, end - start + 1)
    return best


async def test_parallel_senders_share_one_limit(limiters: MakeLimiter) -> None:
    workers = [(await limiters())[0] for _ in range(WORKERS)]
    slots: list[float] = []
    name = f"test-{uuid.uuid4().hex[:8]}"

    async def sender(limiter: RateLimiter) -> None:
        while len(slots) < SLOTS:
            before = time.time()
            delay = await limiter.reserve(name, max_wait=30.0)
            # The slot this reservation was given: when the sender may call the provider.
            slots.append(before + delay)
            await asyncio.sleep(delay)

    await asyncio.gather(*(sender(w) for w in workers for _ in range(SENDERS_PER_WORKER)))

    assert len(slots) >= SLOTS
    # Never more than the limit in any period (a little under a period, for the clock read before each call):
    # a lost update between workers would hand out the same slot twice and break this at once.
    assert most_in_any_window(slots, RATE.period * 0.9) <= RATE.limit
    # And the slots are spread at the limiter's pace, not bunched: the last is about (n - burst) intervals in.
    span = max(slots) - min(slots)
    assert span >= (len(slots) - RATE.burst - 1) * RATE.emission * 0.9


async def test_a_wait_longer_than_allowed_reserves_nothing(limiters: MakeLimiter) -> None:
    slow = Rate(limit=5, period=60.0, burst=5)  # five at once, then one a minute
    limiter, _ = await limiters(slow)
    name = f"test-{uuid.uuid4().hex[:8]}"
    for _ in range(slow.burst):
        assert await limiter.reserve(name, max_wait=0.0) == 0.0
    with pytest.raises(RateLimited) as first:
        await limiter.reserve(name, max_wait=1.0)
    assert slow.emission - 5 < first.value.retry_after <= slow.emission
    # The refused call took no slot: asking again is told (about) the same wait, not a minute more.
    with pytest.raises(RateLimited) as second:
        await limiter.reserve(name, max_wait=1.0)
    assert abs(second.value.retry_after - first.value.retry_after) < 5
    # A caller willing to wait that long gets the slot.
    assert slow.emission - 5 < await limiter.reserve(name, max_wait=slow.emission) <= slow.emission


def test_the_ceiling_is_never_above_the_limit() -> None:
    for limit, burst in ((3000, 10), (20, 5), (1, 1), (100, 100)):
        rate = Rate(limit=limit, period=60.0, burst=burst)
        # Any window of one period holds at most burst + (period - emission) / emission slots.
        assert burst + int((rate.period - 1e-9) / rate.emission) <= limit
    assert Rate(limit=3000, period=60.0, burst=10).steady_per_period / 3000 > 0.99
