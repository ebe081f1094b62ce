"""The staff inbox at scale: p95 latency of GET /staff/feedback with 1,000,000 responses stored, against the same
server with 10,000, on PostgreSQL, measured in alternating rounds of the same run. Target: ratio under 3.

Each round asks, one request at a time (latency, not throughput), for the pages people use: the newest
responses, filtered by service, by channel and by dates, a later page, and the same as a service manager and an
agent (whose scope joins the contacts). Every page decrypts and redacts the comments it shows.

The responses are made directly in SQL (a contact each, 200 agents, every service and channel, two years of
history, the classification and sentiment rows), then the newest few thousand get real comments encrypted
under their month's key, so every page shown decrypts the same work whatever the size. Making a million takes
minutes, so each database is kept between runs (``civicvoice_bench_inbox_<N>``, with its keyring in the cache
directory, as bench/contacts_scale.py keeps its own). CIVICVOICE_BENCH_SCALE shrinks the large one (0.1: 100,000).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import harness
from contacts_scale import cache_dir, record_key_checks
from contacts_throughput import prepare_civicvoice

TARGET_RATIO = 3.0
SMALL = 10_000
LARGE = 1_000_000
COMMENTED = 3_000  # the newest responses get real encrypted comments
AGENTS = 200
PASSWORD = "bench-inbox-password-1"  # noqa: S105 - the benchmark database's own throwaway accounts
USERS = {
    "reviewer": ("quality_reviewer", "reviewer@bench.example", [], None),
    "manager": ("service_manager", "manager@bench.example", ["council-tax", "parking"], None),
    "agent": ("agent", "agent@bench.example", [], "agent-7"),
}
COMMENTS = (
    "Waited forty minutes on hold and nobody called back. Ring me on 07700 900123.",
    "The advisor was friendly and sorted it in one call, thank you.",
    "Please put the collection calendar on the website in a printable form.",
    "I was transferred twice and had to explain everything again each time.",
)

POSTGRES_FILL = """
CREATE TEMP TABLE svc AS
    SELECT row_number() OVER (ORDER BY slug) - 1 AS k, id, slug FROM service WHERE active AND NOT survey_excluded;
CREATE TEMP TABLE r AS
    SELECT n.i AS i, gen_random_uuid() AS id, gen_random_uuid() AS contact_id, svc.id AS service_id,
           {start} + n.i * {step} AS at
    FROM generate_series(0, {stored} - 1) AS n (i)
    JOIN svc ON svc.k = n.i % (SELECT count(*) FROM svc);
INSERT INTO contact (id, source, ref_key_version, ref_digest, subject_id, service_id, channel, occurred_at,
                     received_at, agent_ref, wait_seconds, handling_seconds, transferred, resolved_first_contact,
                     contact_preference, do_not_survey)
    SELECT contact_id, 'history', {index_version}, sha256(convert_to(contact_id::text, 'UTF8')), NULL, service_id,
           (ARRAY['phone', 'email', 'web_chat', 'face_to_face'])[1 + i % 4], at - interval '1 hour', at,
           'agent-' || (i % {agents}), 60, 300, false, true, NULL, false FROM r;
INSERT INTO response (id, invitation_id, survey_version_id, subject_id, service_id, contact_id, agent_ref, channel,
                      anonymous, submitted_at, satisfaction, resolved)
    SELECT id, NULL, '{version}', NULL, service_id, contact_id, 'agent-' || (i % {agents}),
           (ARRAY['email', 'sms', 'web_link', 'kiosk', 'email'])[1 + i % 5], true, at, 1 + i % 5,
           (ARRAY['yes', 'partly', 'no'])[1 + i % 3] FROM r;
INSERT INTO answer (id, response_id, question_key, number, choice, text_ciphertext, text_length)
    SELECT gen_random_uuid(), id, 'satisfaction', 1 + i % 5, NULL, NULL, NULL FROM r;
INSERT INTO answer (id, response_id, question_key, number, choice, text_ciphertext, text_length)
    SELECT gen_random_uuid(), id, 'resolved', NULL, (ARRAY['yes', 'partly', 'no'])[1 + i % 3], NULL, NULL FROM r;
