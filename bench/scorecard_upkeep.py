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
prints how many ran, their wall time and what they read and recomputed.

CIVICVOICE_BENCH_SCALE (default 1.0) sets the measured seconds per round, 60 x scale with at least 16 (so each
round spans at least one upkeep slot), unless --seconds is given. The month being kept holds only what the run
submitted: a council's month of real volume makes each recomputation dearer (see DESIGN.md, scorecard).
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
            result = await run_upkeep(sessions, thresholds=services.get(Scorecard).thresholds)
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


def measure_backend(
    backend: str, with_url: str, without_url: str, workdir: Path, args: argparse.Namespace
) -> dict[str, list[harness.LoadResult]]:
    label = f"scorecard upkeep cost {backend}"
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
        print(f"  {label} {name}: {responses} responses stored, {texts} comments encrypted, {jobs} scoring jobs")
        if texts != 2 * responses or jobs != responses:
            raise harness.HarnessError(f"{label} {name}: stored work does not match the responses")
    runs = upkeep_runs(logs[WITH])
    failed = [run for run in runs if run[0] != "done"]
    if not runs or failed:
        raise harness.HarnessError(f"{label}: upkeep ran {len(runs)} times, {len(failed)} failed: {failed[:3]}")
    if upkeep_runs(logs[WITHOUT]):
        raise harness.HarnessError(f"{label}: upkeep ran in the server without it")
    (rollups, marks), (other_rollups, _) = rollup_rows(envs[WITH]), rollup_rows(envs[WITHOUT])
    if not rollups or other_rollups:
        raise harness.HarnessError(f"{label}: rollups {rollups} with upkeep and {other_rollups} without")
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
        scale = float(os.environ.get("CIVICVOICE_BENCH_SCALE", "1.0"))
        argv += ["--seconds", f"{max(MIN_SECONDS, 60.0 * scale):g}"]
    return harness.run_benchmark(
        "scorecard upkeep cost",
        "Survey response throughput with the scorecard's rollup upkeep against without it.",
        measure_backend,
        argv,
    )


if __name__ == "__main__":
    sys.exit(main())
