"""Scorecard dashboard latency on PostgreSQL: GET /staff/scorecard (every figure of a month, 13 months of trend
charts) on 1,000,000 responses and 3,000,000 contact events against the same request on 10,000 responses.
Targets: p95 under 300 ms on the large database, and large/small p95 under 3 (the dashboard reads rollups only).

CIVICVOICE_BENCH_SCALE shrinks the large database (0.1: 100,000 responses, 300,000 contacts). Generated
databases are kept (cv_bench_scorecard_<responses>) and reused by the next run; drop them to regenerate. Data is
written in bulk by SQL over 13 months and 18 services, then rollups are filled as the demo fills them
(`feedback.scorecard.upkeep.fill_history`). Requests go through the real app in this process (Litestar's test
client, a signed-in quality reviewer, so every service is in scope).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import time
from pathlib import Path

import harness

from civicvoice.core.settings import Settings

TARGET_P95_MS = 300.0
TARGET_RATIO = 3.0
REQUESTS = 60
WARMUP = 5
PASSWORD = "bench-password-that-is-long-enough"  # noqa: S105 - a throwaway account in a throwaway database


def _generate_sql() -> list[str]:
    """Contacts spread over the 13 months before now; one in three invited and answered."""
    return [
        """
        INSERT INTO contact (id, source, ref_key_version, ref_digest, service_id, channel, occurred_at, received_at,
                             agent_ref, wait_seconds, handling_seconds, transferred, resolved_first_contact,
                             do_not_survey)
        SELECT md5('c' || n)::uuid, 'crm', 1, decode(md5('c' || n), 'hex') || decode(md5('x' || n), 'hex'),
               s.id,
               (ARRAY['phone','phone','phone','web_chat','email','face_to_face','web_form'])[1 + n % 7],
               now() - ((n % 395) * interval '1 day') - ((n % 1440) * interval '1 minute'), now(),
               'A' || (n % 60), (n * 7919) % 300, 120 + (n * 104729) % 900, n % 11 = 0,
               CASE WHEN n % 5 = 0 THEN NULL ELSE n % 4 <> 0 END, false
        FROM generate_series(1::bigint, CAST(:contacts AS bigint)) AS n
        JOIN (SELECT id, row_number() OVER (ORDER BY slug) - 1 AS k, count(*) OVER () AS total FROM service) s
          ON s.k = n % s.total
        """,
        """
        INSERT INTO invitation_decision (id, contact_id, invite, reason, detail, rules_version, decided_at)
        SELECT md5('d' || c.id)::uuid, c.id, true, 'invited', '', 'bench', c.occurred_at
        FROM contact c WHERE get_byte(c.ref_digest, 0) % 3 = 0
        """,
        """
        INSERT INTO invitation (id, contact_id, decision_id, survey_version_id, channel, state, due_at, expires_at,
                                reminders_sent, send_attempts, sent_at, responded_at, created_at)
        SELECT md5('i' || d.contact_id)::uuid, d.contact_id, d.id, (SELECT id FROM survey_version LIMIT 1), 'email',
               'sent', d.decided_at, d.decided_at + interval '14 days', 0, 1, d.decided_at,
               d.decided_at + interval '1 hour', d.decided_at
        FROM invitation_decision d
        """,
        """
        INSERT INTO response (id, invitation_id, survey_version_id, service_id, contact_id, channel, anonymous,
                              submitted_at, satisfaction, resolved)
        SELECT md5('r' || i.id)::uuid, i.id, i.survey_version_id, c.service_id, c.id, 'email', false,
               i.responded_at, 1 + get_byte(c.ref_digest, 1) % 5,
               (ARRAY['yes','yes','partly','no'])[1 + get_byte(c.ref_digest, 2) % 4]
        FROM invitation i JOIN contact c ON c.id = i.contact_id
        """,
        "ANALYZE",
    ]


async def complete(url: str) -> bool:
    """Whether an earlier run generated this database to the end (it is kept and reused)."""
    import asyncpg  # type: ignore[import-untyped]

    try:
        connection = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
    except Exception:
        return False
    try:
        return bool(await connection.fetchval("SELECT count(*) > 0 FROM scorecard_rollup"))
    except Exception:
        return False
    finally:
        await connection.close()


async def prepare(url: str, responses: int, workdir: Path) -> Settings:
    from sqlalchemy import func, select, text

    from civicvoice.cli import migrate_database
    from civicvoice.core.audit import Actor
    from civicvoice.core.db import create_engine, session_factory, unit_of_work
    from civicvoice.demo import load_catalogue
    from civicvoice.staff.accounts import create_staff_user
    from feedback.scorecard.formulas import ServiceLevelThresholds
    from feedback.scorecard.upkeep import fill_history
    from privacy.keyring import Keyring
    from surveys.models import Response

    keys = workdir / f"keys-{responses}.json"
    if not keys.exists():
        keys.write_text(Keyring.generate().to_json())
    settings = Settings(
        data_dir=workdir,
        database_url=url,
        keys_json=keys.read_text(),
        embedded_worker=False,
        base_url="http://testserver.local",
        log_level="WARNING",
    )
    engine = create_engine(settings)
    sessions = session_factory(engine)
    try:
        async with sessions() as session:
            try:
                have = await session.scalar(select(func.count()).select_from(Response))
            except Exception:
                have = None
        if have and await complete(url):
            print(f"reusing {url.rsplit('/', 1)[1]} ({have:,} responses)")
            return settings
        await asyncio.to_thread(migrate_database, settings)
        async with unit_of_work(sessions) as session:
            await load_catalogue(session)
            await create_staff_user(
                session,
                email="reviewer@council.gov.uk",
                display_name="Bench reviewer",
                role="quality_reviewer",
                actor=Actor.cli(),
                password=PASSWORD,
            )
        started = time.monotonic()
        async with engine.begin() as connection:
            for statement in _generate_sql():
                query = text(statement)
                if ":contacts" in statement:
                    query = query.bindparams(contacts=responses * 3)
                await connection.execute(query)
        generated = time.monotonic() - started
        started = time.monotonic()
        async with unit_of_work(sessions) as session:
            await fill_history(session, thresholds=ServiceLevelThresholds())
        print(f"generated in {generated:.0f} s, rollups filled in {time.monotonic() - started:.0f} s")
        return settings
    finally:
        await engine.dispose()


async def latencies(settings: Settings) -> list[float]:
    from litestar.testing import AsyncTestClient

    from civicvoice.app import create_app
    from civicvoice.core.clock import utcnow

    app = create_app(settings, worker=False)
    month = f"{utcnow():%Y-%m}"
    timings: list[float] = []
    async with AsyncTestClient(app=app, base_url="http://testserver.local") as client:
        form = await client.get("/staff/sign-in")
        token = form.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        done = await client.post(
            "/staff/sign-in", data={"email": "reviewer@council.gov.uk", "password": PASSWORD, "csrf_token": token}
        )
        assert done.status_code in (200, 303), done.text[:300]
        for index in range(WARMUP + REQUESTS):
            started = time.perf_counter()
            page = await client.get(f"/staff/scorecard?month={month}")
            elapsed = (time.perf_counter() - started) * 1000
            if page.status_code != 200:
                raise harness.HarnessError(f"dashboard answered {page.status_code}: {page.text[:300]}")
            if index >= WARMUP:
                timings.append(elapsed)
    return timings


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1]


def main() -> int:
    scale = float(os.environ.get("CIVICVOICE_BENCH_SCALE", "1"))
    if not harness.postgres_reachable():
        print("scorecard dashboard: PostgreSQL not reachable, skipped")
        return 0
    workdir = Path(os.environ.get("CIVICVOICE_BENCH_DIR", "var/bench-scorecard"))
    workdir.mkdir(parents=True, exist_ok=True)
    large = max(10_000, int(1_000_000 * scale))
    results: dict[int, list[float]] = {}
    for responses in (10_000, large):
        name = f"cv_bench_scorecard_{responses}"
        if not asyncio.run(complete(harness.postgres_url(name))):
            harness._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            harness._admin(f'CREATE DATABASE "{name}"')
        settings = asyncio.run(prepare(harness.postgres_url(name), responses, workdir))
        results[responses] = asyncio.run(latencies(settings))
    small, big = p95(results[10_000]), p95(results[large])
    print(
        f"scorecard dashboard (PostgreSQL, scale {scale}): p95 {big:.1f} ms on {large:,} responses and "
        f"{large * 3:,} contacts (median {statistics.median(results[large]):.1f} ms); p95 {small:.1f} ms on "
        f"10,000 responses; ratio {big / small:.2f} (targets: p95 < {TARGET_P95_MS:.0f} ms, ratio < {TARGET_RATIO})"
    )
    return 0 if big < TARGET_P95_MS and big / small < TARGET_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
