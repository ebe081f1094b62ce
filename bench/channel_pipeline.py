"""The invitation pipeline of issue 14 end to end, as three ratios measured in the same run:

1. Decision: N contact events (100,000 at scale 1.0) posted through POST /api/v1/contacts/batch (1,000 a request,
   2 requests in flight) to a real civicvoice server under uvicorn, with the demo invitation policy (every
   contact invited at once; the frequency cap still refuses the one in five from returning customers). Events a
   second from the first request to the last answer, against a bare insert of the same rows: every row the run
   added (people, their encrypted identities and blind indexes, contacts, decisions, invitations, their
   timelines, send jobs, audit entries), read back afterwards and inserted as they are, table by table in
   dependency order, 1,000 rows an executemany and a commit, through civicvoice's engine, into a fresh database
   of the same backend and schema (migrated, with the seed rows copied beforehand). The ratio is the cost of
   deciding (HTTP, validation, encryption, the rules, the cap) over the cost of storing what was decided.
   Target: at least 0.5. For comparison it also prints the figure against one JSON row per event (each event's
   JSON as one row of a one-table schema), which the earlier runs reported.
2. SMTP: a sample of the email invitations just queued (SMTP_SAMPLE, 2,000 at scale 1.0; the other invitations
   stay queued, moved a year ahead, because sending all of them would take far longer than the bench's budget)
   sent by 8 real job workers (the outbox, surveys/sending.py, the email channel, aiosmtplib) to the aiosmtpd
   sink of the tests on 127.0.0.1. Messages the sink accepted a second, from the start of sending to the last
   one accepted, against the sink alone fed the same number of equivalent messages (built by the email channel
   beforehand) by plain aiosmtplib.send, 8 at a time. Target: at least 0.5.
3. Notify: bench/notify_send_rate.py's two measurements on the same database, against the limiter's own
   ceiling (3,000 a minute): the SMS channel alone (the shared limiter, notifications-python-client, the Notify
   stand-in; that bench's headline figure) and the whole pipeline (SMS invitations decided through the intake
   and sent by its job workers). Target: at least 0.9. That bench also measures with no limit and with the
   Redis limiter; this one does not repeat those.

SQLite always; PostgreSQL too when reachable (two throwaway databases). CIVICVOICE_BENCH_SCALE (default 1.0)
scales the events, the SMTP sample and the Notify messages.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import random
import sys
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness  # noqa: E402
import notify_send_rate  # noqa: E402
from contacts_throughput import BATCH_PATH, BATCH_SIZE, batch_body, prepare_civicvoice  # noqa: E402

from tests.integration.notify_standin import NotifyStandIn  # noqa: E402
from tests.integration.smtp import SmtpServer, free_port  # noqa: E402

LABEL = "channel pipeline"
EVENTS = 100_000
SMTP_SAMPLE = 2_000
DECISION_TARGET = 0.5
SMTP_TARGET = 0.5
NOTIFY_TARGET = notify_send_rate.TARGET
BATCH_CONCURRENCY = 2
SMTP_CONCURRENCY = 8  # job workers, and the baseline's sends in flight
RUN_ID = 7  # the customers' run id in contacts_throughput's generator
DEFERRED = timedelta(days=365)


def scaled(total: int, scale: float, least: int) -> int:
    """``total`` times the scale, never below ``least``."""
    return max(least, int(total * scale))


def batch_count(events: int) -> int:
    """Whole batches of BATCH_SIZE needed for ``events`` (the last one may be short)."""
    return -(-events // BATCH_SIZE)


def make_bodies(events: int) -> list[bytes]:
    """The batch request bodies for ``events`` events, made before anything is timed."""
    bodies = []
    for number in range(batch_count(events)):
        body = json.loads(batch_body(number, random.Random(number), RUN_ID))  # noqa: S311 - test data
        body["events"] = body["events"][: events - number * BATCH_SIZE]
        bodies.append(json.dumps(body).encode())
    return bodies


def rate(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else float("nan")


def ratio_line(label: str, subject: str, ours: float, baseline: str, theirs: float, unit: str, target: float) -> str:
    """The harness's ratio line: both figures, their ratio and the target."""
    ratio = ours / theirs if theirs else float("nan")
    return (
        f"{label}: {subject} {ours:.1f} {unit}, {baseline} {theirs:.1f} {unit}, ratio {ratio:.2f} "
        f"(target >= {target:g})"
    )


