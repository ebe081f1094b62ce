"""Contact intake on a full database: POST /api/v1/contacts against a database already holding 1,000,000
contacts, as a ratio to the same server on an empty database, measured in alternating rounds of the same run,
on SQLite and PostgreSQL. Target: 0.8 or better.

The stored history is made directly in SQL (a person for every two contacts, an email and a phone index each,
every third contact invited and its send job done), so no index or table is smaller than intake would have
made it. Making it takes minutes, so it is kept between runs: SQLite's file and PostgreSQL's database live in
the cache directory (``--cache``, default ``$BENCH_CACHE_DIR`` or ``~/.cache/civicvoice-bench``) and the
database ``civicvoice_bench_stored_<N>``, beside the keyring they were made with. Each run adds its measured
contacts to it, which leaves it as full as it was, or fuller.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sqlite3
import sys
import time
from pathlib import Path

import harness
from contacts_throughput import URL_PATH, contact_body, prepare_civicvoice

TARGET_RATIO = 0.8
DEFAULT_STORED = 1_000_000
CONTACTS_PER_PERSON = 2
INVITED_EVERY = 3  # every third stored contact was invited
HISTORY_START = "2024-12-01 00:00:00"  # stored contacts are a minute apart from here on (1,000,000: ~2 years)


def cache_dir(given: str | None) -> Path:
    path = Path(given or os.environ.get("BENCH_CACHE_DIR") or Path.home() / ".cache" / "civicvoice-bench")
    path.mkdir(parents=True, exist_ok=True)
    return path


# --- the stored history, in SQL -----------------------------------------------------------------------------

SQLITE_FILL = """
CREATE TEMP TABLE n (i INTEGER PRIMARY KEY);
WITH RECURSIVE c(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM c WHERE i < :stored - 1) INSERT INTO n SELECT i FROM c;
CREATE TEMP TABLE svc AS
    SELECT row_number() OVER (ORDER BY slug) - 1 AS k, id FROM service WHERE active AND NOT survey_excluded;
CREATE TEMP TABLE person (i INTEGER PRIMARY KEY, id BLOB);
INSERT INTO person SELECT i, randomblob(16) FROM n WHERE i < :people;
INSERT INTO data_subject (id, identity_ciphertext, created_at, last_contact_at, opted_out_at, do_not_survey, erased_at)
    SELECT id, randomblob(150), :start, :start, NULL, 0, NULL FROM person;
INSERT INTO data_key (id, subject_id, period, kek_version, wrapped, created_at, destroyed_at)
    SELECT randomblob(16), id, NULL, :kek, randomblob(60), :start, NULL FROM person;
INSERT INTO subject_index (id, subject_id, field, key_version, digest)
    SELECT randomblob(16), id, 'email', :index_version, randomblob(32) FROM person
    UNION ALL SELECT randomblob(16), id, 'phone', :index_version, randomblob(32) FROM person;
CREATE TEMP TABLE c AS
    SELECT n.i AS i, randomblob(16) AS id, randomblob(16) AS decision_id, randomblob(16) AS invitation_id,
           person.id AS subject_id, svc.id AS service_id,
           strftime('%Y-%m-%d %H:%M:%S', :start, '+' || (n.i * 60) || ' seconds') || '.000000' AS at,
           strftime('%Y-%m-%d %H:%M:%S', :start, '+' || (n.i * 60 + 7 * 86400) || ' seconds') || '.000000' AS until
    FROM n JOIN person ON person.i = n.i % :people JOIN svc ON svc.k = n.i % (SELECT count(*) FROM svc);
INSERT INTO contact (id, source, ref_key_version, ref_digest, subject_id, service_id, channel, occurred_at,
                     received_at, agent_ref, wait_seconds, handling_seconds, transferred, resolved_first_contact,
                     contact_preference, do_not_survey)
    SELECT id, 'history', :index_version, randomblob(32), subject_id, service_id, 'phone', at, at, 'agent-1', 60,
           300, 0, 1, NULL, 0 FROM c;
