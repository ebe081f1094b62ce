"""The DPO's operations at scale, on PostgreSQL: N data subjects and 5N responses (N = 1,000,000 by default;
``CIVICVOICE_BENCH_SCALE`` or ``--subjects`` to shrink), each figure against a baseline measured in the same run.

- Find one person by email and build their access package: p95 (target under 1 s), against the same on a
  database of 1,000 people made in this run.
- Erase one person, the key-destruction step (`erase` and its commit; the purge is a background job): p95
  (target under 50 ms), against the same small database.
- `keys rotate`: seconds to re-wrap 100,000 data keys in the database, against re-wrapping the same keys in
  memory (the cryptography alone).
- Retention over the N expired responses (with their contacts, invitations and decisions): rows per second; and
  the p99 of survey submissions (POST /s/<token>, a real server) while it runs, against the same load without it
  (target ratio under 2). Retention runs as the daily job runs it (20 batches a job run, pausing between batches
  as ``CIVICVOICE_RETENTION_DUTY`` says) and stops after ``--retention-budget`` seconds (120; 0 runs it to the
  end), its rows per second then counting what it did.

Every person has five contacts, each invited and answered (satisfaction, resolved, and on the oldest, which is
past the 24-month retention period, a comment encrypted under their own key); a few thousand more invitations
stay open for the survey load. The people are made through `Vault.resolve_many` (intake's own path: blind
indexes, keys wrapped under the KEK, identity encrypted), the comments through `Vault.encrypt`, the rest in SQL.
Making it takes a while, so it is kept as the database ``civicvoice_bench_privacy_<N>`` with its keyring in the
cache directory (``--cache``, default ``$BENCH_CACHE_DIR`` or ``~/.cache/civicvoice-bench``) and reused; each run
works on a copy made from it as a template (erasure, rotation and retention change it), dropped afterwards.
Skipped, saying so, when PostgreSQL is not reachable at ``BENCH_POSTGRES_URL``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import harness

LABEL = "privacy at scale"
DEFAULT_SUBJECTS = 1_000_000
SMALL = 1_000
RESPONSES_PER_PERSON = 5
OPEN_INVITATIONS = 40_000  # a third for each survey load: enough for 12 s at 1,000 answers a second
SAMPLES = 20
# Retention gives way to the service (CIVICVOICE_RETENTION_DUTY), so the whole backlog of a million people takes
# about an hour: the run stops after this long, well past the survey load measured while it runs.
RETENTION_BUDGET = 120.0
PEOPLE_PER_TRANSACTION = 2_000
ACCESS_TARGET_MS = 1000.0
ERASE_TARGET_MS = 50.0
RETENTION_TARGET_RATIO = 2.0
COMMENT = "The advisor was patient, but I waited forty minutes and had to ring back twice about my bin collection."


def subjects_from_env() -> int:
    value = os.environ.get("CIVICVOICE_BENCH_SCALE", "").strip()
    return int(float(value)) if value else DEFAULT_SUBJECTS


def cache_dir(given: str | None) -> Path:
    path = Path(given or os.environ.get("BENCH_CACHE_DIR") or Path.home() / ".cache" / "civicvoice-bench")
    path.mkdir(parents=True, exist_ok=True)
    return path


def email_of(number: int) -> str:
    return f"person{number}@bench.example"


# --- making the data ----------------------------------------------------------------------------------------

HISTORY_SQL = """
CREATE TEMP TABLE svc AS
    SELECT row_number() OVER (ORDER BY slug) - 1 AS k, id FROM service WHERE active AND NOT survey_excluded;
CREATE TEMP TABLE h AS
    SELECT p.i, p.subject_id, r.n, gen_random_uuid() AS contact_id, gen_random_uuid() AS decision_id,
           gen_random_uuid() AS invitation_id, gen_random_uuid() AS response_id,
           CASE WHEN r.n = 0 THEN p.comment_answer_id END AS comment_answer_id,
           CASE WHEN r.n = 0 THEN p.comment END AS comment,
           CASE WHEN r.n = 0 THEN now() - interval '{expired_months} months' - (p.i % 1000) * interval '1 minute'
                ELSE now() - (r.n * 60 + p.i % 50) * interval '1 day' END AS at,
           svc.id AS service_id
    FROM people p CROSS JOIN generate_series(0, {per_person} - 1) AS r (n)
    JOIN svc ON svc.k = (p.i + r.n) % (SELECT count(*) FROM svc);
