"""The privacy command groups: `civicvoice audit ...` (and the DPO's scripted commands as they arrive)."""

from __future__ import annotations

import json
import sys

import click
from sqlalchemy.ext.asyncio import AsyncSession

from civicvoice.core.commands import run_db, settings_from_env
from privacy.audit_chain import SealResult, Verification, publish_head, read_published_heads, seal_once, verify
from privacy.keys import load_keyring


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
