"""The privacy command groups: `civicvoice audit ...` (and the DPO's scripted commands as they arrive)."""

from __future__ import annotations

import json
import sys

import click
from sqlalchemy.ext.asyncio import AsyncSession

from civicvoice.core.audit import Actor
from civicvoice.core.clock import utcnow
from civicvoice.core.commands import run_db, settings_from_env
from privacy.audit_chain import SealResult, Verification, publish_head, read_published_heads, seal_once, verify
from privacy.key_rotation import RotationStatus, RotationStep, active_since, advance_rotation, rotation_status
from privacy.keys import KeyStatus, check_keys, init_keys, load_keyring


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