"""


def scale() -> float:
    raw = os.environ.get("CIVICVOICE_BENCH_SCALE", "1")
    try:
        value = float(raw)
    except ValueError:
        raise SystemExit(f"CIVICVOICE_BENCH_SCALE must be a number, not {raw!r}") from None
    return min(max(value, 0.0001), 1.0)


def _facts(keys_json: str) -> dict[str, int]:
    from privacy.keyring import Keyring

    keyring = Keyring.from_json(keys_json, source="benchmark")
    return {"index_version": keyring.index_active}


async def _fill(url: str, stored: int, keys_json: str) -> None:
    import asyncpg  # type: ignore[import-untyped]

    connection = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        version = await connection.fetchval("SELECT id FROM survey_version WHERE status = 'published' LIMIT 1")
        now = datetime.now(UTC).replace(microsecond=0)
        start = now - timedelta(days=730)
        sql = POSTGRES_FILL.format(
            stored=int(stored),
            start=f"timestamptz '{start.isoformat()}'",
            step=f"interval '{730 * 86400 / stored:.6f} seconds'",
            agents=AGENTS,
            version=str(version),
            **_facts(keys_json),
        )
        async with connection.transaction():
            # Filling only: consistent by construction, so foreign-key triggers are skipped (superuser, as
            # bench/contacts_scale.py does).
            await connection.execute(
                "SET LOCAL session_replication_role = replica; SET LOCAL work_mem = '256MB'; "
                "SET LOCAL temp_buffers = '512MB'"
            )
            await connection.execute(sql)
    finally:
        await connection.close()


async def _comments_and_users(url: str, keys_json: str) -> None:
    """Real comments (encrypted, scored, classified) on the newest responses, and the staff who read them."""
    from sqlalchemy import select

    from civicvoice.core.audit import Actor
    from civicvoice.core.db import create_engine, session_factory, unit_of_work
    from civicvoice.core.settings import Settings
    from civicvoice.staff.accounts import create_staff_user
    from feedback.classification import classify
    from feedback.models import CommentClassification, CommentScore
    from feedback.sentiment import score
    from privacy.keyring import Keyring
    from privacy.vault import Vault
    from surveys.models import Answer, Response
    from surveys.responses import ANSWER_TEXT_FIELD

    vault = Vault(Keyring.from_json(keys_json, source="benchmark"))
    engine = create_engine(Settings(database_url=url), pooled=False)
    try:
        async with unit_of_work(session_factory(engine)) as session:
            newest = (
                await session.execute(
                    select(Response.id, Response.submitted_at).order_by(Response.submitted_at.desc()).limit(COMMENTED)
                )
            ).all()
            answers = []
            for number, (response_id, submitted_at) in enumerate(newest):
                text = COMMENTS[number % len(COMMENTS)]
                answer = Answer(response_id=response_id, question_key="improve", text_length=len(text))
                answer.text_ciphertext = await vault.encrypt_anonymous(
                    session, submitted_at, ANSWER_TEXT_FIELD, answer.id, text
                )
                session.add(answer)
                answers.append((answer, response_id, text))
            await session.flush()  # the answers before the rows that refer to them
            for answer, response_id, text in answers:
                sentiment = score(text)
                found = classify(text)
                session.add(
                    CommentScore(
                        answer_id=answer.id,
                        response_id=response_id,
                        question_key="improve",
                        polarity=sentiment.polarity,
                        label=str(sentiment.label),
                        scorer_version=sentiment.scorer_version,
                    )
                )
                session.add(
                    CommentClassification(
                        answer_id=answer.id,
                        response_id=response_id,
                        comment_class=found.comment_class.value,
                        confidence=found.confidence,
                        themes=[{"theme": t.theme.value, "confidence": t.confidence} for t in found.themes],
                        classifier_version=found.classifier_version,
                    )
                )
            for role, email, scope, agent_ref in USERS.values():
                await create_staff_user(
                    session,
                    email=email,
                    display_name=f"Bench {role}",
                    role=role,
                    actor=Actor.cli(),
                    password=PASSWORD,
                    service_scope=scope,
                    agent_ref=agent_ref,
                )
    finally:
        await engine.dispose()


async def _analyze(url: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await connection.execute("ANALYZE")
    finally:
        await connection.close()


def inbox_database(stored: int, cache: Path, workdir: Path) -> tuple[str, str]:
    """The database holding ``stored`` responses, made now unless an earlier run kept it; (URL, keyring)."""
    name = f"civicvoice_bench_inbox_{stored}"
    url = harness.postgres_url(name)
    marker = cache / f"inbox-{stored}.postgresql.json"
    if marker.exists():
        return url, json.loads(marker.read_text())["keys"]
    from privacy.keyring import Keyring

    keys_json = Keyring.generate().to_json()
    started = time.monotonic()
    print(f"  making a PostgreSQL database with {stored:,} responses (kept for later runs) ...", flush=True)
    harness._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    harness._admin(f'CREATE DATABASE "{name}"')
    prepare_civicvoice(url, harness.data_dir(workdir, "postgresql", f"filling-{stored}"), keys_json)
    record_key_checks(url, keys_json)
    asyncio.run(_fill(url, stored, keys_json))
    asyncio.run(_comments_and_users(url, keys_json))
    asyncio.run(_analyze(url))
    marker.touch(mode=0o600)  # it holds the keyring
    marker.write_text(json.dumps({"keys": keys_json}))
    print(f"  made in {time.monotonic() - started:.0f} s", flush=True)
    return url, keys_json


def queries(today: datetime) -> dict[str, list[str]]:
    week_ago = (today - timedelta(days=7)).date().isoformat()
    month_ago = (today - timedelta(days=30)).date().isoformat()
    return {
        "reviewer": [
            "/staff/feedback",
            "/staff/feedback?service=council-tax",
            "/staff/feedback?channel=sms",
            f"/staff/feedback?from={week_ago}",
            f"/staff/feedback?service=parking&channel=email&from={month_ago}",
            "/staff/feedback?page=3",
        ],
        "manager": ["/staff/feedback", "/staff/feedback?service=parking", "/staff/feedback?page=2"],
        "agent": ["/staff/feedback", "/staff/feedback?page=2"],
    }


def sign_in(client: object, email: str) -> None:
    import httpx

    assert isinstance(client, httpx.Client)
    form = client.get("/staff/sign-in")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    if token is None:
        raise harness.HarnessError("no CSRF token on the sign-in page")
    done = client.post("/staff/sign-in", data={"email": email, "password": PASSWORD, "csrf_token": token.group(1)})
    if done.status_code != 303:
        raise harness.HarnessError(f"sign-in as {email} failed: {done.status_code}")


def one_round(server: harness.Server, requests: int) -> list[float]:
    """``requests`` page loads, one at a time, cycling through every role's pages; their latencies in ms."""
    import httpx

    latencies: list[float] = []
    shapes = queries(datetime.now(UTC))
    clients = {}
    try:
        for who, (_, email, _, _) in USERS.items():
            client = httpx.Client(base_url=server.base_url, trust_env=False, timeout=60.0, follow_redirects=False)
            sign_in(client, email)
            clients[who] = client
        plan = [(who, path) for who, paths in shapes.items() for path in paths]
        for who, path in plan:  # warm-up: each page once, not measured
            clients[who].get(path)
        for number in range(requests):
            who, path = plan[number % len(plan)]
            sent = time.perf_counter()
            page = clients[who].get(path)
            elapsed = (time.perf_counter() - sent) * 1000
            if page.status_code != 200 or "Recent feedback" not in page.text:
                raise harness.HarnessError(f"{server.name}: {path} as {who} answered {page.status_code}")
            latencies.append(elapsed)
    finally:
        for client in clients.values():
            client.close()
    return latencies


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=3, help="Rounds per database, alternating (default 3).")
    parser.add_argument("--requests", type=int, default=66, help="Page loads per round (default 66).")
    parser.add_argument("--cache", help="Where the kept databases' keyrings are noted.")
    args = parser.parse_args(argv)
    label = "inbox at scale postgresql"
    if not harness.postgres_reachable():
        print(f"{label}: skipped (PostgreSQL not reachable)", flush=True)
        return 0
    large = max(SMALL * 2, int(LARGE * scale()))
    cache = cache_dir(args.cache)
    import tempfile

    workdir = Path(tempfile.mkdtemp(prefix="civicvoice-bench-inbox-"))
    try:
        servers = []
        for stored in (SMALL, large):
            url, keys_json = inbox_database(stored, cache, workdir)
            env = {
                "CIVICVOICE_DATA_DIR": str(harness.data_dir(workdir, "postgresql", str(stored))),
                "CIVICVOICE_DATABASE_URL": url,
                "CIVICVOICE_KEYS": keys_json,
                "CIVICVOICE_KEY_FILE": str(workdir / "no-key-file.json"),
                "CIVICVOICE_EMBEDDED_WORKER": "false",
                "CIVICVOICE_LOG_LEVEL": "WARNING",
            }
            servers.append(harness.Server(f"{stored:,} responses", "civicvoice.app:create_app", env))
        results: dict[str, list[float]] = {server.name: [] for server in servers}
        with harness.running(*servers):
            for number in range(1, args.rounds + 1):
                for server in servers:
                    latencies = one_round(server, args.requests)
                    results[server.name].extend(latencies)
                    print(
                        f"  {label} {server.name} round {number}: p50 {statistics.median(latencies):.1f} ms, "
                        f"p95 {p95(latencies):.1f} ms",
                        flush=True,
                    )
        small, big = (results[server.name] for server in servers)
        ratio = p95(big) / p95(small)
        print(
            f"{label}: p95 {p95(big):.1f} ms with {large:,} responses, {p95(small):.1f} ms with {SMALL:,}, "
            f"ratio {ratio:.2f} (target < {TARGET_RATIO:g}; scale {scale():g})",
            flush=True,
        )
    except harness.HarnessError as exc:
        print(f"{label}: harness failed: {exc}", file=sys.stderr)
        return 1
    finally:
        import shutil

        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
