"""The privacy command groups: `civicvoice audit ...` (and the DPO's scripted commands as they arrive)."""

from __future__ import annotations

import asyncio
import json
import sys
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import click
from sqlalchemy.ext.asyncio import AsyncSession

from civicvoice.core.audit import Actor, record
from civicvoice.core.clock import utcnow
from civicvoice.core.commands import extensions, read_identifier, run_db, settings_from_env
from civicvoice.core.db import create_engine, session_factory
from civicvoice.core.errors import CivicVoiceError
from civicvoice.core.extensions import FILE_STORES
from privacy.access import PersonRecord, gather, prepare, release
from privacy.audit_chain import SealResult, Verification, publish_head, read_published_heads, seal_once, verify
from privacy.audit_reasons import operator, record_with_reason
from privacy.blind_index import normalise_email, normalise_external_id, normalise_phone
from privacy.closures import council_calendar
from privacy.erasure import ErasureResult, UnknownPerson, erase, reapply_erasures
from privacy.exceptions import InvalidIdentifier
from privacy.fulfilment import fulfil, link_person
from privacy.holds import HOLD_KINDS, LEGAL_HOLDS, HoldView, add_hold, all_holds, holds_of, release_hold
from privacy.index_rotation import IndexStatus, IndexStep, advance_index_rotation, index_status
from privacy.key_rotation import RotationStatus, RotationStep, active_since, advance_rotation, rotation_status
from privacy.keys import KeyStatus, check_keys, init_keys, load_keyring
from privacy.mentions import MentionScan, scan_summary, scans_for, start_scan
from privacy.rectification import Correction
from privacy.request_states import RequestKind, RequestState
from privacy.requests import QueueItem, Requester, acknowledge, find_request, move, open_request, queue
from privacy.restriction import lift, restrict, restrictions_of
from privacy.retention import RunResult as RetentionResult
from privacy.retention import report as retention_report
from privacy.retention import run as retention_run
from privacy.ropa import ropa_html, write_ropa_xlsx
from privacy.ropa import rows as ropa_rows
from privacy.search import Query, StaffRecord, find_staff, find_subjects, gather_staff, subject_summary
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

    async def work(session: AsyncSession) -> tuple[list[KeyStatus], RotationStatus, IndexStatus]:
        checks = await check_keys(session, keyring, record_new=False)
        return checks, await rotation_status(session, keyring, settings), await index_status(session, keyring)

    checks, rotation, index = run_db(settings, work)
    if as_json:
        document = {
            "checks": {c.purpose: c.state for c in checks},
            "rotation": rotation.as_dict(),
            "index_rotation": index.as_dict(),
        }
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
    click.echo(
        f"Index key rotation: {index.stage}" + (f" (to index key {index.rotating_to})" if index.rotating_to else "")
    )
    if index.rotating_to:
        click.echo(f"  people re-indexed: {index.reindexed} of {index.people}")
        if index.lacking:
            click.echo(f"  processes without the new index key: {', '.join(index.lacking)}")
        if index.contacts_under_old:
            click.echo(
                f"  contacts still found under the old index key: {index.contacts_under_old} "
                f"(past retention after {index.contacts_clear_after})"
            )


@keys.command("rotate")
@click.option(
    "--scheduled",
    is_flag=True,
    help="For a monthly timer: continue a rotation under way, start one only if the active KEK is 28 days old.",
)
@click.option("--as", "operator", default=None, help="The operator's staff email, recorded in the audit log.")
@click.option("--json", "as_json", is_flag=True, help="Print the step taken as one JSON object.")
@click.option(
    "--index",
    "index_key",
    is_flag=True,
    help="Rotate the blind-index key instead: add -> (every process loads it) -> activate and re-index everyone in "
    "the background -> (once contacts under the old key have expired) retire the old key.",
)
def keys_rotate_command(scheduled: bool, operator: str | None, as_json: bool, index_key: bool) -> None:
    """Rotate the key-encryption key in stages; run it again to move on (each run does the step that is due):
    add a new KEK -> (every process loads it) -> activate it and re-wrap every data key -> (after the backup
    window) destroy the retired KEK. With --index, the blind-index key the same way."""
    settings = settings_from_env()
    keyring = load_keyring(settings)
    actor = Actor("cli", operator) if operator else Actor.cli()
    if index_key:
        if scheduled:
            raise click.UsageError("--scheduled rotates the key-encryption key; rotate the index key by hand.")

        async def index_work(session: AsyncSession) -> IndexStep:
            return await advance_index_rotation(session, settings, actor=actor)

        index_step = run_db(settings, index_work)
        if as_json:
            click.echo(
                json.dumps(
                    {
                        "step": index_step.did,
                        "detail": index_step.detail,
                        "index_active": index_step.keyring.index_active,
                    }
                )
            )
        else:
            click.echo(index_step.detail)
        return

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


