"""Pages under a password-guessing burst: p99 latency of GET /health and of a survey page (GET /s/<token>) while
16 wrong sign-ins are always in flight, against the same with none, on SQLite and PostgreSQL, measured in the
same run. Target: the ratio (under pressure / quiet) below 3 for both pages.

The guesses come as from many addresses (uvicorn trusts X-Forwarded-For from 127.0.0.1, as behind a proxy) for
many accounts, so the throttle never steps in: every one costs a full argon2 check, the worst case for the
machine. Quiet and pressure rounds alternate; each page's p99 is the median over its rounds.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import re
import statistics
import sys
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import harness
from contacts_throughput import prepare_civicvoice

TARGET_RATIO = 3.0
GUESSES_IN_FLIGHT = 16
PROBES_IN_FLIGHT = 2  # per page
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass(frozen=True)
class Pages:
    base_url: str
    survey_path: str

    @property
    def probed(self) -> dict[str, str]:
        return {"health": f"{self.base_url}/health", "survey page": f"{self.base_url}{self.survey_path}"}


@dataclass(frozen=True)
class Round:
    pressure: bool
    p99_ms: dict[str, float]
    requests: dict[str, int]
    errors: int
    wrong_sign_ins: int


# --- load processes -----------------------------------------------------------------------------------------


async def _guess(base_url: str, stop: Any, counts: defaultdict[str, int]) -> None:
    """16 wrong sign-ins always in flight, each from its own address for its own account."""
    import httpx

    async with httpx.AsyncClient(base_url=base_url, timeout=60, trust_env=False) as client:
        form = await client.get("/staff/sign-in")
        found = _CSRF.search(form.text)
        if found is None:
            raise harness.HarnessError("the sign-in page carries no CSRF token")
        token, cookie = found.group(1), form.headers["set-cookie"].split(";")[0]
        serial = iter(range(10**9))

        async def one_worker() -> None:
            while not stop.is_set():
                n = next(serial)
                answer = await client.post(
                    "/staff/sign-in",
                    data={"email": f"guess.{n}@council.gov.uk", "password": f"wrong password {n}", "csrf_token": token},
                    headers={"cookie": cookie, "x-forwarded-for": f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}"},
                )
                counts["401" if answer.status_code == 401 else f"other {answer.status_code}"] += 1

        await asyncio.gather(*(one_worker() for _ in range(GUESSES_IN_FLIGHT)))


def _guess_process(base_url: str, stop: Any, connection: Any) -> None:
    counts: defaultdict[str, int] = defaultdict(int)
    try:
        asyncio.run(_guess(base_url, stop, counts))
        connection.send(("ok", dict(counts)))
    except BaseException as exc:  # reported to the parent, which fails the run
        connection.send(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        connection.close()


async def _probe(pages: Pages, warmup: float, duration: float) -> tuple[dict[str, list[float]], int]:
    import httpx

    latencies: dict[str, list[float]] = {name: [] for name in pages.probed}
    errors = 0
    loop = asyncio.get_running_loop()
    window_start = loop.time() + warmup
    window_end = window_start + duration
    async with httpx.AsyncClient(timeout=60, trust_env=False) as client:

        async def one_worker(name: str, url: str) -> None:
            nonlocal errors
            while loop.time() < window_end:
                sent = time.perf_counter()
                answer = await client.get(url)
                latency, done = time.perf_counter() - sent, loop.time()
                if answer.status_code != 200:
                    errors += 1
                elif window_start <= done < window_end:
                    latencies[name].append(latency * 1000)

        await asyncio.gather(
            *(one_worker(name, url) for name, url in pages.probed.items() for _ in range(PROBES_IN_FLIGHT))
        )
    return latencies, errors


def _probe_process(pages: Pages, warmup: float, duration: float, connection: Any) -> None:
    try:
        connection.send(("ok", asyncio.run(_probe(pages, warmup, duration))))
    except BaseException as exc:
        connection.send(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        connection.close()


def _receive(connection: Any, process: Any, what: str, timeout: float) -> Any:
    if not connection.poll(timeout):
        process.kill()
        raise harness.HarnessError(f"{what} gave no result within {timeout:.0f} s")
    status, payload = connection.recv()
    process.join(10)
    if status != "ok":
        raise harness.HarnessError(f"{what} failed: {payload}")
    return payload


def p99(values: list[float]) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]


def measure_round(pages: Pages, *, pressure: bool, warmup: float, duration: float) -> Round:
    """One round in fresh spawned processes: the probes, and the guesses when ``pressure``."""
    context = multiprocessing.get_context("spawn")
    stop = context.Event()
    guesses = None
    if pressure:
        guess_parent, guess_child = context.Pipe(duplex=False)
        guesses = context.Process(target=_guess_process, args=(pages.base_url, stop, guess_child), name="guesses")
        guesses.start()
        guess_child.close()
    probe_parent, probe_child = context.Pipe(duplex=False)
    probes = context.Process(target=_probe_process, args=(pages, warmup, duration, probe_child), name="probes")
    probes.start()
    probe_child.close()
    try:
        latencies, errors = _receive(probe_parent, probes, "the probes", warmup + duration + 120)
    finally:
        stop.set()
    counts: dict[str, int] = {}
    if guesses is not None:
        counts = _receive(guess_parent, guesses, "the guesses", 120)
        errors += sum(n for status, n in counts.items() if status != "401")
    return Round(
        pressure=pressure,
        p99_ms={name: p99(values) for name, values in latencies.items()},
        requests={name: len(values) for name, values in latencies.items()},
        errors=errors,
        wrong_sign_ins=counts.get("401", 0),
    )


# --- one backend --------------------------------------------------------------------------------------------


def survey_page(server: harness.Server, api_key: str, env: dict[str, str]) -> str:
    """The path of a real survey page: one contact reported through the API, its invitation's link signed with
    the server's keyring as the sender signs it."""
    import httpx

    from civicvoice.core.settings import Settings
    from privacy.keys import load_keyring
    from surveys.tokens import Purpose, TokenSigner

    event = {
        "source": "telephony",
        "external_id": "signin-bench-1",
        "channel": "phone",
        "service": "council-tax",
        "occurred_at": (datetime.now(UTC) - timedelta(minutes=5)).isoformat(),
        "customer": {"email": "resident.one@example.org", "name": "Survey Respondent"},
    }
    answer = httpx.post(
        f"{server.base_url}/api/v1/contacts",
        json=event,
        headers={"authorization": f"Bearer {api_key}"},
        timeout=60,
        trust_env=False,
    )
    decision = answer.json()
    if answer.status_code != 202 or not decision["decision"]["invite"]:
        raise harness.HarnessError(f"intake did not invite: {answer.status_code} {answer.text[:300]}")
    signer = TokenSigner(load_keyring(Settings.from_env(env)).token)
    expires_at = datetime.fromisoformat(decision["decision"]["expires_at"])
    token = signer.sign(uuid.UUID(decision["invitation_id"]), Purpose.survey, expires_at)
    path = f"/s/{token}"
    page = httpx.get(f"{server.base_url}{path}", timeout=60, trust_env=False)
    if page.status_code != 200:
        raise harness.HarnessError(f"the survey page answered {page.status_code}: {page.text[:300]}")
    return path


