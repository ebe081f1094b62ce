"""Parallel wrong passwords: every attempt is counted exactly once, none slips past a wait, and no one gets an
error (each count is one atomic upsert), on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import re
from datetime import datetime, timedelta

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from civicvoice.core.audit import AuditEvent
from civicvoice.core.clock import utcnow
from civicvoice.core.db import unit_of_work
from civicvoice.staff.models import LoginThrottle
from civicvoice.staff.throttle import ACCOUNT_BACK_OFF, BackOff, LoginThrottler, TooManyAttempts
from civicvoice.staff.web import SIGN_IN_CSRF_COOKIE
from tests.integration.support import TestDatabase
from tests.integration.test_staff_login import make_user

PARALLEL = 40


async def _attempt(db: TestDatabase, throttler: LoginThrottler, email: str, address: str, now: datetime) -> str:
    try:
        async with unit_of_work(db.sessions) as session:
            await throttler.attempt(session, email, address, now)
    except TooManyAttempts:
        return "waits"
    return "counted"


async def _counters(db: TestDatabase) -> list[int]:
    return sorted(row.failures for row in await db.all(LoginThrottle))


async def test_parallel_failures_are_each_counted_once_without_an_error(db: TestDatabase) -> None:
    never_waits = BackOff(free=10_000)
    throttler = LoginThrottler(b"k" * 32, account=never_waits, address=never_waits)
    # Every attempt at once, the first ones racing to create the same two counters.
    now = utcnow()
    outcomes = await asyncio.gather(
        *(_attempt(db, throttler, "dpo@council.gov.uk", "192.0.2.7", now) for _ in range(PARALLEL))
    )
    assert outcomes == ["counted"] * PARALLEL
    assert await _counters(db) == [PARALLEL, PARALLEL]
    # A second round on the same counters adds exactly as many again.
    await asyncio.gather(*(_attempt(db, throttler, "dpo@council.gov.uk", "192.0.2.7", now) for _ in range(PARALLEL)))
    assert await _counters(db) == [2 * PARALLEL, 2 * PARALLEL]


async def test_no_parallel_guess_slips_past_the_wait_another_one_set(db: TestDatabase) -> None:
    throttler = LoginThrottler(b"k" * 32)
    # All in the same instant: on a busy machine the attempts can otherwise spread past the first one-second wait,
    # which then rightly expires and lets the next attempt be counted.
    now = utcnow()
    outcomes = await asyncio.gather(
        *(_attempt(db, throttler, "dpo@council.gov.uk", "192.0.2.7", now) for _ in range(PARALLEL))
    )
    # The free failures and the one that set the first wait are counted; every other one waits, uncounted.
    allowed = ACCOUNT_BACK_OFF.free + 1
    assert outcomes.count("counted") == allowed and outcomes.count("waits") == PARALLEL - allowed
    assert await _counters(db) == [allowed, allowed]
    [blocked] = {row.blocked_until for row in await db.all(LoginThrottle) if row.blocked_until is not None}
    assert blocked == now + ACCOUNT_BACK_OFF.wait_after(allowed) == now + timedelta(seconds=1)


_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


async def test_parallel_wrong_sign_ins_get_401_or_429_and_exact_counts(
    client: AsyncTestClient[Litestar], db: TestDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    await make_user(db, "dpo")
    # The sixteen sign-ins arrive in one instant, as an attacker's burst does; on a busy machine they could
    # otherwise spread past the first one-second wait, which then rightly expires and counts the next attempt.
    now = utcnow()
    monkeypatch.setattr("civicvoice.staff.accounts.utcnow", lambda: now)
    form = await client.get("/staff/sign-in")
    found = _CSRF.search(form.text)
    assert found
    token = found.group(1)
    # Each request carries the form's cookie itself: the failures' fresh sign-in forms must not replace it.
    headers = {"cookie": f"{SIGN_IN_CSRF_COOKIE}={token}"}
    data = {"email": "dpo@council.gov.uk", "password": "wrong password guess", "csrf_token": token}
    answers = await asyncio.gather(
        *(client.post("/staff/sign-in", data=data, headers=headers, follow_redirects=False) for _ in range(16))
    )
    statuses = sorted(answer.status_code for answer in answers)
    allowed = ACCOUNT_BACK_OFF.free + 1
    assert statuses == [401] * allowed + [429] * (16 - allowed)
    assert await _counters(db) == [allowed, allowed]
    actions = [event.action for event in await db.all(AuditEvent)]
    assert actions.count("staff.sign_in.failed") == allowed
    assert actions.count("staff.sign_in.throttled") == 16 - allowed