_PERSON_OPTIONS = (
    click.option("--email", default=None, help="The person's email address ('-' reads it from standard input)."),
    click.option("--phone", default=None, help="The person's phone number ('-' reads it from standard input)."),
    click.option("--ref", default=None, help="SOURCE:ID, the person's id in a contact system ('-': standard input)."),
    click.option("--subject", "subject_id", default=None, type=click.UUID, help="The person's civicvoice id."),
)


Command = TypeVar("Command", bound=Callable[..., Any])


def person_options(command: Command) -> Command:
    """--email, --phone, --ref and --subject: how a changing command names the one person it acts on."""
    for option in reversed(_PERSON_OPTIONS):
        command = option(command)
    return command


@privacy.command("erase")
@person_options
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
        target = await _one_person(session, vault, claim, subject_id)
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


# --- subject requests -----------------------------------------------------------------------------------------


@privacy.group("requests")
def requests_group() -> None:
    """Subject requests: the queue with ICO deadlines, opening and moving requests."""


@requests_group.command("list")
@click.option("--all", "include_closed", is_flag=True, help="Closed requests too.")
@click.option("--json", "as_json", is_flag=True, help="Print the queue as one JSON object.")
def requests_list_command(include_closed: bool, as_json: bool) -> None:
    """The DPO's queue: soonest due first, with days left and overdue requests."""
    settings = settings_from_env()

    async def work(session: AsyncSession) -> list[QueueItem]:
        return await queue(session, await council_calendar(session, settings), include_closed=include_closed)

    items = run_db(settings, work)
    if as_json:
        click.echo(json.dumps({"requests": [item.as_dict() for item in items]}))
        return
    if not items:
        click.echo("No open subject requests.")
    for item in items:
        due = f"due {item.due_on:%d %b %Y}" if item.due_on else "no due date yet"
        flag = "OVERDUE " if item.overdue else ""
        click.echo(f"{flag}{item.reference}  {item.kind.label}  {item.state.label}  {due}  ({item.label})")


@requests_group.command("open")
@click.option("--kind", type=click.Choice([k.value for k in RequestKind]), required=True)
@click.option("--name", required=True, help="The requester's name ('-' reads it from standard input).")
@click.option("--email", default=None, help="Their email address ('-' reads it from standard input).")
@click.option("--phone", default=None, help="Their phone number ('-' reads it from standard input).")
@click.option("--details", default="", help="What they asked for, in their words (stored encrypted).")
@click.option("--identity-check", is_flag=True, help="Identity must be proved first; the clock waits for it.")
@click.option("--received", type=click.DateTime(["%Y-%m-%d"]), default=None, help="Day received (default today).")
@click.option("--as", "operator_email", required=True, help="Your staff email, recorded in the audit log.")
@click.option("--json", "as_json", is_flag=True, help="Print the new request as one JSON object.")
def requests_open_command(
    kind: str,
    name: str,
    email: str | None,
    phone: str | None,
    details: str,
    identity_check: bool,
    received: datetime | None,
    operator_email: str,
    as_json: bool,
) -> None:
    """Record a request received by letter, phone or in person."""
    settings = settings_from_env()
    requester = Requester(
        name=read_identifier(name, "name"),
        email=read_identifier(email, "email address") if email else None,
        phone=read_identifier(phone, "phone number") if phone else None,
        details=details,
    )

    async def work(session: AsyncSession) -> dict[str, str | None]:
        actor = await operator(session, operator_email)
        vault = Vault(load_keyring(settings))
        request = await open_request(
            session,
            vault,
            await council_calendar(session, settings),
            kind=RequestKind(kind),
            requester=requester,
            channel="staff",
            actor=actor,
            identity_required=identity_check,
            received_at=received.replace(hour=12, tzinfo=UTC) if received else None,
        )
        await link_person(session, vault, request, actor=actor)
        return {
            "reference": request.reference,
            "state": request.state,
            "due_on": request.due_on.isoformat() if request.due_on else None,
        }

    opened = run_db(settings, work)
    if as_json:
        click.echo(json.dumps(opened))
    else:
        due = f", due {opened['due_on']}" if opened["due_on"] else "; the clock starts once identity is proved"
        click.echo(f"Opened {opened['reference']}{due}.")


