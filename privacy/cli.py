"""The privacy command groups: `civicvoice audit ...` (and the DPO's scripted commands as they arrive)."""

from __future__ import annotations

import asyncio
import json
import sys
import uuid

import click
from sqlalchemy.ext.asyncio import AsyncSession

from civicvoice.core.audit import Actor
from civicvoice.core.clock import utcnow
from civicvoice.core.commands import extensions, read_identifier, run_db, settings_from_env
from civicvoice.core.db import create_engine, session_factory
from privacy.audit_chain import SealResult, Verification, publish_head, read_published_heads, seal_once, verify
from privacy.audit_reasons import operator, record_with_reason
from privacy.blind_index import normalise_email, normalise_external_id, normalise_phone
from privacy.erasure import ErasureResult, UnknownPerson, erase, reapply_erasures
from privacy.exceptions import InvalidIdentifier
from privacy.holds import LEGAL_HOLDS
from privacy.key_rotation import RotationStatus, RotationStep, active_since, advance_rotation, rotation_status
from privacy.keys import KeyStatus, check_keys, init_keys, load_keyring
from privacy.retention import RunResult as RetentionResult
from privacy.retention import report as retention_report
from privacy.retention import run as retention_run
from privacy.vault import IdentityClaim, Vault


@click.group("audit")
def audit() -> None:
    """The tamper-evident audit log."""


@audit.command("verify")
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object.")
def verify_command(as_json: bool) -> None:
    """Check the whole chain; exits non-zero and names the first broken, missing or reordered entry."""
    settings = settings_from_env()

    async def work(session: AsyncSession) -> Verification:
        return await verify(session, load_keyring(settings), published=read_published_heads(settings))

    result = run_db(settings, work)
    if as_json:
        click.echo(json.dumps(result.as_dict()))
    elif result.problem is None:
        span = f" ({result.first} to {result.last})" if result.checked else ""
        waiting = f", {result.unsealed} waiting to be sealed" if result.unsealed else ""
        click.echo(f"Audit log intact: {result.checked} sealed entries{span}{waiting}.")
    else:
        where = f" (id {result.problem.entry_id})" if result.problem.entry_id else ""
        click.echo(f"Audit log BROKEN at entry {result.problem.seq}{where}: {result.problem.detail}.", err=True)
    if not result.ok:
        sys.exit(1)


@audit.command("seal")
def seal_command() -> None:
    """Chain the entries committed since the last run now (the worker does this every minute)."""
    settings = settings_from_env()

    async def work(session: AsyncSession) -> SealResult | None:
        return await seal_once(session, load_keyring(settings))

    result = run_db(settings, work)
    if result is None:
        click.echo("Another sealer is running; nothing done.")
        return
    publish_head(settings, result.head)
    click.echo(f"Sealed {result.sealed} entries; the chain is at entry {result.head.seq}.")


# --- keys -----------------------------------------------------------------------------------------------------


@click.group("keys")
def keys() -> None:
    """Encryption keys: first-time set-up, status and staged rotation."""


@keys.command("init")
def keys_init_command() -> None:
    """Create a key file for a new, empty installation (never over existing data)."""
    settings = settings_from_env()
    _, created = run_db(settings, lambda s: init_keys(s, settings))
    if created:
        click.echo(f"Created key file {settings.key_file} (mode 0600). Back it up separately from the database.")
    else:
        click.echo("Keys are already configured.")