INSERT INTO contact (id, source, ref_key_version, ref_digest, subject_id, service_id, channel, occurred_at,
                     received_at, agent_ref, wait_seconds, handling_seconds, transferred, resolved_first_contact,
                     contact_preference, do_not_survey)
    SELECT contact_id, 'history', {index_version}, sha256(convert_to(contact_id::text, 'UTF8')), subject_id,
           service_id, 'phone', at, at, 'agent-1', 60, 300, false, true, NULL, false FROM h;
INSERT INTO invitation_decision (id, contact_id, subject_id, invite, reason, detail, rules_version, decided_at)
    SELECT decision_id, contact_id, subject_id, true, 'invited', 'stored history', 'history', at FROM h;
INSERT INTO invitation (id, contact_id, decision_id, subject_id, survey_version_id, channel, state, due_at,
                        expires_at, reminder_at, reminders_sent, send_attempts, message_ref, sent_at, responded_at,
                        failure, created_at)
    SELECT invitation_id, contact_id, decision_id, subject_id, '{version}', 'email', 'sent', at,
           at + interval '7 days', NULL, 0, 1, NULL, at, at + interval '1 hour', NULL, at FROM h;
INSERT INTO response (id, invitation_id, survey_version_id, subject_id, service_id, contact_id, channel, anonymous,
                      submitted_at, satisfaction, resolved)
    SELECT response_id, invitation_id, '{version}', subject_id, service_id, contact_id, 'email', false,
           at + interval '1 hour', 1 + (i + n) % 5, (ARRAY['yes', 'partly', 'no'])[1 + (i + n) % 3] FROM h;
INSERT INTO answer (id, response_id, question_key, number, choice, text_ciphertext, text_length)
    SELECT gen_random_uuid(), response_id, 'satisfaction', 1 + (i + n) % 5, NULL::varchar, NULL::bytea, NULL::int
    FROM h
    UNION ALL
    SELECT gen_random_uuid(), response_id, 'resolved', NULL, (ARRAY['yes', 'partly', 'no'])[1 + (i + n) % 3], NULL,
           NULL FROM h
    UNION ALL
    SELECT comment_answer_id, response_id, 'improve', NULL, NULL, comment, {comment_length} FROM h
    WHERE comment IS NOT NULL;
UPDATE data_subject SET last_contact_at = now() - interval '2 days';
CREATE TEMP TABLE o AS
    SELECT p.i, p.subject_id, gen_random_uuid() AS contact_id, gen_random_uuid() AS decision_id,
           p.open_invitation_id AS invitation_id, svc.id AS service_id, now() - interval '1 day' AS at
    FROM people p JOIN svc ON svc.k = p.i % (SELECT count(*) FROM svc) WHERE p.open_invitation_id IS NOT NULL;
INSERT INTO contact (id, source, ref_key_version, ref_digest, subject_id, service_id, channel, occurred_at,
                     received_at, agent_ref, wait_seconds, handling_seconds, transferred, resolved_first_contact,
                     contact_preference, do_not_survey)
    SELECT contact_id, 'history', {index_version}, sha256(convert_to(contact_id::text, 'UTF8')), subject_id,
           service_id, 'phone', at, at, 'agent-1', 60, 300, false, true, NULL, false FROM o;
INSERT INTO invitation_decision (id, contact_id, subject_id, invite, reason, detail, rules_version, decided_at)
    SELECT decision_id, contact_id, subject_id, true, 'invited', 'open', 'history', at FROM o;
INSERT INTO invitation (id, contact_id, decision_id, subject_id, survey_version_id, channel, state, due_at,
                        expires_at, reminder_at, reminders_sent, send_attempts, message_ref, sent_at, responded_at,
                        failure, created_at)
    SELECT invitation_id, contact_id, decision_id, subject_id, '{version}', 'email', 'sent', at,
           timestamptz '2099-01-01 00:00:00+00', NULL, 0, 1, NULL, at, NULL, NULL, at FROM o;