@requests_group.command("move")
@click.argument("reference")
@click.option("--to", "target", type=click.Choice([s.value for s in RequestState]), required=True)
@click.option("--reason", default=None, help="Required to refuse or extend (stored encrypted).")
@click.option("--months", type=click.IntRange(1, 2), default=None, help="For an extension: 1 or 2 months.")
@click.option("--identity-method", default=None, help="How identity was checked, when moving it on from that.")
@click.option("--as", "operator_email", required=True, help="Your staff email, recorded in the audit log.")
def requests_move_command(
    reference: str,
    target: str,
    reason: str | None,
    months: int | None,
    identity_method: str | None,
    operator_email: str,
) -> None:
    """Move a request on: in_progress, on_hold (waiting for clarification), extended, completed, refused, ..."""
    settings = settings_from_env()

    async def work(session: AsyncSession) -> tuple[str, str | None]:
        actor = await operator(session, operator_email)
        request = await find_request(session, reference, lock=True)
        await move(
            session,
            Vault(load_keyring(settings)),
            await council_calendar(session, settings),
            request,
            RequestState(target),
            actor=actor,
            reason=reason,
            months=months,
            identity_method=identity_method,
        )
        return request.state, request.due_on.isoformat() if request.due_on else None

    state, due = run_db(settings, work)
    click.echo(f"{reference.upper()} is now {state.replace('_', ' ')}" + (f", due {due}." if due else "."))


# --- finding a person and giving them their information -------------------------------------------------------


async def _one_person(
    session: AsyncSession, vault: Vault, claim: IdentityClaim | None, subject_id: uuid.UUID | None
) -> uuid.UUID:
    if subject_id is not None:
        return subject_id
    assert claim is not None
    matches = await vault.find(session, claim)
    if not matches:
        raise UnknownPerson("No person matches that identifier (or they were erased).")
    people = set(matches.values())
    if len(people) > 1:
        raise UnknownPerson("That identifier matches more than one record; give --subject with the right id.")
    return people.pop()


def _query(email: str | None, phone: str | None, ref: str | None, name: str | None, staff: str | None) -> Query:
    given = {k: v for k, v in {"email": email, "phone": phone, "ref": ref, "name": name, "staff": staff}.items() if v}
    if len(given) != 1:
        raise click.UsageError("Give exactly one of --email, --phone, --ref, --name, --staff or --subject.")
    ((field_name, raw),) = given.items()
    what = {"email": "email address", "phone": "phone number", "ref": "reference", "name": "name", "staff": "email"}
    try:
        return Query.parse(field_name, read_identifier(raw, what[field_name]))
    except CivicVoiceError as exc:
        raise click.ClickException(exc.detail) from None


def _scan_line(scan: MentionScan) -> str:
    if scan.state == "done":
        return (
            f"Mentions scan {scan.id}: done, {scan.flagged} comment(s) by others flagged for review of {scan.scanned}."
        )
    return f"Mentions scan {scan.id}: {scan.state}, {scan.scanned} comments scanned so far ({scan.flagged} flagged)."


