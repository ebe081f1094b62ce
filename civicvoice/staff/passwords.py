"""Password hashing and checking off the event loop: argon2 runs in a small pool of its own, so a burst of
sign-ins queues there instead of stalling every page, the API and the embedded worker.

argon2-cffi releases the GIL; the pool's threads (and the threads argon2 starts for its lanes, which inherit
them) run at a lower CPU priority, so serving pages wins over checking guesses when both want the CPU.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from concurrent.futures import ThreadPoolExecutor

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from civicvoice.core.errors import InvalidInput

_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    if len(password) < 12:
        raise InvalidInput("Passwords must be at least 12 characters long.", field="password")
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


# Two checks at once at most (the machines serving this have a few cores); the rest wait their turn.
PASSWORD_WORKERS = 2
# How far below the web threads the password threads run (Linux nice, 0..19; a thread can lower its own).
NICENESS = 10


def _lower_priority() -> None:
    # Per-thread on Linux; elsewhere this is unavailable or process-wide, and the pool just runs at normal priority.
    if hasattr(os, "setpriority") and hasattr(threading, "get_native_id") and os.name == "posix":
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), NICENESS)


class PasswordWorkers:
    """The one place passwords are hashed and checked in the web process (the CLI hashes in line)."""

    def __init__(self, workers: int = PASSWORD_WORKERS) -> None:
        self._pool = ThreadPoolExecutor(
            max_workers=workers, thread_name_prefix="civicvoice-passwords", initializer=_lower_priority
        )
        self._slots = asyncio.Semaphore(workers)

    async def hash(self, password: str) -> str:
        """An argon2 hash; InvalidInput for a password too short (checked before any work is queued)."""
        if len(password) < 12:
            hash_password(password)  # raises the one message for a short password
        async with self._slots:
            return await asyncio.get_running_loop().run_in_executor(self._pool, hash_password, password)

    async def verify(self, password_hash: str, password: str) -> bool:
        # The semaphore keeps waiting callers in the event loop's queue rather than the pool's, so a cancelled
        # request (the client went away) leaves the queue without costing a check.
        async with self._slots:
            return await asyncio.get_running_loop().run_in_executor(
                self._pool, verify_password, password_hash, password
            )

    async def aclose(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
