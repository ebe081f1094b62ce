"""Contact import from a spreadsheet, in rows a second, against the batch API on the same events, in one run.

    python bench/contact_import.py [--rows N] [--rounds R]        (CIVICVOICE_BENCH_SCALE=0.1 shrinks N)

Both sides run in this process on the same SQLite database, with the app's own services: the batch API as
POST /api/v1/contacts/batch (1,000 events a request, through the ASGI app in process), the import as
`exports.imports.import_contacts` on the same events written as a CSV file (reading, header mapping, the API's
schema, then the API's batch writer). Rounds alternate which goes first; medians are compared. The import
should come close to the API (ratio near 1): it does the same work plus reading the file.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))
sys.path.insert(0, str(BENCH))

from contacts_throughput import contact_event, prepare_civicvoice  # noqa: E402

SCALE = float(os.environ.get("CIVICVOICE_BENCH_SCALE", "1"))
API_BATCH = 1000
COLUMNS = (
    "external id",
    "channel",
    "service",
    "occurred at",
    "agent",
    "wait seconds",
    "handling seconds",
    "transferred",
    "resolved first contact",
    "email",
    "phone",
    "name",
)


def events(count: int, run_id: int) -> list[dict[str, Any]]:
    rng = random.Random(run_id)  # noqa: S311 - test data
    return [contact_event(n, rng, run_id) for n in range(count)]


def as_csv(items: list[dict[str, Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    for e in items:
        c = e["customer"]
        writer.writerow(
            [
                e["external_id"],
                e["channel"],
                e["service"],
                e["occurred_at"],
                e["agent_id"],
                e["wait_seconds"],
                e["handling_seconds"],
                "yes" if e["transferred"] else "no",
                "yes" if e["resolved_first_contact"] else "no",
                c["email"],
                c["phone"],
                c["name"],
            ]
        )
    return out.getvalue().encode()


async def measure(rows: int, rounds: int) -> tuple[list[float], list[float]]:
    from litestar.testing import AsyncTestClient
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

    from civicvoice.app import create_app
    from civicvoice.core.audit import Actor
    from civicvoice.core.settings import Settings
    from exports.imports import import_contacts
    from surveys.intake import ContactIntake

    with tempfile.TemporaryDirectory(prefix="civicvoice-bench-import-") as directory:
        data_dir = Path(directory)
        env, api_key = await asyncio.to_thread(
            prepare_civicvoice, f"sqlite+aiosqlite:///{data_dir / 'bench.db'}", data_dir
        )
        settings = Settings.from_env(env)
        app = create_app(settings, worker=False)
        api_rates: list[float] = []
        import_rates: list[float] = []
        async with AsyncTestClient(app=app, base_url="http://bench.local") as client:
            services = app.state.services
            sessions: async_sessionmaker[AsyncSession] = services.get(async_sessionmaker)
            intake = services.get(ContactIntake)
            headers = {"Authorization": f"Bearer {api_key}"}

            async def through_api(run_id: int) -> float:
                items = events(rows, run_id)
                started = time.perf_counter()
                for start in range(0, rows, API_BATCH):
                    answer = await client.post(
                        "/api/v1/contacts/batch", json={"events": items[start : start + API_BATCH]}, headers=headers
                    )
                    if answer.status_code != 200 or answer.json()["rejected"]:
                        raise SystemExit(f"the batch API refused events: {answer.text[:300]}")
                return rows / (time.perf_counter() - started)

            async def through_import(run_id: int) -> float:
                content = as_csv(events(rows, run_id))
                started = time.perf_counter()
                async with sessions() as session:
                    report = await import_contacts(session, intake, content, source="telephony", actor=Actor.cli())
                    await session.commit()
                if report.accepted + report.duplicates != rows or report.rejected:
                    raise SystemExit(f"the import refused rows: {report.rejected[:3]}")
                return rows / (time.perf_counter() - started)

            for round_ in range(rounds):
                api_run, import_run = 2 * round_ + 10, 2 * round_ + 11
                if round_ % 2 == 0:
                    api_rates.append(await through_api(api_run))
                    import_rates.append(await through_import(import_run))
                else:
                    import_rates.append(await through_import(import_run))
                    api_rates.append(await through_api(api_run))
        return api_rates, import_rates


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=max(500, int(10_000 * SCALE)), help="events per run")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds (default 3)")
    args = parser.parse_args()
    api_rates, import_rates = asyncio.run(measure(args.rows, max(1, args.rounds)))
    api, imported = statistics.median(api_rates), statistics.median(import_rates)
    print(f"rows per run: {args.rows:,} (scale {SCALE}), {args.rounds} alternating rounds, SQLite, medians")
    print(f"batch API (POST /api/v1/contacts/batch, 1,000 a request): {api:,.0f} rows/s")
    print(f"import (CSV through exports.imports): {imported:,.0f} rows/s")
    print(f"import rows/s ratio import/batch API: {imported / api:.2f} (target: near 1: the same writer, plus reading)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