# --- 1. decision ------------------------------------------------------------------------------------------


async def post_batches(url: str, api_key: str, bodies: Sequence[bytes]) -> float:
    """POST every body, BATCH_CONCURRENCY at a time; every event must be accepted. Returns the seconds taken."""
    import httpx

    headers = {"authorization": f"Bearer {api_key}", "content-type": "application/json"}
    pending = list(reversed(bodies))
    limits = httpx.Limits(max_connections=BATCH_CONCURRENCY)
    async with httpx.AsyncClient(limits=limits, timeout=httpx.Timeout(600.0), trust_env=False) as client:

        async def worker() -> None:
            while pending:
                answer = await client.post(url, content=pending.pop(), headers=headers)
                if answer.status_code != 200:
                    raise harness.HarnessError(f"the batch API answered {answer.status_code}: {answer.text[:500]}")
                refused = [item for item in answer.json()["results"] if item["status"] != "accepted"]
                if refused:
                    raise harness.HarnessError(f"{len(refused)} events not accepted, first: {refused[0]}")

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(BATCH_CONCURRENCY)))
        return time.perf_counter() - started


async def bare_insert(database_url: str, data_dir: Path, bodies: Sequence[bytes]) -> float:
    """Insert the same events, one JSON row each, 1,000 rows a transaction; returns the seconds taken."""
    from baseline_app import BaselineBase, ReceivedContact
    from sqlalchemy import insert

    from civicvoice.core.db import create_engine
    from civicvoice.core.settings import Settings

    engine = create_engine(Settings(data_dir=data_dir, database_url=database_url))
    try:
        async with engine.begin() as connection:
            await connection.run_sync(BaselineBase.metadata.create_all)
        batches = [json.loads(body)["events"] for body in bodies]
        started = time.perf_counter()
        for events in batches:
            now = datetime.now(UTC)
            rows = [{"id": uuid.uuid4(), "body": event, "received_at": now} for event in events]
            async with engine.begin() as connection:
                await connection.execute(insert(ReceivedContact), rows)
        return time.perf_counter() - started
    finally:
        await engine.dispose()


def civicvoice_tables() -> list[Any]:
    """Every civicvoice table, parents before children."""
    from civicvoice.app import features
    from civicvoice.core.db import Base

    features()  # imports every feature's models
    return list(Base.metadata.sorted_tables)


def primary_key(table: Any, row: Any) -> tuple[Any, ...]:
    return tuple(row._mapping[column.name] for column in table.primary_key.columns)


async def table_rows(database_url: str, data_dir: Path) -> dict[str, list[Any]]:
    """Every row of every civicvoice table, by table name."""
    from sqlalchemy import select

    from civicvoice.core.db import create_engine
    from civicvoice.core.settings import Settings

    engine = create_engine(Settings(data_dir=data_dir, database_url=database_url))
    try:
        async with engine.connect() as connection:
            return {table.name: list(await connection.execute(select(table))) for table in civicvoice_tables()}
    finally:
        await engine.dispose()


async def insert_rows(
    database_url: str, data_dir: Path, rows: dict[str, list[Any]], *, skip: dict[str, set[Any]] | None = None
) -> float:
    """Insert the rows as they are, table by table in dependency order, 1,000 rows an executemany and a commit;
    rows whose primary key is in ``skip`` are left out. Returns the seconds taken."""
    from sqlalchemy import insert

    from civicvoice.core.db import create_engine
    from civicvoice.core.settings import Settings

    engine = create_engine(Settings(data_dir=data_dir, database_url=database_url))
    tables = civicvoice_tables()
    batches = []
    for table in tables:
        left_out = (skip or {}).get(table.name, set())
        values = [dict(row._mapping) for row in rows.get(table.name, []) if primary_key(table, row) not in left_out]
        batches += [(table, values[start : start + BATCH_SIZE]) for start in range(0, len(values), BATCH_SIZE)]
    try:
        started = time.perf_counter()
        for table, chunk in batches:
            async with engine.begin() as connection:
                await connection.execute(insert(table), chunk)
        return time.perf_counter() - started
    finally:
        await engine.dispose()