INSERT INTO invitation_decision (id, contact_id, subject_id, invite, reason, detail, rules_version, decided_at)
    SELECT decision_id, id, subject_id, i % :invited_every = 0,
           CASE WHEN i % :invited_every = 0 THEN 'invited' ELSE 'frequency_cap' END, 'stored history', 'history', at
    FROM c;
INSERT INTO invitation (id, contact_id, decision_id, subject_id, survey_version_id, channel, state, due_at,
                        expires_at, reminder_at, reminders_sent, send_attempts, message_ref, sent_at, responded_at,
                        failure, created_at)
    SELECT invitation_id, id, decision_id, subject_id, :version, 'email', 'sent', at, until, NULL, 0, 1, NULL, at,
           NULL, NULL, at FROM c WHERE i % :invited_every = 0;
INSERT INTO job (id, name, payload, dedupe_key, state, run_at, attempts, max_attempts, lease_until, worker,
                 last_error, created_at, finished_at)
    SELECT randomblob(16), 'invitations.send', '{"invitation_id": "' || lower(hex(invitation_id)) || '"}',
           'invitations.send:' || lower(hex(invitation_id)), 'done', at, 1, 8, NULL, NULL, NULL, at, at
    FROM c WHERE i % :invited_every = 0;
"""

POSTGRES_FILL = """
CREATE TEMP TABLE svc AS
    SELECT row_number() OVER (ORDER BY slug) - 1 AS k, id FROM service WHERE active AND NOT survey_excluded;
CREATE TEMP TABLE person AS SELECT i, gen_random_uuid() AS id FROM generate_series(0, {people} - 1) AS i;
INSERT INTO data_subject (id, identity_ciphertext, created_at, last_contact_at, opted_out_at, do_not_survey, erased_at)
    SELECT id, sha512(convert_to(id::text, 'UTF8')) || sha512(convert_to(i::text, 'UTF8')), {start}, {start}, NULL,
           false, NULL FROM person;
INSERT INTO data_key (id, subject_id, period, kek_version, wrapped, created_at, destroyed_at)
    SELECT gen_random_uuid(), id, NULL, {kek}, sha512(convert_to(id::text, 'UTF8')), {start}, NULL FROM person;
INSERT INTO subject_index (id, subject_id, field, key_version, digest)
    SELECT gen_random_uuid(), id, f, {index_version}, sha256(convert_to(f || random()::text || i, 'UTF8'))
    FROM person CROSS JOIN (VALUES ('email'), ('phone')) AS fields (f);
CREATE TEMP TABLE c AS
    SELECT n.i AS i, gen_random_uuid() AS id, gen_random_uuid() AS decision_id, gen_random_uuid() AS invitation_id,
           person.id AS subject_id, svc.id AS service_id, {start} + n.i * interval '1 minute' AS at
    FROM generate_series(0, {stored} - 1) AS n (i)
    JOIN person ON person.i = n.i % {people}
    JOIN svc ON svc.k = n.i % (SELECT count(*) FROM svc);
INSERT INTO contact (id, source, ref_key_version, ref_digest, subject_id, service_id, channel, occurred_at,
                     received_at, agent_ref, wait_seconds, handling_seconds, transferred, resolved_first_contact,
                     contact_preference, do_not_survey)
    SELECT id, 'history', {index_version}, sha256(convert_to(id::text, 'UTF8')), subject_id, service_id, 'phone', at,
           at, 'agent-1', 60, 300, false, true, NULL, false FROM c;
INSERT INTO invitation_decision (id, contact_id, subject_id, invite, reason, detail, rules_version, decided_at)
    SELECT decision_id, id, subject_id, i % {invited_every} = 0,
           CASE WHEN i % {invited_every} = 0 THEN 'invited' ELSE 'frequency_cap' END, 'stored history', 'history', at
    FROM c;
