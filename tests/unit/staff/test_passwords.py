"""The password pool: argon2 runs on the pool's threads, never the event loop's, and never more than its
workers at once, however many checks are asked for."""

from __future__ import annotations

import asyncio
import threading

import pytest

from civicvoice.core.errors import InvalidInput
from civicvoice.staff import passwords
from civicvoice.staff.passwords import PasswordWorkers, hash_password


async def test_a_burst_queues_on_the_pool_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    loop_thread = threading.get_ident()
    lock = threading.Lock()
    state = {"running": 0, "most": 0}
    threads: set[int] = set()
    release = threading.Event()

    def slow_verify(password_hash: str, password: str) -> bool:
        with lock:
            state["running"] += 1
            state["most"] = max(state["most"], state["running"])
            threads.add(threading.get_ident())
        release.wait(5)
        with lock:
            state["running"] -= 1
        return password == "right"

    monkeypatch.setattr(passwords, "verify_password", slow_verify)
    pool = PasswordWorkers(workers=2)
    try:
        checks = [asyncio.ensure_future(pool.verify("hash", "wrong")) for _ in range(12)]
        checks.append(asyncio.ensure_future(pool.verify("hash", "right")))
        # The event loop is free while the checks wait: this coroutine runs between them.
        for _ in range(20):
            await asyncio.sleep(0)
        assert state["running"] <= 2
        release.set()
        results = await asyncio.gather(*checks)
    finally:
        await pool.aclose()
    assert results == [False] * 12 + [True]
    assert state["most"] == 2 and loop_thread not in threads


async def test_hashes_verify_and_short_passwords_are_refused_before_any_work() -> None:
    pool = PasswordWorkers()
    try:
        hashed = await pool.hash("a long enough password")
        assert hashed.startswith("$argon2") and await pool.verify(hashed, "a long enough password")
        assert not await pool.verify(hashed, "another password entirely")
        assert not await pool.verify("not a hash", "a long enough password")
        with pytest.raises(InvalidInput, match="12 characters"):
            await pool.hash("short")
    finally:
        await pool.aclose()
    assert hash_password("twelve chars!")  # the CLI still hashes in line
