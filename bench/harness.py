"""Shared benchmark plumbing: servers under uvicorn in subprocesses, throwaway PostgreSQL databases, a load
generator in its own process, and the ratio lines `make bench` prints.

The load generator is an asyncio loop with httpx (HTTP/1.1 keep-alive) in a process of its own, never in the
server's; targets are measured in alternating rounds and compared by their medians, because the machines are
shared and noisy. Server CPU per request is printed too: it moves far less than req/s on a busy machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import multiprocessing
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, NamedTuple

BENCH_DIR = Path(__file__).resolve().parent
HOST = "127.0.0.1"
# Trust auth as the postgres user on the local server; override for another server.
PG_ADMIN_URL = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
SUCCESS = frozenset({200, 201, 202})
ERROR_SAMPLES = 5


class Post(NamedTuple):
    """A request to another URL than the plan's own (e.g. a path carrying a per-request token)."""

    url: str
    body: bytes


# Makes one request: (sequence number unique within one load run, the worker's random source, run id) -> the
# body to POST to the plan's URL, or a Post. It runs in the load process, so it must pickle: a module-level
# function, or an instance of a module-level class that carries prepared data (tokens, ids).
BodyFactory = Callable[[int, random.Random, int], "bytes | Post"]


class HarnessError(RuntimeError):
    """The benchmark itself failed (a server did not start, the load process died): exit non-zero."""


class DatabaseUnavailable(HarnessError):
    """PostgreSQL answered but would not give the benchmark a database; the caller skips that backend."""


# --- servers ------------------------------------------------------------------------------------------------


# Loopback only: never through a proxy from the environment.
_LOCAL = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _clean_env(extra: Mapping[str, str]) -> dict[str, str]:
    # Nothing from the caller's CIVICVOICE_* settings (the Makefile exports some) leaks into a server.
    env = {k: v for k, v in os.environ.items() if not k.startswith("CIVICVOICE_")}
    env.update(extra)
    return env