INSERT INTO invitation (id, contact_id, decision_id, subject_id, survey_version_id, channel, state, due_at,
                        expires_at, reminder_at, reminders_sent, send_attempts, message_ref, sent_at, responded_at,
                        failure, created_at)
    SELECT invitation_id, id, decision_id, subject_id, '{version}', 'email', 'sent', at, at + interval '7 days',
           NULL, 0, 1, NULL, at, NULL, NULL, at FROM c WHERE i % {invited_every} = 0;
INSERT INTO job (id, name, payload, dedupe_key, state, run_at, attempts, max_attempts, lease_until, worker,
                 last_error, created_at, finished_at)
    SELECT gen_random_uuid(), 'invitations.send', jsonb_build_object('invitation_id', invitation_id::text),
           'invitations.send:' || invitation_id::text, 'done', at, 1, 8, NULL, NULL, NULL, at, at
    FROM c WHERE i % {invited_every} = 0;
ANALYZE;
"""


def _facts(keys_json: str) -> dict[str, int]:
    from privacy.keyring import Keyring

    keyring = Keyring.from_json(keys_json, source="benchmark")
    return {"kek": keyring.kek_active, "index_version": keyring.index_active}


def record_key_checks(url: str, keys_json: str) -> None:
    """What the first start would record: the keyring's check values (a server refuses data without them)."""
    from civicvoice.core.db import create_engine, session_factory, unit_of_work
    from civicvoice.core.settings import Settings
    from privacy.keyring import Keyring
    from privacy.keys import check_keys

    async def run() -> None:
        engine = create_engine(Settings(database_url=url), pooled=False)
        try:
            async with unit_of_work(session_factory(engine)) as session:
                await check_keys(session, Keyring.from_json(keys_json, source="benchmark"), record_new=True)
        finally:
            await engine.dispose()

    asyncio.run(run())


def fill_sqlite(path: Path, stored: int, keys_json: str) -> None:
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        (version,) = connection.execute("SELECT id FROM survey_version WHERE status = 'published' LIMIT 1").fetchone()
        parameters = {
            "stored": stored,
            "people": stored // CONTACTS_PER_PERSON,
            "start": HISTORY_START,
            "invited_every": INVITED_EVERY,
            "version": version,
            **_facts(keys_json),
        }
        # Filling only: index pages stay in memory (random keys touch every page), nothing waits for the disk.
        connection.execute("PRAGMA cache_size = -1500000")
        connection.execute("PRAGMA synchronous = OFF")
        connection.execute("BEGIN IMMEDIATE")
        for statement in SQLITE_FILL.split(";"):
            if statement.strip():
                connection.execute(statement, {k: v for k, v in parameters.items() if f":{k}" in statement})
        connection.execute("COMMIT")
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        connection.close()