@privacy.command("find")
@click.option("--email", default=None, help="Email address ('-' reads it from standard input).")
@click.option("--phone", default=None, help="Phone number ('-' reads it from standard input).")
@click.option("--ref", default=None, help="SOURCE:ID in a contact system ('-' reads it from standard input).")
@click.option("--name", default=None, help="Full name, any case, accents or spacing ('-': standard input).")
@click.option("--staff", default=None, help="A staff member's email: their account and activity ('-': stdin).")
@click.option("--subject", "subject_id", default=None, type=click.UUID, help="The person's civicvoice id.")
@click.option(
    "--mentions",
    is_flag=True,
    help="Also start a background scan of comments by other people that mention them (reported when done).",
)
@click.option("--as", "operator_email", required=True, help="Your staff email, recorded in the audit log.")
@click.option("--json", "as_json", is_flag=True, help="Print what is held as one JSON object.")
def find_command(
    email: str | None,
    phone: str | None,
    ref: str | None,
    name: str | None,
    staff: str | None,
    subject_id: uuid.UUID | None,
    mentions: bool,
    operator_email: str,
    as_json: bool,
) -> None:
    """Everything held about a person, found through the data map (their comments decrypted); a staff member's
    account, the contacts and evaluations naming them as agent, and their audit entries with --staff. A name
    several people share lists them: run again with --subject."""
    settings = settings_from_env()
    if subject_id is not None and any((email, phone, ref, name, staff)):
        raise click.UsageError("Give exactly one of --email, --phone, --ref, --name, --staff or --subject.")
    query = None if subject_id is not None else _query(email, phone, ref, name, staff)

    async def work(session: AsyncSession) -> dict[str, Any]:
        vault = Vault(load_keyring(settings))
        actor = await operator(session, operator_email)
        if query is not None and query.field == "staff":
            user = await find_staff(session, query)
            if user is None:
                raise UnknownPerson("No staff account has that email.")
            found_staff = await gather_staff(session, user)
            scan = await start_scan(session, actor=actor, staff_user_id=user.id) if mentions else None
            record(session, actor, "privacy.find", target_kind="staff_user", target_id=user.id)
            return {"staff": found_staff, "scan": scan, "scans": await scans_for(session, staff_user_id=user.id)}
        if query is None:
            assert subject_id is not None
            people = [subject_id]
        else:
            people = await find_subjects(session, vault, query)
        if not people:
            raise UnknownPerson("No person matches that identifier (or they were erased).")
        if len(people) > 1:
            record(session, actor, "privacy.find", detail={"candidates": len(people)})
            return {"candidates": [await subject_summary(session, vault, p) for p in people]}
        found = await gather(session, vault, people[0])
        scan = await start_scan(session, actor=actor, subject_id=people[0]) if mentions else None
        record(session, actor, "privacy.find", target_kind="data_subject", target_id=people[0])
        return {"person": found, "scan": scan, "scans": await scans_for(session, subject_id=people[0])}

    result = run_db(settings, work)
    scans: list[MentionScan] = [s for s in result.get("scans", []) if s is not result.get("scan")]
    if "candidates" in result:
        if as_json:
            click.echo(json.dumps({"candidates": result["candidates"]}))
        else:
            click.echo(f"{len(result['candidates'])} people match; run again with --subject ID:")
            for candidate in result["candidates"]:
                if candidate.get("erased"):
                    click.echo(f"  {candidate['id']}  (erased)")
                else:
                    contact = ", ".join(candidate["emails"] + candidate["phones"]) or "no contact details"
                    seen = candidate["first_seen"]
                    click.echo(f"  {candidate['id']}  {candidate['name'] or ''}  ({contact}; first seen {seen})")
        sys.exit(2)
    scan: MentionScan | None = result.get("scan")
    if "staff" in result:
        staff_record: StaffRecord = result["staff"]
        if as_json:
            document = staff_record.as_json()
            document["mentions"] = [scan_summary(s) for s in ([scan] if scan else []) + scans]
            click.echo(json.dumps(document, default=str))
            return
        click.echo(
            f"Staff member {staff_record.staff_id}: {staff_record.identity['name']} ({staff_record.identity['role']})"
        )
        for section in staff_record.sections:
            click.echo(f"  {section.table}: {section.total} record(s)")
    else:
        found: PersonRecord = result["person"]
        if as_json:
            document = found.as_json()
            document["mentions"] = [scan_summary(s) for s in ([scan] if scan else []) + scans]
            click.echo(json.dumps(document, default=str))
            return
        click.echo(f"Person {found.subject_id}: {found.identity.get('name') or 'name not recorded'}")
        for person_section in found.sections:
            click.echo(f"  {person_section.table}: {len(person_section.rows)} record(s)")
        if found.flagged:
            click.echo(f"  {len(found.flagged)} comment(s) may name other people: review before release.")
    if scan is not None:
        click.echo(
            f"Mentions scan {scan.id} started: comments by others are scanned in the background; "
            "the search page and 'privacy find' show what it flags."
        )
    for earlier in scans:
        click.echo(_scan_line(earlier))