def new_rows(before: dict[str, list[Any]], after: dict[str, list[Any]]) -> dict[str, list[Any]]:
    """The rows in ``after`` that ``before`` did not have (rows the run only updated are not counted)."""
    added = {}
    for table in civicvoice_tables():
        known = {primary_key(table, row) for row in before.get(table.name, [])}
        added[table.name] = [row for row in after.get(table.name, []) if primary_key(table, row) not in known]
    return added


async def bare_insert_same_rows(
    cv_url: str, cv_dir: Path, baseline_url: str, base_dir: Path, before: dict[str, list[Any]]
) -> tuple[float, int]:
    """Copy the seed rows into the migrated baseline database (not timed), then insert every row the decision run
    added, timed. Returns (seconds, rows inserted)."""
    added = new_rows(before, await table_rows(cv_url, cv_dir))
    present = await table_rows(baseline_url, base_dir)  # what the migrations themselves wrote
    skip = {
        table.name: {primary_key(table, row) for row in present.get(table.name, [])} for table in civicvoice_tables()
    }
    await insert_rows(baseline_url, base_dir, before, skip=skip)
    seconds = await insert_rows(baseline_url, base_dir, added)
    return seconds, sum(len(rows) for rows in added.values())


# --- 2. SMTP ----------------------------------------------------------------------------------------------


def _run_sink(port: int, commands: Any) -> None:
    """The sink process: the tests' aiosmtpd sink, noting when it accepted each message, until told to stop."""
    sink = SmtpServer(port)
    accepted_at: list[float] = []
    handle = sink.sink.handle_DATA

    async def timed(server: Any, session: Any, envelope: Any) -> str:
        answer = await handle(server, session, envelope)
        accepted_at.append(time.perf_counter())  # CLOCK_MONOTONIC: comparable across processes on Linux
        return answer

    sink.sink.handle_DATA = timed  # type: ignore[method-assign]
    sink.start()
    commands.send("started")
    try:
        while (command := commands.recv()) != "stop":
            if command == "times":
                commands.send(list(accepted_at))
    finally:
        sink.stop()


class TimedSmtpServer:
    """The tests' aiosmtpd sink in a process of its own, as a mail server is: in the workers' process its thread
    took the interpreter lock from them at every socket write (each database statement's too), which measured
    that contention rather than the pipeline. ``accepted_at``: when it accepted each message (perf_counter)."""

    def __init__(self) -> None:
        self.port = free_port()
        self._commands, child = multiprocessing.get_context("spawn").Pipe()
        self._process = multiprocessing.get_context("spawn").Process(
            target=_run_sink, args=(self.port, child), daemon=True
        )

    def start(self) -> None:
        self._process.start()
        if not self._commands.poll(60) or self._commands.recv() != "started":
            raise harness.HarnessError("the SMTP sink process did not start")

    @property
    def accepted_at(self) -> list[float]:
        self._commands.send("times")
        return list(self._commands.recv())

    def stop(self) -> None:
        self._commands.send("stop")
        self._process.join(timeout=30)


async def invitation_counts(sessions: Any) -> dict[str, int]:
    from sqlalchemy import func, select

    from surveys.models import Invitation

    async with sessions() as session:
        rows = await session.execute(select(Invitation.channel, func.count()).group_by(Invitation.channel))
        return {channel: count for channel, count in rows.all()}


async def keep_sample_due(sessions: Any, sample: int) -> int:
    """Move every queued job a year ahead, then bring ``sample`` email invitations' send jobs back to now."""
    from sqlalchemy import select, update

    from civicvoice.core.clock import utcnow
    from civicvoice.core.jobs import QUEUED, Job
    from surveys.models import Invitation
    from surveys.sending import SEND_INVITATION_JOB

    now = utcnow()
    async with sessions() as session, session.begin():
        await session.execute(update(Job).where(Job.state == QUEUED).values(run_at=now + DEFERRED))
        chosen = list(
            await session.scalars(
                select(Invitation.id).where(Invitation.channel == "email").order_by(Invitation.due_at).limit(sample)
            )
        )
        for start in range(0, len(chosen), 500):
            keys = [f"{SEND_INVITATION_JOB}:{invitation_id}" for invitation_id in chosen[start : start + 500]]
            await session.execute(update(Job).where(Job.dedupe_key.in_(keys)).values(run_at=now))
    return len(chosen)