@keys.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print the status as one JSON object.")
def keys_status_command(as_json: bool) -> None:
    """Key versions, whether they match this database, the processes holding them and any rotation under way."""
    settings = settings_from_env()
    keyring = load_keyring(settings)

    async def work(session: AsyncSession) -> tuple[list[KeyStatus], RotationStatus]:
        checks = await check_keys(session, keyring, record_new=False)
        return checks, await rotation_status(session, keyring, settings)

    checks, rotation = run_db(settings, work)
    if as_json:
        document = {"checks": {c.purpose: c.state for c in checks}, "rotation": rotation.as_dict()}
        click.echo(json.dumps(document))
        return
    click.echo(f"Source: {'CIVICVOICE_KEYS' if settings.keys_json else settings.key_file}")
    click.echo(
        f"Active versions: kek {keyring.kek_active}, index {keyring.index_active}, "
        f"suppression {keyring.suppression_active}"
    )
    for status in checks:
        click.echo(f"  {status.purpose}: {status.state}")
    click.echo(f"Rotation: {rotation.stage}" + (f" (pending KEK {list(rotation.pending)})" if rotation.pending else ""))
    if rotation.to_rewrap:
        click.echo(f"  data keys still to re-wrap: {rotation.to_rewrap}")
    for version, at in sorted(rotation.retired.items()):
        click.echo(f"  KEK {version} retired {at:%Y-%m-%d}; destroyed after {settings.key_backup_window_days} days")
    click.echo("Processes (seen in the last 2 minutes):" if rotation.holders else "Processes: none running")
    for holder in rotation.holders:
        click.echo(
            f"  {holder.process} ({holder.role}): kek {list(holder.kek_versions)}, index {list(holder.index_versions)}"
        )


@keys.command("rotate")
@click.option(
    "--scheduled",
    is_flag=True,
    help="For a monthly timer: continue a rotation under way, start one only if the active KEK is 28 days old.",
)
@click.option("--as", "operator", default=None, help="The operator's staff email, recorded in the audit log.")
@click.option("--json", "as_json", is_flag=True, help="Print the step taken as one JSON object.")
def keys_rotate_command(scheduled: bool, operator: str | None, as_json: bool) -> None:
    """Rotate the key-encryption key in stages; run it again to move on (each run does the step that is due):
    add a new KEK -> (every process loads it) -> activate it and re-wrap every data key -> (after the backup
    window) destroy the retired KEK."""
    settings = settings_from_env()
    keyring = load_keyring(settings)
    actor = Actor("cli", operator) if operator else Actor.cli()

    async def work(session: AsyncSession) -> RotationStep:
        start = True
        if scheduled:
            since = await active_since(session, keyring)
            start = since is None or (utcnow() - since).days >= 28
        return await advance_rotation(session, settings, actor=actor, start=start)

    step = run_db(settings, work)
    if as_json:
        click.echo(json.dumps({"step": step.did, "detail": step.detail, "kek_active": step.keyring.kek_active}))
    else:
        click.echo(step.detail)


# --- the DPO's scripted commands ------------------------------------------------------------------------------


@click.group("privacy")
def privacy() -> None:
    """Data protection: erasure, re-applying erasures after a restore (more in `--help`)."""


def _claim(email: str | None, phone: str | None, ref: str | None) -> IdentityClaim:
    given = [v for v in (email, phone, ref) if v is not None]
    if len(given) != 1:
        raise click.UsageError("Give exactly one of --email, --phone, --ref or --subject.")
    try:
        if email is not None:
            return IdentityClaim(email=normalise_email(read_identifier(email, "email address")))
        if phone is not None:
            return IdentityClaim(phone=normalise_phone(read_identifier(phone, "phone number")))
        source, _, value = read_identifier(ref or "", "reference").partition(":")
        if not source or not value:
            raise click.UsageError("Give --ref as SOURCE:ID, for example crm:12345.")
        return IdentityClaim(external_id=normalise_external_id(source, value))
    except InvalidIdentifier as exc:
        raise click.ClickException(exc.detail) from None