def print_round(label: str, r: Round, seconds: float) -> None:
    pages = ", ".join(f"{name} p99 {ms:.1f} ms ({r.requests[name]} requests)" for name, ms in r.p99_ms.items())
    guesses = f", wrong sign-ins answered {r.wrong_sign_ins / seconds:.1f}/s" if r.pressure else ""
    print(f"  {label} {'pressure' if r.pressure else 'quiet'} round: {pages}{guesses}, errors {r.errors}", flush=True)


def measure_backend(
    backend: str, civicvoice_url: str, baseline_url: str, workdir: Path, args: argparse.Namespace
) -> None:
    """Quiet and pressure rounds, alternating, against one server; prints the rounds and the ratios."""
    del baseline_url  # the baseline is the same server with no sign-ins running
    label = f"sign-in pressure {backend}"
    env, api_key = prepare_civicvoice(civicvoice_url, harness.data_dir(workdir, backend, "civicvoice"))
    server = harness.Server("civicvoice", "civicvoice.app:create_app", env)
    rounds: list[Round] = []
    with harness.running(server):
        pages = Pages(server.base_url, survey_page(server, api_key, env))
        for _ in range(args.rounds):
            for pressure in (False, True):
                rounds.append(measure_round(pages, pressure=pressure, warmup=args.warmup, duration=args.seconds))
                print_round(label, rounds[-1], args.warmup + args.seconds)
    errors = sum(r.errors for r in rounds)
    if errors:
        print(f"  {label}: {errors} requests failed (every failure is a bug)")
    for name in Pages("", "").probed:
        quiet = statistics.median(r.p99_ms[name] for r in rounds if not r.pressure)
        loaded = statistics.median(r.p99_ms[name] for r in rounds if r.pressure)
        ratio = loaded / quiet if quiet else float("nan")
        print(
            f"{label}: {name} p99 {loaded:.1f} ms under {GUESSES_IN_FLIGHT} wrong sign-ins, {quiet:.1f} ms with none, "
            f"ratio {ratio:.2f} (target < {TARGET_RATIO:g})",
            flush=True,
        )


def main(argv: list[str] | None = None) -> int:
    return harness.run_benchmark(
        "sign-in pressure",
        "p99 of pages while wrong sign-ins run, against the same with none.",
        measure_backend,
        argv,
    )


if __name__ == "__main__":
    sys.exit(main())