async def send_through_workers(env: dict[str, str], smtp: TimedSmtpServer, sample: int) -> tuple[int, float]:
    """Run SMTP_CONCURRENCY real workers over the due sample; (messages accepted, seconds to the last one)."""
    from civicvoice.app import build_services, close_services, features, job_registry, settle_heap
    from civicvoice.core.db import create_engine, session_factory
    from civicvoice.core.jobs import Worker
    from civicvoice.core.settings import Settings

    settings = Settings.from_env(
        {**env, "CIVICVOICE_SMTP_HOST": harness.HOST, "CIVICVOICE_SMTP_PORT": str(smtp.port)}
        | {"CIVICVOICE_SMTP_SECURITY": "none", "CIVICVOICE_LOG_LEVEL": "ERROR"}
    )
    engine = create_engine(settings)
    sessions = session_factory(engine)
    feature_list = features()
    services = await build_services(settings, sessions, feature_list, long_running=True)
    settle_heap(settings)  # as `civicvoice worker` does once started
    try:
        counts = await invitation_counts(sessions)
        due = await keep_sample_due(sessions, sample)
        print(f"  {LABEL}: invitations queued by channel {counts}; sending {due} email invitations", flush=True)
        registry = job_registry(feature_list)
        workers = [Worker(registry, sessions, services, name=f"bench-{k}") for k in range(SMTP_CONCURRENCY)]
        before = len(smtp.accepted_at)
        started = time.perf_counter()
        await asyncio.gather(*(w.run_due() for w in workers))
        accepted = smtp.accepted_at[before:]
        if len(accepted) != due:
            raise harness.HarnessError(f"the sink accepted {len(accepted)} of {due} invitations")
        return len(accepted), (max(accepted) - started) if accepted else 0.0
    finally:
        await close_services(services)
        await engine.dispose()


async def send_plain(env: dict[str, str], smtp: TimedSmtpServer, messages: int) -> tuple[int, float]:
    """The sink alone: equivalent invitations built beforehand, sent by aiosmtplib.send SMTP_CONCURRENCY at a
    time, as the mail transport sends them; (messages accepted, seconds to the last one)."""
    import aiosmtplib

    from civicvoice.core.settings import Settings
    from surveys.channels import OutgoingInvitation
    from surveys.channels.email import EmailChannel

    channel = EmailChannel(Settings.from_env(env))
    pending = [
        channel.build(
            OutgoingInvitation(
                invitation_id=uuid.uuid4(),
                recipient=f"person.{n}@example.org",
                survey_url=f"http://127.0.0.1:8000/s/{uuid.uuid4().hex}{uuid.uuid4().hex}",
                unsubscribe_url=f"http://127.0.0.1:8000/u/{uuid.uuid4().hex}{uuid.uuid4().hex}",
                council_name="Example City Council",
                service_name="Waste and recycling",
                expires_on="15 December 2026",
            )
        )
        for n in range(messages)
    ]

    async def sender() -> None:
        while pending:
            await aiosmtplib.send(
                pending.pop(), hostname=harness.HOST, port=smtp.port, use_tls=False, start_tls=False, timeout=30
            )

    before = len(smtp.accepted_at)
    started = time.perf_counter()
    await asyncio.gather(*(sender() for _ in range(SMTP_CONCURRENCY)))
    accepted = smtp.accepted_at[before:]
    return len(accepted), (max(accepted) - started) if accepted else 0.0


# --- one backend ------------------------------------------------------------------------------------------


