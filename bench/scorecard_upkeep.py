"""What keeping the scorecard's rollups current costs survey-response throughput: POST /s/<token> (the requests of
bench/response_throughput.py, made by its own factory) with the scorecard's upkeep fully active against the same
app without it, on SQLite and PostgreSQL, in alternating rounds of one run. Target: at least 0.9.

With upkeep: the flush listener that leaves rollup marks is in place, and what the upkeep cron's handler
(feedback.scorecard.jobs.upkeep_job) does runs inside the server process at the cron's real cadence (at the start
of every 15-second slot, as the cron's dedupe key schedules it), so its recomputation competes for the process and
the database with the submissions, as the embedded worker's does in production. A small loop here calls it, not
the outbox, because a worker would also claim the scoring jobs each response enqueues, which the response
benchmark leaves queued; both servers here leave them queued.

Without upkeep: the same app, the same submissions, no upkeep loop and the mark listener removed (event.remove in
the server process). No setting of the app is needed for either.

Each configuration has its own database (upkeep reads every new row of its database, so one shared database would
let the upkeep server recompute for the other's rows) and its own server. The upkeep server is stopped (SIGSTOP)
while the other is measured, so its upkeep never runs on the other's time; it resumes for its own rounds and for
making its invitations. Each upkeep run is timed in the server and written to a log in its data directory; the run
prints how many ran, their wall time (which includes the submissions' turns on the same event loop) and what they
read and recomputed.

The ratio line compares throughput, which counts every cost of upkeep. The server CPU per response (the harness's
figure, and "upkeep costs ... ms") counts the app's process only: on SQLite that includes upkeep's queries (run
in the process), on PostgreSQL it leaves out the database server's own work on them.

Each recomputation reads the whole month of a service from raw rows (the parts of it the new rows can change: for
answered surveys the contact figures), so its cost grows with the month's volume:
before the rounds, each database gets this month's contacts and answered surveys so far (77,000 responses and
231,000 contacts at scale 1, the dashboard benchmark's monthly volume, over the bench's six services), written in
bulk and rolled up as the demo does; the rounds then add to that month.

CIVICVOICE_BENCH_SCALE (default 1.0) scales that month, and the measured seconds per round (60 x scale, at least
16 so each round spans at least one upkeep slot) unless --seconds is given.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import os
import signal
import statistics
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import harness
import response_throughput
from contacts_throughput import prepare_civicvoice

TARGET_RATIO = 0.9
WITH, WITHOUT = "with-upkeep", "without-upkeep"
UPKEEP_ENV = "BENCH_SCORECARD_UPKEEP"  # "on" or "off": read by create_app_from_env in the server process
UPKEEP_LOG_ENV = "BENCH_SCORECARD_UPKEEP_LOG"  # where the server writes one line per upkeep run
MIN_SECONDS = 16.0
# This month's answered surveys before the run at scale 1: the dashboard benchmark's 1,000,000 over 13 months.
MONTH_RESPONSES = 77_000


def scale() -> float:
    raw = os.environ.get("CIVICVOICE_BENCH_SCALE", "1.0")
    try:
        return float(raw)
    except ValueError:
        raise SystemExit(f"CIVICVOICE_BENCH_SCALE must be a number, not {raw!r}") from None


# --- the server (runs under uvicorn in its own process) -------------------------------------------------------


def create_app_from_env() -> Any:
    """civicvoice's app without the embedded worker; with upkeep on, the upkeep cron's handler at its cadence."""
    from sqlalchemy import event
    from sqlalchemy.orm import Session

    from civicvoice.app import create_app
    from feedback.scorecard import upkeep

    mode = os.environ[UPKEEP_ENV]
    app = create_app(worker=False)
    if mode == "off":
        event.remove(Session, "before_flush", upkeep._mark_changes)
        return app
    if mode != "on":
        raise SystemExit(f"{UPKEEP_ENV} must be on or off, not {mode!r}")
    tasks: list[asyncio.Task[None]] = []

    async def start(app: Any) -> None:
        tasks.append(asyncio.create_task(_upkeep_loop(app.state.services, Path(os.environ[UPKEEP_LOG_ENV]))))

    async def stop(app: Any) -> None:
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    app.on_startup.append(start)
    app.on_shutdown.insert(0, stop)
    return app


async def _upkeep_loop(services: Any, log_path: Path) -> None:
    """The cron as the worker runs it: at the start of every slot of UPKEEP_EVERY, what its handler
    (feedback.scorecard.jobs.upkeep_job) does, with the result kept for the log."""
    from sqlalchemy.ext.asyncio import async_sessionmaker

    from feedback.scorecard.jobs import UPKEEP_EVERY
    from feedback.scorecard.service import Scorecard
    from feedback.scorecard.upkeep import run_upkeep

    period = UPKEEP_EVERY.total_seconds()
    sessions = services.get(async_sessionmaker)
    while True:
        await asyncio.sleep(period - time.time() % period)
        started = time.perf_counter()
        try:
            # What the cron handler `scorecard.upkeep` does: the thresholds in force, then the upkeep step.
            async with sessions() as session:
                thresholds = await services.get(Scorecard).thresholds(session)
            result = await run_upkeep(sessions, thresholds=thresholds)
            outcome, read, recomputed = "done", result.read, result.recomputed
        except Exception as exc:  # the worker would retry; the log says so and the benchmark fails on it
            outcome, read, recomputed = f"failed:{type(exc).__name__}", 0, 0
        wall = time.perf_counter() - started
        with log_path.open("a") as log:
            log.write(f"{outcome} {wall:.4f} {read} {recomputed}\n")


# --- the benchmark -----------------------------------------------------------------------------------------


@contextlib.contextmanager
def paused(server: harness.Server) -> Iterator[None]:
    """The server's process stopped (no upkeep, no CPU) for the block, however it ends."""
    os.kill(server.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(server.pid, signal.SIGCONT)


def upkeep_runs(log_path: Path) -> list[tuple[str, float, int, int]]:
    if not log_path.exists():
        return []
    runs = []
    for line in log_path.read_text().splitlines():
        outcome, wall, read, recomputed = line.split()
        runs.append((outcome, float(wall), int(read), int(recomputed)))
    return runs


def rollup_rows(env: dict[str, str]) -> tuple[int, int]:
    """Rollup rows and rollup marks in a server's database."""
    from sqlalchemy import func, select

    from civicvoice.core.db import create_engine
    from civicvoice.core.settings import Settings
    from feedback.scorecard.models import RollupMark, ScorecardRollup

    async def count() -> tuple[int, int]:
        engine = create_engine(Settings.from_env(env), pooled=False)
        try:
            async with engine.connect() as connection:
                rollups = await connection.scalar(select(func.count()).select_from(ScorecardRollup))
                marks = await connection.scalar(select(func.count()).select_from(RollupMark))
                return int(rollups or 0), int(marks or 0)
        finally:
            await engine.dispose()

    return asyncio.run(count())


def seed_month(env: dict[str, str], responses: int) -> float:
    """This month's contacts and answered surveys so far, written in bulk, then the rollups filled as the demo
    fills them (``fill_history``: upkeep's watermarks move past them); returns the seconds it took.

    Three contacts to each response, spread over the bench's services and the month up to a few minutes ago, as
    the dashboard benchmark's data has them, so each upkeep recomputation reads a month of realistic size.
    """
    import random
    import uuid
    from datetime import timedelta

    from sqlalchemy import insert, select

    from civicvoice.core.clock import utcnow
    from civicvoice.core.db import create_engine, session_factory, table, unit_of_work
    from civicvoice.core.settings import Settings
    from feedback.scorecard.formulas import ServiceLevelThresholds
    from feedback.scorecard.rollups import month_bounds, month_start
    from feedback.scorecard.upkeep import fill_history, id_floor
    from surveys.models import Contact, Invitation, InvitationDecision, Response, Service, SurveyVersion

    rng = random.Random(7)  # noqa: S311 - test data
    now = utcnow()
    start, _ = month_bounds(month_start(now))
    span = (now - timedelta(minutes=5) - start).total_seconds()

    def made_at(moment: Any) -> uuid.UUID:  # a UUIDv7 of that moment, as the app would have made it then
        return uuid.UUID(int=id_floor(moment).int | (7 << 76) | rng.getrandbits(62))

    async def seed() -> None:
        engine = create_engine(Settings.from_env(env), pooled=False)
        try:
            sessions = session_factory(engine)
            async with unit_of_work(sessions) as session:
                slugs = response_throughput.SERVICES
                services = (await session.scalars(select(Service.id).where(Service.slug.in_(slugs)))).all()
                version = await session.scalar(select(SurveyVersion.id).limit(1))
                rows: dict[str, list[dict[str, Any]]] = {
                    "contact": [],
                    "decision": [],
                    "invitation": [],
                    "response": [],
                }
                for n in range(3 * responses):
                    occurred = start + timedelta(seconds=rng.uniform(0, span))
                    contact = made_at(occurred)
                    service = services[n % len(services)]
                    channel = rng.choice(response_throughput.CHANNELS)
                    rows["contact"].append(
                        {
                            "id": contact,
                            "source": "crm",
                            "ref_key_version": 1,
                            "ref_digest": rng.randbytes(32),
                            "service_id": service,
                            "channel": channel,
                            "occurred_at": occurred,
                            "received_at": occurred,
                            "agent_ref": f"A{n % 60}",
                            "wait_seconds": rng.randrange(300),
                            "handling_seconds": 120 + rng.randrange(900),
                            "transferred": n % 11 == 0,
                            "resolved_first_contact": None if n % 5 == 0 else n % 4 != 0,
                            "do_not_survey": False,
                        }
                    )
                    if n % 3:
                        continue
                    decision, invitation = made_at(occurred), made_at(occurred)
                    answered = min(occurred + timedelta(minutes=rng.uniform(1, 120)), now - timedelta(minutes=1))
                    rows["decision"].append(
                        {
                            "id": decision,
                            "contact_id": contact,
                            "invite": True,
                            "reason": "invited",
                            "detail": "",
                            "rules_version": "bench",
                            "decided_at": occurred,
                        }
                    )
                    rows["invitation"].append(
                        {
                            "id": invitation,
                            "contact_id": contact,
                            "decision_id": decision,
                            "survey_version_id": version,
                            "channel": "email",
                            "state": "sent",
                            "due_at": occurred,
                            "expires_at": occurred + timedelta(days=14),
                            "reminders_sent": 0,
                            "send_attempts": 1,
                            "sent_at": occurred,
                            "responded_at": answered,
                            "created_at": occurred,
                        }
                    )
                    rows["response"].append(
                        {
                            "id": made_at(answered),
                            "invitation_id": invitation,
                            "survey_version_id": version,
                            "service_id": service,
                            "contact_id": contact,
                            "channel": "email",
                            "anonymous": False,
                            "submitted_at": answered,
                            "satisfaction": rng.randint(1, 5),
                            "resolved": rng.choice(response_throughput.RESOLVED),
                        }
                    )
                for model, key in (
                    (Contact, "contact"),
                    (InvitationDecision, "decision"),
                    (Invitation, "invitation"),
                    (Response, "response"),
                ):
                    for first in range(0, len(rows[key]), 5000):
                        await session.execute(insert(table(model)), rows[key][first : first + 5000])
            async with unit_of_work(sessions) as session:
                await fill_history(session, thresholds=ServiceLevelThresholds())
        finally:
            await engine.dispose()

    started = time.perf_counter()
    asyncio.run(seed())
    return time.perf_counter() - started


def measure_backend(
    backend: str, with_url: str, without_url: str, workdir: Path, args: argparse.Namespace
) -> dict[str, list[harness.LoadResult]]:
    label = f"scorecard upkeep cost {backend}"
    month = max(1, round(MONTH_RESPONSES * scale()))
    envs: dict[str, dict[str, str]] = {}
    keys: dict[str, str] = {}
    logs: dict[str, Path] = {}
    servers: dict[str, harness.Server] = {}
    for name, url, mode in ((WITH, with_url, "on"), (WITHOUT, without_url, "off")):
        data = harness.data_dir(workdir, backend, name)
        data.mkdir(parents=True, exist_ok=True)
        if url.startswith("sqlite"):  # harness.sqlite_urls names the files; their folders are made here
            Path(url.split(":///", 1)[1]).parent.mkdir(parents=True, exist_ok=True)
        env, keys[name] = prepare_civicvoice(url, data)
        seconds = seed_month(env, month)
        print(
            f"  {label} {name}: this month's {month:,} responses and {3 * month:,} contacts seeded in {seconds:.0f} s"
        )
        logs[name] = data / "upkeep.log"
        envs[name] = {**env, UPKEEP_ENV: mode, UPKEEP_LOG_ENV: str(logs[name])}
        servers[name] = harness.Server(name, "scorecard_upkeep:create_app_from_env", envs[name])
    upkept = servers[WITH]

    def quiet(name: str) -> contextlib.AbstractContextManager[None]:
        # While the server without upkeep works, the one with it is stopped: its upkeep runs on its own time only.
        return paused(upkept) if name == WITHOUT else contextlib.nullcontext()

    with harness.running(*servers.values()):
        parallel = 2 if backend == "sqlite" else 4
        invitations = {
            name: response_throughput.Invitations(server, keys[name], envs[name], parallel)
            for name, server in servers.items()
        }
        plans = {
            name: harness.LoadPlan(
                name=name,
                url=server.base_url,
                make_body=response_throughput.SurveyAnswers(server.base_url, ()),
                content_type=response_throughput.FORM,
                ok_statuses=response_throughput.THANK_YOU,
                concurrency=args.concurrency,
                warmup=args.warmup,
                duration=args.seconds,
                server_pid=server.pid,
            )
            for name, server in servers.items()
        }
        expected: dict[str, float] = {}
        sizing: dict[str, list[harness.LoadResult]] = {}
        for name, plan in plans.items():
            with quiet(name):
                rate = invitations[name].stock(response_throughput.BATCH_SIZE * parallel)
                run = response_throughput.measure_civicvoice(
                    replace(plan, **response_throughput.SIZING_RUN), invitations[name], rate, label
                )
            expected[name], sizing[name] = run.requests_per_second, [run]
        results: dict[str, list[harness.LoadResult]] = {name: [] for name in plans}
        run_ids = itertools.count(1)
        for _ in range(args.rounds):
            for name, plan in plans.items():
                with quiet(name):
                    result = response_throughput.measure_civicvoice(
                        replace(plan, run_id=next(run_ids)), invitations[name], expected[name], label
                    )
                results[name].append(result)
                expected[name] = max(r.requests_per_second for r in results[name])
        stored = {name: invitations[name].stored() for name in plans}
    for name, (responses, texts, jobs) in stored.items():
        submitted = responses - month  # the seeded responses have no answers and no scoring job
        print(f"  {label} {name}: {submitted} responses submitted, {texts} comments encrypted, {jobs} scoring jobs")
        if texts != 2 * submitted or jobs != submitted:
            raise harness.HarnessError(f"{label} {name}: stored work does not match the responses")
    runs = upkeep_runs(logs[WITH])
    failed = [run for run in runs if run[0] != "done"]
    if not runs or failed:
        raise harness.HarnessError(f"{label}: upkeep ran {len(runs)} times, {len(failed)} failed: {failed[:3]}")
    if upkeep_runs(logs[WITHOUT]):
        raise harness.HarnessError(f"{label}: upkeep ran in the server without it")
    if not sum(run[2] for run in runs) or not sum(run[3] for run in runs):
        raise harness.HarnessError(f"{label}: upkeep read or recomputed nothing: {runs[:3]}")
    rollups, marks = rollup_rows(envs[WITH])
    walls = [run[1] for run in runs]
    print(
        f"  {label}: {len(runs)} upkeep runs, wall time median {statistics.median(walls) * 1000:.0f} ms, "
        f"max {max(walls) * 1000:.0f} ms, total {sum(walls):.1f} s; {sum(run[2] for run in runs)} rows read, "
        f"{sum(run[3] for run in runs)} month-service rollups recomputed; {rollups} rollup rows, {marks} marks left",
        flush=True,
    )
    harness.print_rounds(label, results)
    harness.print_errors(f"{label} sizing run", sizing)
    harness.print_errors(label, results)
    harness.print_ratio(label, WITH, WITHOUT, results, TARGET_RATIO)
    per_request = {name: [r.server_cpu_ms_per_request for r in rounds] for name, rounds in results.items()}
    if all(value is not None for values in per_request.values() for value in values):
        with_ms, without_ms = (statistics.median(v for v in per_request[n] if v is not None) for n in (WITH, WITHOUT))
        print(
            f"  {label}: upkeep costs {with_ms - without_ms:.2f} ms server CPU per response "
            f"({with_ms:.2f} ms with it, {without_ms:.2f} ms without; medians of rounds)",
            flush=True,
        )
    return results


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not any(arg == "--seconds" or arg.startswith("--seconds=") for arg in argv):
        argv += ["--seconds", f"{max(MIN_SECONDS, 60.0 * scale()):g}"]
    return harness.run_benchmark(
        "scorecard upkeep cost",
        "Survey response throughput with the scorecard's rollup upkeep against without it.",
        measure_backend,
        argv,
    )


if __name__ == "__main__":
    sys.exit(main())
