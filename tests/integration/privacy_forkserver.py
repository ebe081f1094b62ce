"""Runs the DPO's long operations (erasure with its purge, a retention run, a key rotation with its re-wrap) in real
processes that a test SIGKILLs at random points: this parent imports civicvoice once, then forks a child per
request, so a test can kill and restart many times without paying the import time.

Commands on stdin, one JSON object a line: ``{"start": OP, "kill_at": K, "jitter": SECONDS, ...}`` forks a child
that runs OP and answers its pid; ``{"wait": PID}`` answers its exit status (the negative signal number when a
signal ended it). With ``kill_at`` K > 0 the child arms a SIGKILL of itself when its K-th database statement (or
commit) starts, delivered ``jitter`` seconds later by another thread: the kill lands wherever the work then is (in
a statement, in a commit, between the key file and the database), never in start-up. Run as
``python -m tests.integration.privacy_forkserver`` with the civicvoice environment (``env_for``).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import threading
import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.engine import Engine

import civicvoice.app
from civicvoice.cli import cli
from civicvoice.core.audit import Actor
from civicvoice.core.commands import settings_from_env
from civicvoice.core.db import create_engine, session_factory
from civicvoice.core.jobs import DEAD, DONE, Job, Worker
from privacy.erasure import PURGE_JOB
from privacy.jobs import JOBS
from privacy.key_rotation import advance_rotation, rewrap_batch
from privacy.keys import load_keyring
from privacy.models import DataSubject
from privacy.retention import run as retention_run

# Small batches, so a run is many transactions and a kill can land between any two of them.
RETENTION_BATCH = 2
REWRAP_BATCH = 2


class Statements:
    seen = 0


def count_statements(kill_at: int, jitter: float) -> None:
    """Count this process's statements and commits; SIGKILL it ``jitter`` seconds after the ``kill_at``-th."""

    def count(*_args: Any, **_kwargs: Any) -> None:
        Statements.seen += 1
        if Statements.seen == kill_at:
            timer = threading.Timer(jitter, os.kill, (os.getpid(), signal.SIGKILL))
            timer.daemon = True
            timer.start()

    event.listen(Engine, "before_cursor_execute", count)
    event.listen(Engine, "commit", count)


def command(*args: str) -> None:
    cli.main(list(args), prog_name="civicvoice", standalone_mode=False)


async def not_yet_erased(subjects: list[str]) -> list[str]:
    settings = settings_from_env()
    engine = create_engine(settings)
    try:
        async with session_factory(engine)() as session:
            erased = set(
                (await session.scalars(select(DataSubject.id).where(DataSubject.erased_at.is_not(None)))).all()
            )
        return [s for s in subjects if uuid.UUID(s) not in erased]
    finally:
        await engine.dispose()


async def purge_jobs() -> None:
    """The erasure's background purge, run by a real job worker (leases, attempts, dead letters), job by job."""
    settings = settings_from_env()
    engine = create_engine(settings)
    sessions = session_factory(engine)
    worker = Worker(JOBS, sessions, {}, name=f"kill-test-{os.getpid()}", lease=timedelta(seconds=0.2))
    try:
        while True:
            async with sessions() as session:
                pending = (
                    await session.scalars(select(Job).where(Job.name == PURGE_JOB, Job.state.not_in([DONE, DEAD])))
                ).all()
                ids = [job.id for job in pending]
            if not ids:
                return
            ran = 0
            for job_id in ids:
                for job in await worker.claim(job_id=job_id):
                    await worker.run_one(job)
                    ran += 1
            if not ran:
                await asyncio.sleep(0.05)  # a killed run's lease is still in force
    finally:
        await engine.dispose()


async def retention() -> None:
    settings = settings_from_env()
    engine = create_engine(settings)
    try:
        await retention_run(session_factory(engine), settings, [], actor=Actor.cli(), batch=RETENTION_BATCH)
    finally:
        await engine.dispose()


async def rotate() -> None:
    """What `civicvoice keys rotate` does, run until the new KEK is active (a rotation is begun only when the key
    file has one KEK, so a rerun continues it), then what the re-wrap job does, in smaller batches, each its own
    transaction, until no data key is left under the old KEK."""
    settings = settings_from_env()
    engine = create_engine(settings)
    sessions = session_factory(engine)
    try:
        while True:
            keyring = load_keyring(settings)
            async with sessions() as session, session.begin():
                step = await advance_rotation(session, settings, actor=Actor.cli(), start=len(keyring.kek) == 1)
            if step.did != "added":
                break
        keyring = load_keyring(settings)
        while True:
            async with sessions() as session, session.begin():
                done = await rewrap_batch(session, keyring, batch=REWRAP_BATCH)
            if not done:
                return
    finally:
        await engine.dispose()


def run_operation(request: dict[str, Any]) -> None:
    operation = request["start"]
    if operation == "erase":
        # Like an operator going down a list: each person not yet erased, then the purge.
        for subject in asyncio.run(not_yet_erased(request["subjects"])):
            command("privacy", "erase", "--subject", subject, "--reason", "Kill test", "--as", request["operator"])
        asyncio.run(purge_jobs())
    elif operation == "retention":
        asyncio.run(retention())
    elif operation == "rotate":
        asyncio.run(rotate())
    else:
        raise ValueError(f"unknown operation {operation!r}")


def run_child(request: dict[str, Any]) -> None:
    code = 0
    try:
        os.dup2(2, 1)  # what the commands print goes to the log, never into the answers on stdout
        count_statements(int(request.get("kill_at") or 0), float(request.get("jitter", 0.0)))
        run_operation(request)
        print(f"{request['start']} finished after {Statements.seen} statements and commits", file=sys.stderr)
    except BaseException as exc:
        print(f"{request['start']} failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        code = 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def main() -> None:
    civicvoice.app.features()  # the feature packages, imported once
    for line in sys.stdin:
        request = json.loads(line)
        if "start" in request:
            pid = os.fork()
            if pid == 0:
                sys.stdin.close()
                run_child(request)
            print(pid, flush=True)
        elif "wait" in request:
            _, status = os.waitpid(int(request["wait"]), 0)
            print(os.waitstatus_to_exitcode(status), flush=True)


if __name__ == "__main__":
    main()