@privacy.command("access")
@click.argument("subject_id", required=False, type=click.UUID)
@click.option("--email", default=None, help="Find the person by email ('-' reads it from standard input).")
@click.option("--phone", default=None, help="Find the person by phone ('-' reads it from standard input).")
@click.option("--ref", default=None, help="Find the person by SOURCE:ID ('-' reads it from standard input).")
@click.option("--output", type=click.Path(dir_okay=False, writable=True, path_type=Path), required=True)
@click.option("--as", "operator_email", required=True, help="Your staff email, recorded in the audit log.")
def access_command(
    subject_id: uuid.UUID | None,
    email: str | None,
    phone: str | None,
    ref: str | None,
    output: Path,
    operator_email: str,
) -> None:
    """Prepare a person's access package (report, JSON, workbook) and write it to --output (the release is audited)."""
    settings = settings_from_env()
    claim = None if subject_id is not None else _claim(email, phone, ref)
    if output.exists():
        raise click.ClickException(f"{output} exists; choose a new file name (nothing was written).")

    async def work(session: AsyncSession) -> tuple[bytes, int]:
        vault = Vault(load_keyring(settings))
        actor = await operator(session, operator_email)
        person = await _one_person(session, vault, claim, subject_id)
        prepared = await prepare(session, settings, vault, person, actor=actor)
        content = await release(session, settings, vault, prepared.package.id, actor=actor)
        return content, len(prepared.flagged)

    content, flagged = run_db(settings, work)
    output.write_bytes(content)
    output.chmod(0o600)
    click.echo(f"Wrote {output} ({len(content):,} bytes).")
    if flagged:
        click.echo(f"{flagged} comment(s) may name other people: the report lists them; redact before sending.")


@privacy.command("ropa")
@click.option("--format", "kind", type=click.Choice(["xlsx", "html"]), default="xlsx", show_default=True)
@click.option("--output", type=click.Path(dir_okay=False, writable=True, path_type=Path), required=True)
def ropa_command(kind: str, output: Path) -> None:
    """Write the record of processing activities (Art. 30), generated from the data map."""
    from civicvoice.core.db import Base

    stores = extensions().items(FILE_STORES)
    now = utcnow()
    if kind == "xlsx":
        count = write_ropa_xlsx(output, Base, stores, created_by="civicvoice privacy ropa", now=now)
    else:
        output.write_text(ropa_html(Base, stores, now=now), encoding="utf-8")
        count = len(ropa_rows(Base, stores))
    click.echo(f"Wrote {output}: {count} processing activities.")


@requests_group.command("fulfil")
@click.argument("reference")
@click.option("--name", default=None, help="Rectification: the correct name ('-' reads it from standard input).")
@click.option("--old-email", default=None, help="Rectification: the wrong email address ('-': standard input).")
@click.option("--new-email", default=None, help="Rectification: the correct email address ('-': standard input).")
@click.option("--old-phone", default=None, help="Rectification: the wrong phone number ('-': standard input).")
@click.option("--new-phone", default=None, help="Rectification: the correct phone number ('-': standard input).")
@click.option(
    "--address", default=None, help="Rectification: the correct postal address, comma-separated, postcode last ('-')."
)
@click.option("--as", "operator_email", required=True, help="Your staff email, recorded in the audit log.")
def requests_fulfil_command(
    reference: str,
    name: str | None,
    old_email: str | None,
    new_email: str | None,
    old_phone: str | None,
    new_phone: str | None,
    address: str | None,
    operator_email: str,
) -> None:
    """Carry out an erasure, objection, access, portability or rectification request and complete it; for a
    restriction request, restrict the person's processing (completing the request later lifts it)."""
    settings = settings_from_env()
    holds = extensions().items(LEGAL_HOLDS)

    def given(value: str | None, what: str) -> str | None:
        return read_identifier(value, what) if value else None

    correction = Correction(
        name=given(name, "name"),
        old_email=given(old_email, "wrong email address"),
        new_email=given(new_email, "correct email address"),
        old_phone=given(old_phone, "wrong phone number"),
        new_phone=given(new_phone, "correct phone number"),
        address=given(address, "correct postal address"),
    )

    async def work(session: AsyncSession) -> tuple[str, str]:
        actor = await operator(session, operator_email)
        request = await find_request(session, reference, lock=True)
        done = await fulfil(
            session,
            Vault(load_keyring(settings)),
            await council_calendar(session, settings),
            settings,
            request,
            actor=actor,
            holds=holds,
            correction=correction,
        )
        return request.state, done.did

    state, did = run_db(settings, work)
    click.echo(f"{reference.upper()} {'completed' if state == 'completed' else 'is ' + state.replace('_', ' ')}. {did}")