ANALYZE;
"""


def server_env(url: str, data_dir: Path, key_file: Path) -> dict[str, str]:
    return {
        "CIVICVOICE_DATA_DIR": str(data_dir),
        "CIVICVOICE_DATABASE_URL": url,
        "CIVICVOICE_KEY_FILE": str(key_file),
        "CIVICVOICE_EMBEDDED_WORKER": "false",
        "CIVICVOICE_LOG_LEVEL": "WARNING",
    }


def settings_for(url: str, data_dir: Path, key_file: Path) -> Any:
    from civicvoice.core.settings import Settings

    data_dir.mkdir(parents=True, exist_ok=True)
    return Settings.from_env(server_env(url, data_dir, key_file))


async def fill(url: str, subjects: int, key_file: Path, data_dir: Path, *, open_invitations: int) -> None:
    """People through the vault, one comment each under their own key, then their history in SQL."""
    import asyncpg  # type: ignore[import-untyped]

    from civicvoice.core.db import create_engine, session_factory, unit_of_work
    from privacy.keys import check_keys, load_keyring
    from privacy.vault import IdentityClaim, SubjectClaim, Vault

    settings = settings_for(url, data_dir, key_file)
    keyring = load_keyring(settings)
    vault = Vault(keyring)
    engine = create_engine(settings, pooled=False)
    sessions = session_factory(engine)
    rows: list[tuple[int, uuid.UUID, uuid.UUID, bytes, uuid.UUID | None]] = []
    started = time.monotonic()
    try:
        async with unit_of_work(sessions) as session:
            await check_keys(session, keyring, record_new=True)
        for first in range(0, subjects, PEOPLE_PER_TRANSACTION):
            numbers = range(first, min(subjects, first + PEOPLE_PER_TRANSACTION))
            async with unit_of_work(sessions) as session:
                claims = [SubjectClaim(IdentityClaim(email=email_of(n))) for n in numbers]
                resolved = await vault.resolve_many(session, claims)
                ids = [r.subject_id for r in resolved]
                await vault.load_subject_keys(session, ids)
                for n, subject_id in zip(numbers, ids, strict=True):
                    answer_id = uuid.uuid4()
                    sealed = await vault.encrypt(session, subject_id, "answer.text", answer_id, COMMENT)
                    opened = uuid.uuid4() if n >= subjects - open_invitations else None
                    rows.append((n, subject_id, answer_id, sealed, opened))
            if first and first % (PEOPLE_PER_TRANSACTION * 50) == 0:
                rate = first / (time.monotonic() - started)
                print(f"    {first:,} people ({rate:,.0f}/s)", flush=True)
    finally:
        await engine.dispose()
    connection = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        version = await connection.fetchval("SELECT id FROM survey_version WHERE status = 'published' LIMIT 1")
        async with connection.transaction():
            # Filling only: the rows are consistent by construction, so foreign-key triggers are skipped (this needs
            # the superuser the benchmark already uses).
            await connection.execute(
                "SET LOCAL session_replication_role = replica; SET LOCAL work_mem = '256MB'; "
                "SET LOCAL temp_buffers = '512MB'"
            )
            await connection.execute(
                "CREATE TEMP TABLE people (i integer, subject_id uuid, comment_answer_id uuid, comment bytea, "
                "open_invitation_id uuid)"
            )
            await connection.copy_records_to_table("people", records=rows)
            await connection.execute(
                HISTORY_SQL.format(
                    expired_months=26,
                    per_person=RESPONSES_PER_PERSON,
                    index_version=keyring.index_active,
                    version=version,
                    comment_length=len(COMMENT),
                )
            )
    finally:
        await connection.close()


def prepare(url: str, workdir: Path, name: str, keys_json: str | None) -> tuple[Path, str]:
    """Migrate and load the catalogue; the keyring goes to a key file (rotation writes it). Returns it."""
    from contacts_throughput import prepare_civicvoice

    from privacy.keyring import Keyring

    keys_json = keys_json or Keyring.generate().to_json()
    prepare_civicvoice(url, workdir / f"{name}-prepare", keys_json)
    key_file = workdir / f"{name}-keys.json"
    key_file.write_text(keys_json)
    key_file.chmod(0o600)
    return key_file, keys_json


def stored_database(subjects: int, cache: Path, workdir: Path) -> tuple[str, str]:
    """The kept database of ``subjects`` people (made now unless the cache has it): (its name, its keyring)."""
    name = f"civicvoice_bench_privacy_{subjects}"
    marker = cache / f"privacy-{subjects}.postgresql.json"
    open_invitations = min(OPEN_INVITATIONS, subjects // 2)
    kept = json.loads(marker.read_text()) if marker.exists() else {}
    if kept.get("open_invitations") == open_invitations and _database_exists(name):
        print(f"  reusing the kept database {name}", flush=True)
        return name, str(kept["keys"])
    marker.unlink(missing_ok=True)
    started = time.monotonic()
    people = subjects * RESPONSES_PER_PERSON
    print(f"  making {name}: {subjects:,} people, {people:,} responses (kept for later runs) ...", flush=True)
    harness._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    harness._admin(f'CREATE DATABASE "{name}"')
    url = harness.postgres_url(name)
    key_file, keys_json = prepare(url, workdir, name, None)
    asyncio.run(fill(url, subjects, key_file, workdir / f"{name}-fill", open_invitations=open_invitations))
    marker.touch(mode=0o600)  # it holds the keyring
    marker.write_text(json.dumps({"keys": keys_json, "subjects": subjects, "open_invitations": open_invitations}))
    print(f"  made in {time.monotonic() - started:.0f} s", flush=True)
    return name, keys_json


def _database_exists(name: str) -> bool:
    import asyncpg

    async def run() -> bool:
        connection = await asyncpg.connect(harness.PG_ADMIN_URL, timeout=5)
        try:
            return bool(await connection.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name))
        finally:
            await connection.close()

    return asyncio.run(run())


# --- measuring ----------------------------------------------------------------------------------------------


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))]


async def timed(work: Callable[[], Awaitable[Any]]) -> float:
    started = time.perf_counter()
    await work()
    return (time.perf_counter() - started) * 1000


async def access_and_erase(settings: Any, people: int, samples: int, rng: random.Random) -> dict[str, list[float]]:
    """Milliseconds for each: find by email and build the package; erase (the key destruction and its commit)."""
    from civicvoice.core.audit import Actor
    from civicvoice.core.db import create_engine, session_factory, unit_of_work
    from privacy.access import prepare as prepare_package
    from privacy.erasure import erase
    from privacy.keys import load_keyring
    from privacy.vault import IdentityClaim, Vault

    engine = create_engine(settings)
    sessions = session_factory(engine)
    chosen = rng.sample(range(people - min(OPEN_INVITATIONS, people // 2)), 2 * samples + 2)
    found: dict[str, list[float]] = {"access": [], "erase": []}
    try:
        for position, number in enumerate(chosen):
            vault = Vault(load_keyring(settings))  # no key cached from an earlier person

            async def package(number: int = number, vault: Vault = vault) -> None:
                async with unit_of_work(sessions) as session:
                    [subject_id] = (await vault.find(session, IdentityClaim(email=email_of(number)))).values()
                    await prepare_package(session, settings, vault, subject_id, actor=Actor.cli())

            async def erasure(number: int = number, vault: Vault = vault) -> None:
                async with sessions() as session:
                    [subject_id] = (await vault.find(session, IdentityClaim(email=email_of(number)))).values()
                started = time.perf_counter()
                async with unit_of_work(sessions) as session:
                    await erase(session, settings, subject_id, actor=Actor.cli(), holds=())
                found["erase"].append((time.perf_counter() - started) * 1000)

            if position < 2:  # warm-up: connections, caches, the first package's imports
                await (package() if position == 0 else erasure())
                if position == 1:
                    found["erase"].clear()
                continue
            if position % 2 == 0:
                found["access"].append(await timed(package))
            else:
                await erasure()
    finally:
        await engine.dispose()
    return found


async def rewrap_all(settings: Any) -> tuple[int, float, float]:
    """`keys rotate` (add, activate) then the re-wrap job's batches until none is left: (keys, seconds in the
    database, seconds for the same keys re-wrapped in memory)."""
    from sqlalchemy import select

    from civicvoice.core.audit import Actor
    from civicvoice.core.db import create_engine, session_factory, unit_of_work
    from privacy.crypto import WrappedKey, rewrap
    from privacy.key_rotation import advance_rotation, rewrap_batch
    from privacy.keys import load_keyring
    from privacy.models import DataKey
    from privacy.vault import period_owner, subject_owner

    engine = create_engine(settings)
    sessions = session_factory(engine)
    try:
        for expected in ("added", "activated"):
            async with unit_of_work(sessions) as session:
                step = await advance_rotation(session, settings, actor=Actor.cli())
            if step.did != expected:
                raise harness.HarnessError(f"keys rotate: expected {expected}, got {step.did}: {step.detail}")
        keyring = load_keyring(settings)
        async with sessions() as session:
            rows = (
                await session.execute(
                    select(DataKey.subject_id, DataKey.period, DataKey.kek_version, DataKey.wrapped)
                    .where(DataKey.wrapped.is_not(None))
                    .limit(100_000)
                )
            ).all()
        started = time.perf_counter()
        for subject_id, period, version, wrapped in rows:
            owner = subject_owner(subject_id) if subject_id is not None else period_owner(period)
            rewrap(keyring, WrappedKey(version, wrapped), owner=owner)
        in_memory = (time.perf_counter() - started) * 100_000 / max(1, len(rows))
        total = 0
        started = time.perf_counter()
        while True:
            async with unit_of_work(sessions) as session:
                done = await rewrap_batch(session, keyring)
            if not done:
                break
            total += done
        return total, time.perf_counter() - started, in_memory
    finally:
        await engine.dispose()


class SurveyAnswers:
    """Request bodies for the load process: each request answers its own open invitation, once."""

    def __init__(self, base_url: str, tokens: list[str], per_run: int) -> None:
        self.base_url = base_url
        self.tokens = tokens
        self.per_run = per_run

    def __call__(self, sequence: int, rng: random.Random, run_id: int) -> harness.Post:
        token = self.tokens[((run_id - 1) * self.per_run + sequence) % len(self.tokens)]
        form = {"satisfaction": str(rng.randint(1, 5)), "resolved": rng.choice(["yes", "partly", "no"])}
        form["improve"] = "Quicker call backs please."
        return harness.Post(f"{self.base_url}/s/{token}", urllib.parse.urlencode(form).encode())


async def open_tokens(settings: Any) -> list[str]:
    from sqlalchemy import select

    from civicvoice.core.db import create_engine, session_factory
    from privacy.keys import load_keyring
    from surveys.models import Invitation
    from surveys.tokens import Purpose, TokenSigner

    signer = TokenSigner(load_keyring(settings).token)
    engine = create_engine(settings, pooled=False)
    try:
        async with session_factory(engine)() as session:
            ids = (await session.scalars(select(Invitation.id).where(Invitation.responded_at.is_(None)))).all()
    finally:
        await engine.dispose()
    expires = datetime.now(UTC) + timedelta(days=7)
    return [signer.sign(i, Purpose.survey, expires) for i in ids]


def retention_with_load(
    settings: Any, env: dict[str, str], args: argparse.Namespace
) -> tuple[dict[str, Any], float, list[harness.LoadResult], harness.LoadResult]:
    """The survey load without retention, then with a retention run (in a process of its own) under way, then
    without again; returns (retention counts, its seconds, baselines, with)."""
    tokens = asyncio.run(open_tokens(settings))
    server = harness.Server("survey answers", "civicvoice.app:create_app", env, health_path="/health")
    per_run = len(tokens) // 3

    def plan(name: str, run_id: int) -> harness.LoadPlan:
        return harness.LoadPlan(
            name=name,
            url=server.base_url + "/s/unused",
            make_body=SurveyAnswers(server.base_url, tokens, per_run),
            content_type="application/x-www-form-urlencoded",
            ok_statuses=frozenset({303}),
            concurrency=args.concurrency,
            warmup=args.warmup,
            duration=args.seconds,
            run_id=run_id,
            server_pid=server.pid,
        )

    with harness.running(server):
        before = harness.run_load(plan("without retention", 1))
        script = str(Path(__file__).resolve())
        command = [sys.executable, script, "--run-retention", "--retention-budget", str(args.retention_budget)]
        retention_env = dict(env)
        if args.retention_duty is not None:
            retention_env["CIVICVOICE_RETENTION_DUTY"] = str(args.retention_duty)
        retention = subprocess.Popen(
            command, env=harness._clean_env(retention_env), stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        assert retention.stdout is not None
        if retention.stdout.readline().strip() != b"started":  # imports done, its first batch under way
            raise harness.HarnessError(f"retention did not start: {retention.communicate()[1].decode()[-2000:]}")
        during = harness.run_load(plan("during retention", 2))
        if retention.poll() is not None:
            print(f"  {LABEL}: retention finished before the load did: the load measured it only in part")
        out, err = retention.communicate()
        if retention.returncode != 0:
            raise harness.HarnessError(f"retention failed: {err.decode()[-2000:]}")
        after = harness.run_load(plan("without retention (after)", 3))
    result = json.loads(out.decode().strip().splitlines()[-1])
    return result, float(result["seconds"]), [before, after], during


def run_retention(budget: float | None) -> int:
    """The daily retention job's work, in this process: prints "started" once its imports are done, then its counts
    and the seconds the run itself took, as JSON. With ``budget``, it stops after that many seconds."""
    from civicvoice.app import build_services, features
    from civicvoice.core.audit import Actor
    from civicvoice.core.commands import settings_from_env
    from civicvoice.core.db import create_engine, session_factory
    from civicvoice.core.services import Extensions
    from privacy.holds import LEGAL_HOLDS
    from privacy.retention import JOB_RUN_BATCHES, run

    settings = settings_from_env()

    async def work() -> dict[str, Any]:
        engine = create_engine(settings)
        try:
            services = await build_services(settings, session_factory(engine), features())
            holds = services.get(Extensions).items(LEGAL_HOLDS)  # as the daily job gets them
            print("started", flush=True)
            started = time.monotonic()
            counts: dict[str, int] = {}
            while True:  # as the daily job runs it: JOB_RUN_BATCHES a job run, the next run at once
                result = await run(
                    session_factory(engine), settings, holds, actor=Actor.cli(), max_batches=JOB_RUN_BATCHES
                )
                for table, count in result.counts.items():
                    counts[table] = counts.get(table, 0) + count
                if result.finished or (budget and time.monotonic() - started > budget):
                    break
            return {"counts": counts, "seconds": time.monotonic() - started, "finished": result.finished}
        finally:
            await engine.dispose()

    print(json.dumps(asyncio.run(work())), flush=True)
    return 0


def measure(subjects: int, cache: Path, args: argparse.Namespace) -> None:
    rng = random.Random(args.seed)  # noqa: S311 - which people are measured, not secrets
    workdir = Path(tempfile.mkdtemp(prefix="civicvoice-bench-privacy-"))
    stored, keys_json = stored_database(subjects, cache, workdir)
    run_name = f"civicvoice_bench_privacy_run_{os.getpid()}"
    small_name = f"civicvoice_bench_privacy_small_{os.getpid()}"
    try:
        started = time.monotonic()
        harness._admin(f'CREATE DATABASE "{run_name}" TEMPLATE "{stored}"')
        print(f"  copied {stored} for this run in {time.monotonic() - started:.0f} s", flush=True)
        run_url = harness.postgres_url(run_name)
        key_file = workdir / "run-keys.json"
        key_file.write_text(keys_json)
        key_file.chmod(0o600)
        settings = settings_for(run_url, workdir / "run-data", key_file)
        from civicvoice.cli import migrate_database

        migrate_database(settings)  # a database kept from an earlier version gets this one's schema (indexes)

        if "access" in args.parts:
            measure_access_and_erase(subjects, settings, workdir, small_name, args, rng)
        if "rotate" in args.parts:
            measure_rotation(settings)
        if "retention" in args.parts:
            measure_retention(settings, run_url, workdir, key_file, args)
    finally:
        for name in (run_name, small_name):
            harness._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        import shutil

        shutil.rmtree(workdir, ignore_errors=True)


def measure_access_and_erase(
    subjects: int, settings: Any, workdir: Path, small_name: str, args: argparse.Namespace, rng: random.Random
) -> None:
    harness._admin(f'CREATE DATABASE "{small_name}"')
    small_url = harness.postgres_url(small_name)
    small_keys, _ = prepare(small_url, workdir, small_name, None)
    asyncio.run(fill(small_url, SMALL, small_keys, workdir / "small-fill", open_invitations=0))
    small_settings = settings_for(small_url, workdir / "small-data", small_keys)

    small = asyncio.run(access_and_erase(small_settings, SMALL, args.samples, rng))
    big = asyncio.run(access_and_erase(settings, subjects, args.samples, rng))
    for what, target, note in (
        ("access", ACCESS_TARGET_MS, "find one person by email and build their access package"),
        ("erase", ERASE_TARGET_MS, "erase one person (key destruction and commit)"),
    ):
        ours, theirs = percentile(big[what], 0.95), percentile(small[what], 0.95)
        print(
            f"  {LABEL} {what}: {subjects:,} people p50 {statistics.median(big[what]):.1f} ms, "
            f"p95 {ours:.1f} ms; {SMALL:,} people p50 {statistics.median(small[what]):.1f} ms, "
            f"p95 {theirs:.1f} ms ({len(big[what])} each)",
            flush=True,
        )
        print(
            f"{LABEL}: {note}: p95 {ours:.1f} ms with {subjects:,} people (target < {target:g} ms), "
            f"{theirs:.1f} ms with {SMALL:,}, ratio {ours / theirs:.2f}",
            flush=True,
        )


def measure_rotation(settings: Any) -> None:
    keys, seconds, in_memory = asyncio.run(rewrap_all(settings))
    per_100k = seconds * 100_000 / max(1, keys)
    print(
        f"{LABEL}: keys rotate re-wrapped {keys:,} data keys in {seconds:.1f} s: {per_100k:.1f} s per 100,000 "
        f"(in memory alone {in_memory:.1f} s per 100,000, ratio {per_100k / in_memory:.2f})",
        flush=True,
    )


def measure_retention(settings: Any, run_url: str, workdir: Path, key_file: Path, args: argparse.Namespace) -> None:
    env = server_env(run_url, workdir / "run-data", key_file)
    counts, retention_seconds, baselines, during = retention_with_load(settings, env, args)
    rows = sum(int(v) for v in counts["counts"].values())
    detail = ", ".join(f"{table} {count:,}" for table, count in sorted(counts["counts"].items()))
    print(
        f"{LABEL}: retention anonymised {rows:,} rows in {retention_seconds:.1f} s"
        f"{'' if counts.get('finished', True) else ' (stopped there: --retention-budget)'}, "
        f"{rows / retention_seconds:,.0f} rows/s ({detail})",
        flush=True,
    )
    for result in (*baselines, during):
        print(
            f"  {LABEL} survey answers {result.name}: {result.requests_per_second:.1f} req/s, "
            f"p50 {result.p50_ms:.1f} ms, p99 {result.p99_ms:.1f} ms, errors {result.errors}",
            flush=True,
        )
    harness.print_errors(LABEL, {r.name: [r] for r in (*baselines, during)})
    baseline = statistics.median(r.p99_ms for r in baselines)
    print(
        f"{LABEL}: survey answer p99 during retention {during.p99_ms:.1f} ms, without {baseline:.1f} ms, "
        f"ratio {during.p99_ms / baseline:.2f} (target < {RETENTION_TARGET_RATIO:g})",
        flush=True,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--subjects", type=int, default=subjects_from_env(), help="People (default 1,000,000).")
    parser.add_argument("--cache", help="Where the kept database's keyring is kept.")
    parser.add_argument("--samples", type=int, default=SAMPLES, help="Packages built and people erased, each.")
    parser.add_argument("--seconds", type=float, default=10.0, help="Measured seconds per survey load (default 10).")
    parser.add_argument("--warmup", type=float, default=2.0, help="Warm-up seconds per survey load (default 2).")
    parser.add_argument("--concurrency", type=int, default=8, help="Survey answers in flight (default 8).")
    parser.add_argument("--seed", type=int, default=None, help="Which people are measured.")
    parser.add_argument(
        "--parts",
        type=lambda value: set(value.split(",")),
        default={"access", "rotate", "retention"},
        help="Which to measure, comma-separated: access (with erase), rotate, retention (default: all).",
    )
    parser.add_argument("--run-retention", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument(
        "--retention-budget",
        type=float,
        default=RETENTION_BUDGET,
        help=f"Stop the retention run after this many seconds (default {RETENTION_BUDGET:g}; 0: run it to the end); "
        "its rows/s then cover what it did.",
    )
    parser.add_argument(
        "--retention-duty",
        type=float,
        default=None,
        help="CIVICVOICE_RETENTION_DUTY for the retention run (default: the setting's default).",
    )
    args = parser.parse_args(argv)
    from civicvoice.core.logging import configure_logging

    configure_logging("WARNING", json=False)  # erasure and retention log each ledger entry and run at info
    if args.run_retention:
        return run_retention(args.retention_budget)
    if not harness.postgres_reachable():
        print(f"{LABEL}: skipped (PostgreSQL not reachable at BENCH_POSTGRES_URL={harness.PG_ADMIN_URL})")
        return 0
    print(f"{LABEL}: {args.subjects:,} data subjects, {args.subjects * RESPONSES_PER_PERSON:,} responses", flush=True)
    try:
        measure(args.subjects, cache_dir(args.cache), args)
    except harness.HarnessError as exc:
        print(f"{LABEL}: harness failed: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