def fill_postgresql(url: str, stored: int, keys_json: str) -> None:
    import asyncpg  # type: ignore[import-untyped]

    async def run() -> None:
        connection = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
        try:
            version = await connection.fetchval("SELECT id FROM survey_version WHERE status = 'published' LIMIT 1")
            sql = POSTGRES_FILL.format(
                stored=int(stored),
                people=int(stored // CONTACTS_PER_PERSON),
                start=f"timestamptz '{HISTORY_START}+00'",
                invited_every=INVITED_EVERY,
                version=str(version),
                **_facts(keys_json),
            )
            async with connection.transaction():
                # Filling only: the rows are consistent by construction, so foreign-key triggers (most of the
                # time otherwise) are skipped; this needs the superuser the benchmark already uses.
                await connection.execute(
                    "SET LOCAL session_replication_role = replica; "
                    "SET LOCAL work_mem = '256MB'; SET LOCAL temp_buffers = '512MB'"
                )
                await connection.execute(sql)
        finally:
            await connection.close()

    asyncio.run(run())


def marker_path(cache: Path, backend: str, stored: int) -> Path:
    return cache / f"contacts-{stored}.{backend}.json"


def next_run_ids(cache: Path, backend: str, stored: int, count: int) -> int:
    """The first of ``count`` load-run ids no earlier run on the kept database used (their customers and
    external ids are in it: reusing them would make "new" contacts duplicates)."""
    marker = marker_path(cache, backend, stored)
    facts = json.loads(marker.read_text())
    first = int(facts.get("next_run_id", 1))
    facts["next_run_id"] = first + count
    marker.write_text(json.dumps(facts))
    return first


def stored_database(backend: str, stored: int, cache: Path, workdir: Path) -> tuple[str, str]:
    """The database holding ``stored`` contacts, made now unless the cache has it; returns (URL, keyring)."""
    marker = marker_path(cache, backend, stored)
    if backend == "sqlite":
        path = cache / f"contacts-{stored}.sqlite.db"
        url = f"sqlite+aiosqlite:///{path.as_posix()}"
    else:
        name = f"civicvoice_bench_stored_{stored}"
        url = harness.postgres_url(name)
    if marker.exists() and (backend == "postgresql" or path.exists()):
        return url, json.loads(marker.read_text())["keys"]

    from privacy.keyring import Keyring

    keys_json = Keyring.generate().to_json()
    started = time.monotonic()
    print(f"  making a {backend} database with {stored:,} stored contacts (kept for later runs) ...", flush=True)
    if backend == "sqlite":
        path.unlink(missing_ok=True)
        prepare_civicvoice(url, harness.data_dir(workdir, backend, "filling"), keys_json)
        record_key_checks(url, keys_json)
        fill_sqlite(path, stored, keys_json)
    else:
        harness._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        harness._admin(f'CREATE DATABASE "{name}"')
        prepare_civicvoice(url, harness.data_dir(workdir, backend, "filling"), keys_json)
        record_key_checks(url, keys_json)
        fill_postgresql(url, stored, keys_json)
    marker.touch(mode=0o600)  # it holds the keyring
    marker.write_text(json.dumps({"keys": keys_json, "next_run_id": 1}))
    print(f"  made in {time.monotonic() - started:.0f} s", flush=True)
    return url, keys_json


# --- one backend --------------------------------------------------------------------------------------------


def measurer(stored: int, cache: Path) -> harness.MeasureBackend:
    def measure_backend(
        backend: str, empty_url: str, _baseline_url: str, workdir: Path, args: argparse.Namespace
    ) -> None:
        label = f"contacts at scale {backend}"
        stored_url, keys_json = stored_database(backend, stored, cache, workdir)
        empty_env, empty_key = prepare_civicvoice(empty_url, harness.data_dir(workdir, backend, "civicvoice"))
        full_env, full_key = prepare_civicvoice(stored_url, harness.data_dir(workdir, backend, "stored"), keys_json)
        empty = harness.Server("empty", "civicvoice.app:create_app", empty_env)
        full = harness.Server(f"{stored:,} stored", "civicvoice.app:create_app", full_env)
        with harness.running(empty, full):
            plans = [
                harness.LoadPlan(
                    name=server.name,
                    url=server.base_url + URL_PATH,
                    make_body=contact_body,
                    headers={"authorization": f"Bearer {key}"},
                    concurrency=args.concurrency,
                    warmup=args.warmup,
                    duration=args.seconds,
                    server_pid=server.pid,
                )
                for server, key in ((empty, empty_key), (full, full_key))
            ]
            first = next_run_ids(cache, backend, stored, len(plans) * args.rounds)
            results = harness.alternate(plans, args.rounds, first_run_id=first)
        harness.print_rounds(label, results)
        harness.print_errors(label, results)
        harness.print_ratio(label, full.name, "empty", results, TARGET_RATIO)

    return measure_backend


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--stored", type=int, default=DEFAULT_STORED, help="Contacts already stored.")
    parser.add_argument("--cache", help="Where the stored databases' files and keyrings are kept.")
    own, rest = parser.parse_known_args(argv)
    return harness.run_benchmark(
        "contacts at scale",
        f"Contacts intake with {own.stored:,} contacts stored, against an empty database "
        "(also: --stored N, --cache DIR).",
        measurer(own.stored, cache_dir(own.cache)),
        rest,
    )


if __name__ == "__main__":
    sys.exit(main())