@privacy.command("erase")
@click.option("--email", default=None, help="The person's email address ('-' reads it from standard input).")
@click.option("--phone", default=None, help="The person's phone number ('-' reads it from standard input).")
@click.option("--ref", default=None, help="SOURCE:ID, the person's id in a contact system ('-': standard input).")
@click.option("--subject", "subject_id", default=None, type=click.UUID, help="The person's civicvoice id.")
@click.option("--reason", required=True, help="Why (stored encrypted in the audit log).")
@click.option("--as", "operator_email", required=True, help="Your staff email, recorded in the audit log.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object.")
def erase_command(
    email: str | None,
    phone: str | None,
    ref: str | None,
    subject_id: uuid.UUID | None,
    reason: str,
    operator_email: str,
    as_json: bool,
) -> None:
    """Erase a person by destroying their data key; their comments and identity become unreadable at once."""
    settings = settings_from_env()
    claim = None if subject_id is not None else _claim(email, phone, ref)
    holds = extensions().items(LEGAL_HOLDS)

    async def work(session: AsyncSession) -> ErasureResult:
        vault = Vault(load_keyring(settings))
        actor = await operator(session, operator_email)
        target = subject_id
        if claim is not None:
            matches = await vault.find(session, claim)
            if not matches:
                raise UnknownPerson("No person matches that identifier (or they were erased already).")
            target = next(iter(matches.values()))
        assert target is not None
        result = await erase(session, settings, target, actor=actor, holds=holds)
        await record_with_reason(
            session, vault, actor, "privacy.erase.reason", reason=reason, target_kind="data_subject", target_id=target
        )
        return result

    result = run_db(settings, work)
    if as_json:
        document = {"subject_id": str(result.subject_id), "erased": result.erased, "on": result.erased_on.isoformat()}
        click.echo(json.dumps(document))
    elif result.erased:
        click.echo(f"Erased person {result.subject_id}: their data key is destroyed; ciphertext is purged shortly.")
    else:
        click.echo(f"Person {result.subject_id} was already erased on {result.erased_on:%d %B %Y}; nothing to do.")


@privacy.command("reapply-erasures")
@click.option("--as", "operator_email", default=None, help="Your staff email, recorded in the audit log.")
@click.option("--json", "as_json", is_flag=True, help="Print the counts as one JSON object.")
def reapply_command(operator_email: str | None, as_json: bool) -> None:
    """After restoring a backup: erase again everyone in the erasure ledger (the database's and the file's)."""
    settings = settings_from_env()

    async def work(session: AsyncSession) -> dict[str, int]:
        return await reapply_erasures(session, settings, actor=await operator(session, operator_email))

    counts = run_db(settings, work)
    if as_json:
        click.echo(json.dumps(counts))
    else:
        click.echo(f"{counts['ledger']} erasures in the ledger; {counts['reapplied']} re-applied to this database.")


@privacy.command("retention")
@click.option("--dry-run", is_flag=True, help="Report what is due and what is held back, and change nothing.")
@click.option("--as", "operator_email", default=None, help="Your staff email, recorded in the audit log.")
@click.option("--json", "as_json", is_flag=True, help="Print the report or the counts as one JSON object.")
def retention_command(dry_run: bool, operator_email: str | None, as_json: bool) -> None:
    """Enforce the retention schedule now (the worker does it daily), or with --dry-run report it."""
    settings = settings_from_env()
    holds = extensions().items(LEGAL_HOLDS)
    if dry_run:
        rows = run_db(settings, lambda session: retention_report(session, holds))
        if as_json:
            click.echo(json.dumps({"dry_run": True, "classes": [r.as_dict() for r in rows]}))
            return
        for row in rows:
            held = f", {row.held} held back ({', '.join(row.held_by)})" if row.held else ""
            click.echo(
                f"{row.label} [{row.table}]: {row.months} months (before {row.cutoff:%d %B %Y}), "
                f"{row.action} {row.due}{held}"
            )
        return

    async def work(session: AsyncSession) -> Actor:
        return await operator(session, operator_email)

    actor = run_db(settings, work)

    async def enforce() -> RetentionResult:
        engine = create_engine(settings)
        try:
            return await retention_run(session_factory(engine), settings, holds, actor=actor)
        finally:
            await engine.dispose()

    result = asyncio.run(enforce())
    if as_json:
        click.echo(json.dumps({"dry_run": False, "counts": result.counts, "keys_destroyed": result.keys_destroyed}))
    else:
        done = ", ".join(f"{table} {count}" for table, count in sorted(result.counts.items())) or "nothing was due"
        click.echo(f"Retention run: {done}; {result.keys_destroyed} period keys destroyed.")