@requests_group.command("acknowledge")
@click.argument("reference")
@click.option("--note", default=None, help="How it was acknowledged (stored encrypted).")
@click.option("--as", "operator_email", required=True, help="Your staff email, recorded in the audit log.")
def requests_acknowledge_command(reference: str, note: str | None, operator_email: str) -> None:
    """Record that a data-protection complaint was acknowledged (due within 30 days of receipt)."""
    settings = settings_from_env()

    async def work(session: AsyncSession) -> str:
        actor = await operator(session, operator_email)
        request = await find_request(session, reference, lock=True)
        await acknowledge(session, Vault(load_keyring(settings)), request, actor=actor, note=note)
        assert request.acknowledged_on is not None
        return request.acknowledged_on.isoformat()

    click.echo(f"{reference.upper()} acknowledged on {run_db(settings, work)}.")


@privacy.group("restrictions")
def restrictions_group() -> None:
    """Restrictions of processing (Art. 18): while one stands the person is not invited, sent to or exported."""


@restrictions_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the list as one JSON object.")
def restrictions_list_command(as_json: bool) -> None:
    """The restrictions standing now, oldest first (ids only: find the person with their request)."""
    settings = settings_from_env()

    async def work(session: AsyncSession) -> list[dict[str, str | None]]:
        return [
            {
                "id": str(r.id),
                "subject_id": str(r.subject_id),
                "request_id": str(r.request_id) if r.request_id else None,
                "placed_at": r.placed_at.isoformat(),
            }
            for r in await restrictions_of(session)
        ]

    standing = run_db(settings, work)
    if as_json:
        click.echo(json.dumps({"restrictions": standing}))
        return
    if not standing:
        click.echo("No restriction stands.")
    for item in standing:
        why = f"request {item['request_id']}" if item["request_id"] else "placed by the DPO"
        since = (item["placed_at"] or "")[:10]
        click.echo(f"{item['id']}  person {item['subject_id']}  since {since}  ({why})")


@restrictions_group.command("add")
@person_options
@click.option("--as", "operator_email", required=True, help="Your staff email, recorded in the audit log.")
def restrictions_add_command(
    email: str | None, phone: str | None, ref: str | None, subject_id: uuid.UUID | None, operator_email: str
) -> None:
    """Restrict a person's processing until it is lifted (without a request, e.g. while an objection is decided)."""
    settings = settings_from_env()
    claim = None if subject_id is not None else _claim(email, phone, ref)

    async def work(session: AsyncSession) -> str:
        actor = await operator(session, operator_email)
        target = await _one_person(session, Vault(load_keyring(settings)), claim, subject_id)
        return str((await restrict(session, target, actor=actor)).id)

    click.echo(f"Restriction {run_db(settings, work)} placed: no invitations, sends or exports for this person.")


@restrictions_group.command("lift")
@click.argument("restriction_id", type=click.UUID)
@click.option("--reason", required=True, help="Why it is lifted, without personal details (recorded).")
@click.option("--as", "operator_email", required=True, help="Your staff email, recorded in the audit log.")
def restrictions_lift_command(restriction_id: uuid.UUID, reason: str, operator_email: str) -> None:
    """Lift a restriction: the person is processed again (tell them first, Art. 18(3))."""
    settings = settings_from_env()

    async def work(session: AsyncSession) -> None:
        actor = await operator(session, operator_email)
        await lift(session, restriction_id, actor=actor, reason=reason)

    run_db(settings, work)
    click.echo(f"Restriction {restriction_id} lifted.")


# --- legal holds ----------------------------------------------------------------------------------------------


@privacy.group("holds")
def holds_group() -> None:
    """Legal holds: the DPO's own (add, release) and those features place (an open complaint case), read-only."""


