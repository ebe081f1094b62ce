"""The job backends the job tests run on: the embedded worker, and SAQ on Redis (relay + SAQ worker).

The SAQ run skips only when no Redis answers at CIVICVOICE_REDIS_URL (default 127.0.0.1:6379), and says so;
with CIVICVOICE_REQUIRE_REDIS=1 (set by .ci/run) that skip is a failure instead. Each test gets a queue name of
its own, which prefixes every key SAQ writes, and those keys are deleted afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from civicvoice.core.jobs import Job, JobRegistry, Worker
from civicvoice.core.settings import Settings

REDIS_URL = os.environ.get("CIVICVOICE_REDIS_URL", "").strip() or "redis://127.0.0.1:6379/0"
JOB_BACKENDS = ["embedded", "saq"]
TEST_QUEUE_PREFIX = "cvtest-jobs-"


def redis_answers(url: str = REDIS_URL) -> bool:
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=0.5)
    try:
        return bool(client.ping())
    except (redis.RedisError, OSError):
        return False
    finally:
        client.close()


def require_redis() -> None:
    """Skip (or, in CI, fail) a SAQ test when no Redis answers."""
    if redis_answers():
        return
    no_redis = f"SAQ backend not tested: no Redis answers at {REDIS_URL} (set CIVICVOICE_REDIS_URL)"
    if os.environ.get("CIVICVOICE_REQUIRE_REDIS") == "1":
        pytest.fail(no_redis + "; CIVICVOICE_REQUIRE_REDIS=1 says it must", pytrace=False)
    pytest.skip(no_redis)


def delete_queue_keys(queue: str) -> None:
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        for pattern in (f"saq:{queue}:*", f"saq:job:{queue}:*", f"saq:abort:{queue}*"):
            keys = list(client.scan_iter(match=pattern, count=500))
            if keys:
                client.delete(*keys)
    finally:
        client.close()


def saq_settings(settings: Settings) -> Iterator[Settings]:
    """Settings for the SAQ backend with a queue (and so a key prefix) of this test's own."""
    require_redis()
    queue = f"{TEST_QUEUE_PREFIX}{uuid.uuid4().hex[:12]}"
    try:
        yield settings.with_changes(job_backend="saq", redis_url=REDIS_URL, saq_queue=queue)
    finally:
        delete_queue_keys(queue)


class SaqTestWorker(Worker):
    """A worker whose `run_due` goes through SAQ: relay the due rows, then run SAQ until its queue is empty.
    Claim, run_one, leases and names are the outbox's own, as in production."""

    def __init__(self, settings: Settings, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.settings = settings
        self.ran = 0

    async def run_one(self, job: Job, **kwargs: Any) -> str:
        self.ran += 1
        return await super().run_one(job, **kwargs)

    async def run_due(self, now: datetime | None = None) -> int:
        from civicvoice.core.jobs_saq import run_once

        before = self.ran
        # Handlers may enqueue more due work (a send queues its reminder, a response its scoring): keep going.
        for _ in range(20):
            handed = await run_once(self.settings, self.registry, self.sessions, self.services, now=now, runner=self)
            if not handed:
                break
        return self.ran - before


class JobBackend:
    """Makes workers for one backend, so a test reads the same on both."""

    def __init__(self, name: str, settings: Settings) -> None:
        self.name = name
        self.settings = settings

    def __repr__(self) -> str:
        return self.name

    def worker(
        self,
        registry: JobRegistry,
        sessions: async_sessionmaker[AsyncSession],
        services: Mapping[str, Any],
        *,
        name: str | None = None,
        lease: timedelta | None = None,
    ) -> Worker:
        if self.name == "saq":
            return SaqTestWorker(self.settings, registry, sessions, services, name=name, lease=lease)
        return Worker(registry, sessions, services, name=name, lease=lease)