@dataclass
class Server:
    """One app under uvicorn in a subprocess; every server gets the same uvicorn settings."""

    name: str
    app: str  # "module:factory"
    env: Mapping[str, str] = field(default_factory=dict)
    health_path: str = "/health"
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    _log: Any = None

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def pid(self) -> int:
        if self.process is None:
            raise HarnessError(f"{self.name} is not running")
        return self.process.pid

    def start(self, timeout: float = 60.0) -> None:
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 - open while the server runs; closed by stop()
        command = [
            sys.executable,
            "-m",
            "uvicorn",
            self.app,
            "--factory",
            "--app-dir",
            str(BENCH_DIR),
            "--host",
            HOST,
            "--port",
            str(self.port),
            "--workers",
            "1",
            "--log-level",
            "warning",
            "--no-access-log",
        ]
        self.process = subprocess.Popen(
            command,
            env=_clean_env(self.env),
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                code = self.process.returncode
                raise HarnessError(f"{self.name} exited with {code} at start:\n{self.log_tail()}")
            try:
                with _LOCAL.open(self.base_url + self.health_path, timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.2)
        self.stop()
        raise HarnessError(f"{self.name} did not answer {self.health_path} within {timeout:.0f} s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        if self._log is None:
            return ""
        self._log.seek(0)
        text = self._log.read().decode("utf-8", "replace")
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
        if self._log is not None:
            self._log.close()
            self._log = None


@contextlib.contextmanager
def running(*servers: Server) -> Iterator[tuple[Server, ...]]:
    """Start the servers in order and stop them all however the block ends."""
    started: list[Server] = []
    try:
        for server in servers:
            server.start()
            started.append(server)
        yield servers
    finally:
        for server in reversed(started):
            server.stop()


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process (Linux /proc), or None where that is not available."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# --- PostgreSQL ---------------------------------------------------------------------------------------------


def _admin(statement: str) -> None:
    import asyncpg  # type: ignore[import-untyped]

    async def run() -> None:
        connection = await asyncpg.connect(PG_ADMIN_URL, timeout=5)
        try:
            await connection.execute(statement)
        finally:
            await connection.close()

    asyncio.run(run())


def postgres_reachable() -> bool:
    try:
        _admin("SELECT 1")
    except Exception:  # any failure to connect means "skip PostgreSQL"
        return False
    return True


def postgres_url(database: str) -> str:
    """The SQLAlchemy URL of ``database`` on the benchmark's PostgreSQL server."""
    server = PG_ADMIN_URL.split("://", 1)[1].rsplit("/", 1)[0]
    return f"postgresql+asyncpg://{server}/{database}"


@contextlib.contextmanager
def postgres_database(name: str) -> Iterator[str]:
    """A fresh database for one run, dropped afterwards; yields its SQLAlchemy URL."""
    try:
        _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        _admin(f'CREATE DATABASE "{name}"')
    except Exception as exc:  # e.g. no CREATEDB right: the backend is skipped, with the reason
        raise DatabaseUnavailable(f"cannot create database {name}: {type(exc).__name__}: {exc}") from None
    try:
        yield postgres_url(name)
    finally:
        _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# --- load ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LoadPlan:
    """What one target gets: POSTs to ``url`` made by ``make_body``, ``concurrency`` at a time."""

    name: str
    url: str
    make_body: BodyFactory
    headers: Mapping[str, str] = field(default_factory=dict)
    content_type: str = "application/json"
    ok_statuses: frozenset[int] = SUCCESS
    concurrency: int = 16
    warmup: float = 2.0
    duration: float = 8.0
    run_id: int = 0
    server_pid: int | None = None


@dataclass(frozen=True)
class LoadResult:
    name: str
    requests_per_second: float
    successes: int
    errors: int
    error_samples: tuple[str, ...]
    p50_ms: float
    p99_ms: float
    client_cpu: float  # share of one core the load process used while measuring
    server_cpu: float | None  # share of one core the server process used while measuring

    @property
    def server_cpu_ms_per_request(self) -> float | None:
        """Server CPU per successful request: steadier than req/s when other work shares the machine."""
        if self.server_cpu is None or not self.requests_per_second:
            return None
        return self.server_cpu * 1000 / self.requests_per_second


async def _drive(plan: LoadPlan) -> LoadResult:
    import httpx

    loop = asyncio.get_running_loop()
    sequence = itertools.count()
    latencies: list[float] = []
    samples: list[str] = []
    counts = {"ok": 0, "errors": 0}
    cpu: dict[str, float | None] = {}
    headers = {"content-type": plan.content_type, **plan.headers}
    limits = httpx.Limits(max_connections=plan.concurrency, max_keepalive_connections=plan.concurrency)

    client = httpx.AsyncClient(limits=limits, timeout=httpx.Timeout(30.0), headers=headers, trust_env=False)
    async with client:
        started = loop.time()
        window_start = started + plan.warmup
        window_end = window_start + plan.duration

        def snapshot(label: str) -> None:
            cpu[f"client_{label}"] = time.process_time()
            cpu[f"server_{label}"] = cpu_seconds(plan.server_pid) if plan.server_pid else None

        loop.call_at(window_start, snapshot, "start")
        loop.call_at(window_end, snapshot, "end")

        async def worker(number: int) -> None:
            rng = random.Random(f"{plan.run_id}:{number}")  # noqa: S311 - test data, not secrets
            while loop.time() < window_end:
                request = plan.make_body(next(sequence), rng, plan.run_id)
                url, body = (request.url, request.body) if isinstance(request, Post) else (plan.url, request)
                sent = time.perf_counter()  # uvloop's clock ticks in whole milliseconds
                try:
                    response = await client.post(url, content=body)
                except httpx.HTTPError as exc:
                    counts["errors"] += 1
                    if len(samples) < ERROR_SAMPLES:
                        samples.append(f"{type(exc).__name__}: {exc}")
                    continue
                latency, done = time.perf_counter() - sent, loop.time()
                if response.status_code in plan.ok_statuses:
                    if window_start <= done < window_end:
                        counts["ok"] += 1
                        latencies.append(latency)
                else:
                    counts["errors"] += 1
                    if len(samples) < ERROR_SAMPLES:
                        samples.append(f"HTTP {response.status_code}: {response.text[:500]}")

        await asyncio.gather(*(worker(n) for n in range(plan.concurrency)))

    latencies.sort()

    def percentile(p: float) -> float:
        if not latencies:
            return float("nan")
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000

    def share(label: str) -> float | None:
        start, end = cpu.get(f"{label}_start"), cpu.get(f"{label}_end")
        return None if start is None or end is None else (end - start) / plan.duration

    return LoadResult(
        name=plan.name,
        requests_per_second=counts["ok"] / plan.duration,
        successes=counts["ok"],
        errors=counts["errors"],
        error_samples=tuple(samples),
        p50_ms=percentile(0.50),
        p99_ms=percentile(0.99),
        client_cpu=share("client") or 0.0,
        server_cpu=share("server"),
    )


def _load_process(plan: LoadPlan, connection: Any) -> None:
    try:
        try:
            import uvloop

            runner = asyncio.Runner(loop_factory=uvloop.new_event_loop)
        except ImportError:
            runner = asyncio.Runner()
        with runner:
            connection.send(("ok", runner.run(_drive(plan))))
    except BaseException as exc:  # reported to the parent, which fails the run
        connection.send(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        connection.close()


def run_load(plan: LoadPlan) -> LoadResult:
    """Drive one target from a fresh process (spawned, so it shares no state with the servers' set-up)."""
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe(duplex=False)
    process = context.Process(target=_load_process, args=(plan, child), name=f"load-{plan.name}")
    process.start()
    child.close()
    timeout = plan.warmup + plan.duration + 90
    if not parent.poll(timeout):
        process.kill()
        raise HarnessError(f"the load process for {plan.name} gave no result within {timeout:.0f} s")
    try:
        status, payload = parent.recv()
    except EOFError:
        status, payload = "error", f"it exited with {process.exitcode} before reporting"
    process.join(10)
    if process.is_alive():
        process.kill()
    if status != "ok":
        raise HarnessError(f"the load process for {plan.name} failed: {payload}")
    result: LoadResult = payload
    if result.successes == 0:
        raise HarnessError(f"{plan.name} answered no request successfully: {list(result.error_samples)}")
    return result


def alternate(plans: Sequence[LoadPlan], rounds: int, *, first_run_id: int = 1) -> dict[str, list[LoadResult]]:
    """Measure every plan ``rounds`` times, interleaved (A, B, A, B, ...), each round with its own run id."""
    results: dict[str, list[LoadResult]] = {plan.name: [] for plan in plans}
    run_ids = itertools.count(first_run_id)
    for _ in range(rounds):
        for plan in plans:
            results[plan.name].append(run_load(replace(plan, run_id=next(run_ids))))
    return results


# --- printing -----------------------------------------------------------------------------------------------


def median_rps(results: Sequence[LoadResult]) -> float:
    return statistics.median(r.requests_per_second for r in results)


def print_rounds(label: str, results: Mapping[str, Sequence[LoadResult]]) -> None:
    for name, rounds in results.items():
        for number, r in enumerate(rounds, 1):
            per_request = r.server_cpu_ms_per_request
            server = (
                "n/a"
                if r.server_cpu is None or per_request is None
                else (f"{r.server_cpu:.0%} ({per_request:.1f} ms/request)")
            )
            print(
                f"  {label} {name} round {number}: {r.requests_per_second:.1f} req/s, p50 {r.p50_ms:.1f} ms, "
                f"p99 {r.p99_ms:.1f} ms, server CPU {server}, load generator CPU {r.client_cpu:.0%}, "
                f"errors {r.errors}",
                flush=True,
            )


def print_errors(label: str, results: Mapping[str, Sequence[LoadResult]]) -> int:
    """Print the first error bodies of each target; returns the number of failed requests."""
    total = 0
    for name, rounds in results.items():
        errors = sum(r.errors for r in rounds)
        total += errors
        if errors:
            print(f"  {label} {name}: {errors} requests failed (every failure is a bug); first answers:")
            shown = [s for r in rounds for s in r.error_samples][:ERROR_SAMPLES]
            for sample in shown:
                print(f"    {sample}")
    return total


def print_ratio(
    label: str, subject: str, baseline: str, results: Mapping[str, Sequence[LoadResult]], target: float
) -> float:
    """The one line a reader looks for: both medians and their ratio against the target."""
    ours, theirs = median_rps(results[subject]), median_rps(results[baseline])
    ratio = ours / theirs if theirs else float("nan")
    print(
        f"{label}: {subject} {ours:.1f} req/s, {baseline} {theirs:.1f} req/s, ratio {ratio:.2f} (target >= {target:g})",
        flush=True,
    )
    cpu = {
        name: [v for r in results[name] if (v := r.server_cpu_ms_per_request) is not None]
        for name in (subject, baseline)
    }
    if all(len(cpu[name]) == len(results[name]) for name in cpu):
        ours_cpu, theirs_cpu = (statistics.median(cpu[name]) for name in (subject, baseline))
        print(
            f"  {label}: server CPU per request {subject} {ours_cpu:.2f} ms, {baseline} {theirs_cpu:.2f} ms "
            f"(ratio {theirs_cpu / ours_cpu:.2f})",
            flush=True,
        )
    return ratio


# --- one benchmark script: its command line, a work directory, SQLite then PostgreSQL ----------------------

MeasureBackend = Callable[[str, str, str, Path, Any], None]  # (backend, civicvoice url, baseline url, workdir, args)


def data_dir(workdir: Path, backend: str, target: str) -> Path:
    return workdir / f"{backend}-{target}"


def sqlite_urls(workdir: Path) -> tuple[str, str]:
    return (
        f"sqlite+aiosqlite:///{(data_dir(workdir, 'sqlite', 'civicvoice') / 'civicvoice.db').as_posix()}",
        f"sqlite+aiosqlite:///{(data_dir(workdir, 'sqlite', 'baseline') / 'baseline.db').as_posix()}",
    )


def run_benchmark(label: str, description: str, measure_backend: MeasureBackend, argv: list[str] | None = None) -> int:
    """Parse the common options and measure civicvoice against the baseline on SQLite, then on PostgreSQL in two
    fresh databases (skipped, and said so, when PostgreSQL is not reachable). Returns the exit status."""
    import argparse

    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "all"), default="all")
    parser.add_argument("--rounds", type=int, default=3, help="Rounds per target, alternating (default 3).")
    parser.add_argument("--seconds", type=float, default=8.0, help="Measured seconds per round (default 8).")
    parser.add_argument("--warmup", type=float, default=2.0, help="Warm-up seconds per round (default 2).")
    parser.add_argument("--concurrency", type=int, default=16, help="Requests in flight (default 16).")
    args = parser.parse_args(argv)

    workdir = Path(tempfile.mkdtemp(prefix="civicvoice-bench-"))
    try:
        if args.backend in ("sqlite", "all"):
            measure_backend("sqlite", *sqlite_urls(workdir), workdir, args)
        if args.backend in ("postgresql", "all"):
            _measure_postgresql(label, measure_backend, workdir, args)
    except HarnessError as exc:
        print(f"{label}: harness failed: {exc}", file=sys.stderr)
        return 1
    finally:
        import shutil

        shutil.rmtree(workdir, ignore_errors=True)
    return 0


def _measure_postgresql(label: str, measure_backend: MeasureBackend, workdir: Path, args: Any) -> None:
    if not postgres_reachable():
        print(f"{label} postgresql: skipped (not reachable)", flush=True)
        return
    name = f"civicvoice_bench_{os.getpid()}"
    try:
        with postgres_database(name) as cv_url, postgres_database(f"{name}_baseline") as base_url:
            measure_backend("postgresql", cv_url, base_url, workdir, args)
    except DatabaseUnavailable as exc:
        print(f"{label} postgresql: skipped ({exc})", flush=True)


if __name__ == "__main__":
    # `make bench` runs every bench/*.py; this one only holds the shared helpers.
    print("harness.py: shared benchmark helpers, nothing to measure on its own.")