def measure_backend(
    backend: str, civicvoice_url: str, baseline_url: str, workdir: Path, args: argparse.Namespace
) -> None:
    label = f"{LABEL} {backend}"
    events, sample, notify_messages = args.events, args.smtp_sample, args.notify_messages
    cv_dir = harness.data_dir(workdir, backend, "civicvoice")
    env, api_key = prepare_civicvoice(civicvoice_url, cv_dir)
    bodies = make_bodies(events)

    # 1. decision, then the bare insert of the same rows (and, for comparison, of one JSON row per event)
    from civicvoice.cli import migrate_database
    from civicvoice.core.settings import Settings

    before = asyncio.run(table_rows(civicvoice_url, cv_dir))
    server = harness.Server("civicvoice", "civicvoice.app:create_app", env)
    with harness.running(server):
        decision_seconds = asyncio.run(post_batches(server.base_url + BATCH_PATH, api_key, bodies))
    base_dir = harness.data_dir(workdir, backend, "baseline")
    base_dir.mkdir(parents=True, exist_ok=True)
    migrate_database(Settings(data_dir=base_dir, database_url=baseline_url))
    insert_seconds, row_count = asyncio.run(
        bare_insert_same_rows(civicvoice_url, cv_dir, baseline_url, base_dir, before)
    )
    json_seconds = asyncio.run(bare_insert(baseline_url, base_dir, bodies))
    print(
        f"  {label}: {events} events decided in {decision_seconds:.1f} s; bare insert of the {row_count} rows "
        f"they added ({row_count / events:.1f} an event) {insert_seconds:.1f} s; one JSON row per event "
        f"{json_seconds:.1f} s",
        flush=True,
    )
    decision = ratio_line(
        label + " decision",
        "batch API",
        rate(events, decision_seconds),
        "bare insert of the same rows",
        rate(events, insert_seconds),
        "events/s",
        DECISION_TARGET,
    )
    decision_json = ratio_line(
        label + " decision (for comparison)",
        "batch API",
        rate(events, decision_seconds),
        "one JSON row per event",
        rate(events, json_seconds),
        "events/s",
        DECISION_TARGET,
    )

    # 2. SMTP: the pipeline, then the sink alone with as many messages as the pipeline sent
    smtp = TimedSmtpServer()
    smtp.start()
    try:
        sent, pipeline_seconds = asyncio.run(send_through_workers(env, smtp, sample))
        plain, plain_seconds = asyncio.run(send_plain(env, smtp, sent))
    finally:
        smtp.stop()
    smtp_line = ratio_line(
        label + " smtp",
        f"job workers ({sent} sent)",
        rate(sent, pipeline_seconds),
        "sink alone",
        rate(plain, plain_seconds),
        "messages/s",
        SMTP_TARGET,
    )

    # 3. Notify: bench/notify_send_rate.py's two measurements at the limiter's ceiling, the channel then the
    # whole pipeline
    standin = NotifyStandIn(limit=notify_send_rate.CEILING_PER_MINUTE, period=60.0).start()
    try:
        channel_rate = asyncio.run(notify_send_rate.measure_channel(env, standin, notify_messages, {}))
        standin.messages.clear()
        standin.accepted_at.clear()
        notify_rate, ceiling = asyncio.run(
            notify_send_rate.measure(
                f"  {label} notify", env, standin, notify_messages, {}, notify_send_rate.CEILING_PER_MINUTE
            )
        )
    finally:
        standin.stop()
    notify_channel = ratio_line(
        label + " notify", "sms channel", channel_rate, "limiter ceiling", ceiling, "messages/s", NOTIFY_TARGET
    )
    notify_pipeline = ratio_line(
        label + " notify", "job workers", notify_rate, "limiter ceiling", ceiling, "messages/s", NOTIFY_TARGET
    )
    for line in (decision, decision_json, smtp_line, notify_channel, notify_pipeline):
        print(line, flush=True)


def main(argv: list[str] | None = None) -> int:
    import os
    import shutil
    import tempfile

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "all"), default="all")
    args = parser.parse_args(argv)
    scale = float(os.environ.get("CIVICVOICE_BENCH_SCALE", "1.0"))
    args.events = scaled(EVENTS, scale, BATCH_SIZE)
    args.smtp_sample = scaled(SMTP_SAMPLE, scale, 100)
    args.notify_messages = scaled(notify_send_rate.CEILING_PER_MINUTE, scale, 30)
    print(
        f"{LABEL}: {args.events} contact events, an SMTP sample of up to {args.smtp_sample} of the email "
        f"invitations they queue, {args.notify_messages} Notify messages (scale {scale})",
        flush=True,
    )
    workdir = Path(tempfile.mkdtemp(prefix="civicvoice-bench-"))
    try:
        if args.backend in ("sqlite", "all"):
            measure_backend("sqlite", *harness.sqlite_urls(workdir), workdir, args)
        if args.backend in ("postgresql", "all"):
            harness._measure_postgresql(LABEL, measure_backend, workdir, args)
    except harness.HarnessError as exc:
        print(f"{LABEL}: harness failed: {exc}", file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
