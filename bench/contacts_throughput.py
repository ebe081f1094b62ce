"""Throughput of contact intake on SQLite and PostgreSQL, as ratios measured in the same run:

- POST /api/v1/contacts (one contact a request) against a bare Litestar insert (bench/baseline_app.py);
  target: civicvoice at 0.8 of the baseline or better.
- POST /api/v1/contacts/batch with 1,000 contacts a request, in contacts a second, against the single-contact
  rate of the same run; target: 5 times or better.

civicvoice runs its full path (API key, validation, subject resolution, per-person encryption, invitation
decision, outbox job) with the embedded worker off: this measures intake, not sending.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import harness

TARGET_RATIO = 0.8
BATCH_TARGET_RATIO = 5.0
URL_PATH = "/api/v1/contacts"
BATCH_PATH = "/api/v1/contacts/batch"
BATCH_SIZE = 1000  # the most the API takes in one request
BATCH_CONCURRENCY = 2  # batch requests in flight
RETURNING_SHARE = 0.2  # about one contact in five is from someone already known (the frequency cap applies)
SERVICES = ("council-tax", "benefits", "housing-repairs", "waste-and-recycling", "parking", "libraries")
CHANNELS = ("phone", "phone", "web_chat", "email")
FIRST_NAMES = ("Jo", "Sam", "Priya", "Tom", "Aisha", "Wei", "Olu", "Maria", "Dylan", "Niamh")
LAST_NAMES = ("Bloggs", "Patel", "Smith", "Okafor", "Jones", "Nowak", "Chen", "Evans", "Murphy", "Khan")


def _customer(run_id: int, number: int) -> dict[str, str]:
    """Customer ``number`` of load run ``run_id``: email and phone distinct from every other customer."""
    serial = (run_id * 1_000_000 + number) % 90_000_000
    first, last = FIRST_NAMES[number % 10], LAST_NAMES[(number // 10) % 10]
    return {
        "email": f"{first}.{last}.{serial}@Example.org",
        "phone": f"079{serial:08d}",  # 07900 000000 to 07989 999999 are valid UK mobiles
        "name": f"{first} {last}",
    }


def _returning(run_id: int, sequence: int) -> bool:
    """Whether contact ``sequence`` is from a returning customer: decided by the numbers alone, no state."""
    return sequence > 64 and random.Random(f"{run_id}/{sequence}").random() < RETURNING_SHARE  # noqa: S311


def contact_body(sequence: int, rng: random.Random, run_id: int) -> bytes:
    """A contact event with a distinct external id; a returning customer about one time in five."""
    return json.dumps(contact_event(sequence, rng, run_id)).encode()


def batch_body(sequence: int, rng: random.Random, run_id: int) -> bytes:
    """``BATCH_SIZE`` contact events, made as `contact_body` makes single ones (customers return across batches)."""
    first = sequence * BATCH_SIZE
    events = [contact_event(first + n, rng, run_id) for n in range(BATCH_SIZE)]
    return json.dumps({"events": events}).encode()


def contact_event(sequence: int, rng: random.Random, run_id: int) -> dict[str, object]:
    number = sequence
    if _returning(run_id, sequence):
        # A customer first seen a little earlier in this run (not in flight now: no needless creation race).
        number = rng.randrange(0, sequence - 32)
        while _returning(run_id, number):
            number = rng.randrange(0, sequence - 32)
    customer = _customer(run_id, number)
    body = {
        "source": "telephony",
        "external_id": f"bench-{run_id}-{sequence}",
        "channel": rng.choice(CHANNELS),
        "service": rng.choice(SERVICES),
        "occurred_at": (datetime.now(UTC) - timedelta(minutes=5)).isoformat(),
        "agent_id": f"agent-{rng.randrange(40)}",
        "wait_seconds": rng.randrange(0, 900),
        "handling_seconds": rng.randrange(30, 1800),
        "transferred": rng.random() < 0.1,
        "resolved_first_contact": rng.random() < 0.7,
        "customer": customer,
    }
    return body


# --- civicvoice set-up ------------------------------------------------------------------------------------


def prepare_civicvoice(database_url: str, data_dir: Path, keys_json: str | None = None) -> tuple[dict[str, str], str]:
    """Migrate, load the catalogue and the demo policy (once), issue an API key; returns (server env, API key).

    ``keys_json`` is the keyring of a database made earlier (bench/contacts_scale.py reuses its big one).
    """
    import asyncio

    from sqlalchemy import select

    from civicvoice.cli import migrate_database
    from civicvoice.core.audit import Actor
    from civicvoice.core.auth import create_api_key
    from civicvoice.core.db import create_engine, session_factory, unit_of_work
    from civicvoice.core.settings import Settings
    from civicvoice.demo import load_catalogue
    from privacy.keyring import Keyring
    from surveys.controllers import CONTACTS_WRITE
    from surveys.models import InvitationPolicyRecord
    from surveys.rules import InvitationPolicy

    env = {
        "CIVICVOICE_DATA_DIR": str(data_dir),
        "CIVICVOICE_DATABASE_URL": database_url,
        "CIVICVOICE_KEYS": keys_json or Keyring.generate().to_json(),
        "CIVICVOICE_KEY_FILE": str(data_dir / "no-key-file.json"),
        "CIVICVOICE_EMBEDDED_WORKER": "false",
        "CIVICVOICE_LOG_LEVEL": "WARNING",
    }
    settings = Settings.from_env(env)
    migrate_database(settings)

    async def seed() -> str:
        engine = create_engine(settings, pooled=False)
        try:
            async with unit_of_work(session_factory(engine)) as session:
                if await session.scalar(select(InvitationPolicyRecord.id).limit(1)) is None:
                    await load_catalogue(session)
                    demo_policy = InvitationPolicy.demo().to_dict()
                    session.add(InvitationPolicyRecord(name="default", settings=demo_policy))
                issued = await create_api_key(
                    session,
                    name="benchmark",
                    scopes=[CONTACTS_WRITE],
                    known_scopes=[CONTACTS_WRITE],
                    actor=Actor.cli(),
                    sources=["telephony"],
                )
                return issued.secret
        finally:
            await engine.dispose()

    return env, asyncio.run(seed())


# --- one backend --------------------------------------------------------------------------------------------


def measure_backend(
    backend: str, civicvoice_url: str, baseline_url: str, workdir: Path, args: argparse.Namespace
) -> None:
    """Run both servers on one backend and print the rounds, any failures and the ratio."""
    label = f"contacts throughput {backend}"
    cv_dir, base_dir = harness.data_dir(workdir, backend, "civicvoice"), harness.data_dir(workdir, backend, "baseline")
    env, api_key = prepare_civicvoice(civicvoice_url, cv_dir)
    civicvoice = harness.Server("civicvoice", "civicvoice.app:create_app", env)
    baseline = harness.Server(
        "baseline",
        "baseline_app:create_baseline_app_from_env",
        {"BENCH_BASELINE_DATABASE_URL": baseline_url, "BENCH_BASELINE_DATA_DIR": str(base_dir)},
    )
    with harness.running(civicvoice, baseline):
        auth = {"authorization": f"Bearer {api_key}"}
        check_batch(civicvoice.base_url + BATCH_PATH, auth)
        plans = [
            harness.LoadPlan(
                name=server.name,
                url=server.base_url + URL_PATH,
                make_body=contact_body,
                headers=headers,
                concurrency=args.concurrency,
                warmup=args.warmup,
                duration=args.seconds,
                server_pid=server.pid,
            )
            for server, headers in ((civicvoice, auth), (baseline, {}))
        ]
        plans.append(
            harness.LoadPlan(
                name="civicvoice batch",
                url=civicvoice.base_url + BATCH_PATH,
                make_body=batch_body,
                headers=auth,
                concurrency=BATCH_CONCURRENCY,
                warmup=max(args.warmup, 3.0),  # a batch takes seconds on a busy machine: let the first ones land
                duration=max(args.seconds, 10.0),  # whole batches only: a longer window, a smaller rounding error
                server_pid=civicvoice.pid,
            )
        )
        results = harness.alternate(plans, args.rounds)
    harness.print_rounds(label, results)
    harness.print_errors(label, results)
    harness.print_ratio(label, "civicvoice", "baseline", results, TARGET_RATIO)
    single = harness.median_rps(results["civicvoice"])
    batched = harness.median_rps(results["civicvoice batch"]) * BATCH_SIZE
    print(
        f"{label} batches of {BATCH_SIZE}: {batched:.1f} contacts/s, single requests {single:.1f} contacts/s, "
        f"ratio {batched / single:.2f} (target >= {BATCH_TARGET_RATIO:g})",
        flush=True,
    )


def check_batch(url: str, headers: dict[str, str]) -> None:
    """One batch before measuring: every event must be accepted (a 200 alone could hide refused events)."""
    import httpx

    body = batch_body(0, random.Random(0), 89)  # noqa: S311 - test data; run 89: customers of no measured run
    answer = httpx.post(url, content=body, headers={**headers, "content-type": "application/json"}, timeout=120)
    if answer.status_code != 200:
        raise harness.HarnessError(f"the batch API answered {answer.status_code}: {answer.text[:500]}")
    refused = [item for item in answer.json()["results"] if item["status"] != "accepted"]
    if refused:
        raise harness.HarnessError(f"the batch API did not accept {len(refused)} events, first: {refused[0]}")


def main(argv: list[str] | None = None) -> int:
    return harness.run_benchmark(
        "contacts throughput", "Contacts intake throughput against a bare Litestar app.", measure_backend, argv
    )


if __name__ == "__main__":
    sys.exit(main())