def _hold_line(hold: HoldView) -> str:
    who = f"hold {hold.hold_id}" if hold.hold_id else "read-only"
    return f"{hold.subject_id}  {hold.kind}  {hold.reason}  [{hold.source}; {who}]"


@holds_group.command("list")
@click.option("--email", default=None, help="Only this person's holds ('-' reads the email from standard input).")
@click.option("--phone", default=None, help="Only this person's holds ('-': standard input).")
@click.option("--ref", default=None, help="Only this person's holds, by SOURCE:ID ('-': standard input).")
@click.option("--subject", "subject_id", default=None, type=click.UUID, help="Only this person's holds, by id.")
@click.option("--json", "as_json", is_flag=True, help="Print the holds as one JSON object.")
def holds_list_command(
    email: str | None, phone: str | None, ref: str | None, subject_id: uuid.UUID | None, as_json: bool
) -> None:
    """Every hold standing now (or one person's), with its reason; features' holds are shown read-only."""
    settings = settings_from_env()
    sources = extensions().items(LEGAL_HOLDS)
    claim = None if subject_id is not None or not any((email, phone, ref)) else _claim(email, phone, ref)

    async def work(session: AsyncSession) -> list[HoldView]:
        if claim is None and subject_id is None:
            return await all_holds(session, sources)
        target = await _one_person(session, Vault(load_keyring(settings)), claim, subject_id)
        return await holds_of(session, target, sources)

    holds = run_db(settings, work)
    if as_json:
        click.echo(json.dumps({"holds": [h.as_dict() for h in holds]}))
        return
    if not holds:
        click.echo("No legal holds.")
    for hold in holds:
        click.echo(_hold_line(hold))


@holds_group.command("add")
@person_options
@click.option("--kind", type=click.Choice(sorted(HOLD_KINDS)), required=True, help="What the hold is for.")
@click.option("--reason", required=True, help="A case or claim reference; no personal details ('-': stdin).")
@click.option("--as", "operator_email", required=True, help="Your staff email, recorded in the audit log.")
@click.option("--json", "as_json", is_flag=True, help="Print the new hold as one JSON object.")
def holds_add_command(
    email: str | None,
    phone: str | None,
    ref: str | None,
    subject_id: uuid.UUID | None,
    kind: str,
    reason: str,
    operator_email: str,
    as_json: bool,
) -> None:
    """Hold a person's records: erasure is refused with this reason and retention leaves them until released."""
    settings = settings_from_env()
    claim = None if subject_id is not None else _claim(email, phone, ref)
    text = read_identifier(reason, "reason")

    async def work(session: AsyncSession) -> dict[str, str]:
        actor = await operator(session, operator_email)
        target = await _one_person(session, Vault(load_keyring(settings)), claim, subject_id)
        hold = await add_hold(session, target, kind=kind, reason=text, actor=actor)
        return {"hold_id": str(hold.id), "subject_id": str(target), "kind": kind}

    added = run_db(settings, work)
    if as_json:
        click.echo(json.dumps(added))
    else:
        click.echo(f"Hold {added['hold_id']} placed on person {added['subject_id']} ({kind}).")


@holds_group.command("release")
@click.argument("hold_id", type=click.UUID)
@click.option("--reason", required=True, help="Why it is released (stored encrypted in the audit log).")
@click.option("--as", "operator_email", required=True, help="Your staff email, recorded in the audit log.")
@click.option("--json", "as_json", is_flag=True, help="Print the released hold as one JSON object.")
def holds_release_command(hold_id: uuid.UUID, reason: str, operator_email: str, as_json: bool) -> None:
    """Release one of the DPO's holds (features' holds end with what placed them, such as the case closing)."""
    settings = settings_from_env()
    text = read_identifier(reason, "reason")

    async def work(session: AsyncSession) -> dict[str, str]:
        actor = await operator(session, operator_email)
        hold = await release_hold(session, Vault(load_keyring(settings)), hold_id, reason=text, actor=actor)
        return {"hold_id": str(hold.id), "subject_id": str(hold.subject_id)}

    released = run_db(settings, work)
    if as_json:
        click.echo(json.dumps(released))
    else:
        click.echo(f"Hold {released['hold_id']} released.")
