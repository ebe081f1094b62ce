"""Retention: keep personal data no longer than its schedule says, enforced from the data map.

Each table declares a `RetentionRule` (a class, the column its period counts from, and an action); the DPO sets
each class's months (`retention_policy`, defaults below). A run first reports (counts per class, what is held
back and why), then works in bounded batches, each its own short transaction, so it never blocks the service, and
pauses between them so that it works at most ``Settings.retention_duty`` of the time (a quarter, by default).
Where the scorecard needs the facts it anonymises rather than deletes, so past months' figures do not change.
Legal holds exempt the people they cover. Every run is audited with its counts.
"""

from __future__ import annotations

import asyncio
import calendar
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import structlog
from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import String, and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from civicvoice.core.audit import Actor, AuditEvent, record
from civicvoice.core.clock import utcnow
from civicvoice.core.datamap import DataMapEntry, RetentionRule
from civicvoice.core.db import Base
from civicvoice.core.errors import InvalidInput
from civicvoice.core.settings import Settings
from privacy.audit_chain import prune_before
from privacy.datamap import data_map
from privacy.erasure import ErasureLedger, append_to_ledger_file, purge, shred
from privacy.holds import LegalHoldSource, held_people
from privacy.models import DataKey
from privacy.scrubbing import scrub_rows

log = structlog.get_logger("civicvoice.retention")

RETENTION_JOB = "privacy.retention"
BATCH = 500
# Batches a run of the daily job takes before it hands over to its next run (the job's lease stays short).
JOB_RUN_BATCHES = 20

# Months each class is kept; the DPO changes them in the staff UI (retention_policy).
DEFAULT_MONTHS: dict[str, int] = {
    "responses": 24,
    "contacts": 24,
    "identity": 24,
    "complaint_cases": 72,
    "subject_requests": 72,
    "audit_log": 72,
}
CLASS_LABELS: dict[str, str] = {
    "responses": "Survey responses and comments",
    "contacts": "Contact events and invitations",
    "identity": "People (identity, blind indexes, data keys) after their last contact",
    "complaint_cases": "Complaint cases after closure",
    "subject_requests": "Subject request records",
    "audit_log": "Audit log",
}


class RetentionPolicy(Base):
    """The months a retention class is kept, as the DPO set them."""

    __tablename__ = "retention_policy"
    __datamap__ = DataMapEntry(
        purpose="How long each class of personal data is kept, and who last changed it",
        holds=("staff id of who last changed it",),
        category="staff activity",
        lawful_basis="legal_obligation",
        retention="while the setting stands",
        subject_kind="staff",
        subject_link="updated_by",
    )

    retention_class: Mapped[str] = mapped_column(String(40), unique=True)
    months: Mapped[int]
    updated_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True), default=utcnow)
    updated_by: Mapped[str | None] = mapped_column(String(64))


async def retention_months(session: AsyncSession) -> dict[str, int]:
    months = dict(DEFAULT_MONTHS)
    for row in (await session.scalars(select(RetentionPolicy))).all():
        months[row.retention_class] = row.months
    return months


async def set_retention_months(session: AsyncSession, retention_class: str, months: int, *, actor: Actor) -> None:
    if retention_class not in DEFAULT_MONTHS:
        raise InvalidInput(
            f"Unknown retention class {retention_class!r}; the classes are {', '.join(DEFAULT_MONTHS)}.",
            field="retention_class",
        )
    if not 1 <= months <= 1200:
        raise InvalidInput("Give a whole number of months from 1 to 1200.", field="months")
    row = await session.scalar(select(RetentionPolicy).where(RetentionPolicy.retention_class == retention_class))
    before = row.months if row else DEFAULT_MONTHS[retention_class]
    if row is None:
        row = RetentionPolicy(retention_class=retention_class, months=months)
        session.add(row)
    row.months, row.updated_at, row.updated_by = months, utcnow(), actor.id
    record(
        session,
        actor,
        "privacy.retention_policy",
        target_kind="retention_class",
        target_id=retention_class,
        detail={"months": months, "before": before},
    )


def cutoff(now: datetime, months: int) -> datetime:
    """The same moment ``months`` calendar months earlier (the month's last day when there is no such day)."""
    years, month_index = divmod(now.month - 1 - months, 12)
    year, month = now.year + years, month_index + 1
    return now.replace(year=year, month=month, day=min(now.day, calendar.monthrange(year, month)[1]))


# --- what each rule selects ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    table: str
    entry: DataMapEntry
    rule: RetentionRule


def targets(base: Any = Base) -> list[Target]:
    found = []
    for name, entry in sorted(data_map(base).items()):
        if entry is not None and entry.retention_rule is not None:
            found.append(Target(name, entry, entry.retention_rule))
    # People are shredded last, so each class's rows are counted under their own rule first.
    return sorted(found, key=lambda target: target.rule.action == "shred")


def _due(base: Any, target: Target, before: datetime) -> Any:
    """Rows past their period and not yet dealt with by this rule."""
    table = base.metadata.tables[target.table]
    column = table.c[target.rule.counts_from]
    if target.rule.action == "shred":
        # A person never contacted again counts from when they were first seen.
        started = func.coalesce(column, table.c.created_at)
        return and_(started < before, table.c.erased_at.is_(None))
    past = column < before
    if target.rule.action == "anonymise":
        pending = [table.c[c].is_not(None) for c in target.entry.encrypted]
        link = target.entry.subject_link
        if link and link != "id":
            pending.append(table.c[link].is_not(None))
        return and_(past, or_(*pending)) if pending else past
    return past


def _person_column(base: Any, target: Target) -> Any:
    link = target.entry.subject_link
    if not link or target.entry.subject_kind != "customer":
        return None
    return base.metadata.tables[target.table].c[link]


# --- the report ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClassReport:
    table: str
    retention_class: str
    label: str
    months: int
    cutoff: datetime
    action: str
    due: int
    held: int
    held_by: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "class": self.retention_class,
            "label": self.label,
            "months": self.months,
            "cutoff": self.cutoff.isoformat(),
            "action": self.action,
            "due": self.due,
            "held": self.held,
            "held_by": self.held_by,
        }


async def report(
    session: AsyncSession, holds: Iterable[LegalHoldSource], *, now: datetime | None = None, base: Any = Base
) -> list[ClassReport]:
    """The dry run: per table and class, how many rows are due, and how many a legal hold keeps (and whose)."""
    now = now or utcnow()
    months = await retention_months(session)
    held = await held_people(session, holds)
    reports = []
    for target in targets(base):
        table = base.metadata.tables[target.table]
        klass = target.rule.retention_class
        before = cutoff(now, months.get(klass, DEFAULT_MONTHS.get(klass, 24)))
        where = _due(base, target, before)
        due = int(await session.scalar(select(func.count()).select_from(table).where(where)) or 0)
        person = _person_column(base, target)
        held_by: dict[str, int] = {}
        if person is not None and held and due:
            rows = await session.execute(
                select(person, func.count()).where(where, person.in_(list(held))).group_by(person)
            )
            for subject_id, count in rows:
                held_by[held[subject_id]] = held_by.get(held[subject_id], 0) + int(count)
        held_count = sum(held_by.values())
        reports.append(
            ClassReport(
                target.table,
                klass,
                CLASS_LABELS.get(klass, klass),
                months.get(klass, 24),
                before,
                target.rule.action,
                due - held_count,
                held_count,
                held_by,
            )
        )
    return reports


# --- the run ---------------------------------------------------------------------------------------------


@dataclass
class RunResult:
    counts: dict[str, int] = field(default_factory=dict)
    keys_destroyed: int = 0
    finished: bool = True

    def add(self, table: str, count: int) -> None:
        if count:
            self.counts[table] = self.counts.get(table, 0) + count


@dataclass(frozen=True)
class RunPlan:
    """What a run reads once and every batch uses: the months per class and the people under a legal hold; and,
    as it goes, the tables that had nothing more due, which its later batches do not ask again (what falls due
    meanwhile is the next run's)."""

    months: dict[str, int]
    held: frozenset[uuid.UUID]
    exhausted: set[str] = field(default_factory=set)


async def plan_run(session: AsyncSession, holds: Iterable[LegalHoldSource]) -> RunPlan:
    return RunPlan(await retention_months(session), frozenset(await held_people(session, holds)))


async def run_batch(
    session: AsyncSession,
    settings: Settings,
    holds: Iterable[LegalHoldSource],
    *,
    now: datetime | None = None,
    batch: int = BATCH,
    base: Any = Base,
    plan: RunPlan | None = None,
) -> RunResult:
    """One bounded step of every rule, in the caller's (short) transaction. ``finished`` is False while any rule
    still had a full batch, so the caller runs another step in a new transaction. ``plan`` is what the run read
    once (`run` passes it); without it the months and held people are read here."""
    now = now or utcnow()
    plan = plan or await plan_run(session, holds)
    months, held = plan.months, plan.held
    result = RunResult()
    for target in targets(base):
        if target.table in plan.exhausted:
            continue
        table = base.metadata.tables[target.table]
        before = cutoff(now, months.get(target.rule.retention_class, 24))
        where = _due(base, target, before)
        person = _person_column(base, target)
        if person is not None and held:
            where = and_(where, or_(person.is_(None), person.not_in(list(held))))
        if target.rule.action == "delete":
            if target.table == AuditEvent.__tablename__:
                # The audit chain is pruned up to a signed checkpoint, so what stays still verifies.
                result.add(target.table, await prune_before(session, before))
            continue
        due = select(table.c.id).where(where).limit(batch)
        if target.rule.action == "anonymise":
            # Oldest first: read through the table's retention index of rows that still name a person (the
            # planner would otherwise take a scan that passes over every row anonymised before these).
            due = due.order_by(table.c[target.rule.counts_from])
        ids = list((await session.scalars(due)).all())
        if len(ids) == batch:
            result.finished = False
        else:
            plan.exhausted.add(target.table)
        if not ids:
            continue
        if target.rule.action == "shred":
            await append_to_ledger_file(settings, [(subject_id, now.date()) for subject_id in ids])
            for subject_id in ids:
                await _expire_person(session, subject_id, now)
            result.add(target.table, len(ids))
        else:
            touched = await scrub_rows(session, base, target.table, table.c.id.in_(ids))
            result.add(target.table, touched.get(target.table, len(ids)))
            for other, count in touched.items():
                if other != target.table:
                    result.add(other, count)
    result.keys_destroyed = await _destroy_period_keys(session, now, months)
    return result


async def _expire_person(session: AsyncSession, subject_id: uuid.UUID, now: datetime) -> None:
    """A person past their identity period is shredded like an erasure (recorded in the same ledger, file first by
    the caller, so a restore from backup does not bring them back), then their remaining rows are scrubbed."""
    await shred(session, subject_id, now)
    if await session.scalar(select(ErasureLedger.id).where(ErasureLedger.erased_subject_id == subject_id)) is None:
        session.add(ErasureLedger(erased_subject_id=subject_id, erased_on=now.date()))
    await purge(session, subject_id)


async def _destroy_period_keys(session: AsyncSession, now: datetime, months: dict[str, int]) -> int:
    """Anonymous answers are kept under a key per month, audit reasons under a key per year: destroying the key
    once its period is past retention erases them all at once."""
    responses_before = cutoff(now, months["responses"]).strftime("%Y-%m")
    audit_before_year = cutoff(now, months["audit_log"]).year
    rows = (
        await session.scalars(select(DataKey).where(DataKey.period.is_not(None), DataKey.wrapped.is_not(None)))
    ).all()
    destroyed = 0
    for row in rows:
        assert row.period is not None
        if row.period.startswith("A-"):
            expired = int(row.period[2:]) < audit_before_year
        elif row.period[:4].isdigit():
            expired = row.period < responses_before
        else:
            expired = False
        if expired:
            await session.execute(update(DataKey).where(DataKey.id == row.id).values(wrapped=None, destroyed_at=now))
            destroyed += 1
    return destroyed


async def run(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    holds: Iterable[LegalHoldSource],
    *,
    actor: Actor,
    now: datetime | None = None,
    batch: int = BATCH,
    max_batches: int | None = None,
    pause: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> RunResult:
    """Whole run in bounded batches, each its own transaction; audited with the totals. The months and the held
    people are read once, before the first batch, and passed to each. Between batches it pauses (``pause``) for
    as long as ``settings.retention_duty`` asks."""
    holds = list(holds)
    total = RunResult()
    steps = 0
    async with sessions() as session, session.begin():
        plan = await plan_run(session, holds)
    while True:
        started = time.monotonic()
        async with sessions() as session, session.begin():
            step = await run_batch(session, settings, holds, now=now, batch=batch, plan=plan)
        worked = time.monotonic() - started
        for table, count in step.counts.items():
            total.add(table, count)
        total.keys_destroyed += step.keys_destroyed
        steps += 1
        if step.finished:
            break
        if max_batches is not None and steps >= max_batches:
            total.finished = False
            break
        # Give way: the service's requests share the database and the CPU with this run (as autovacuum's cost
        # delay does for PostgreSQL's own upkeep). A run over a backlog takes longer; the survey pages do not slow.
        await pause(worked * (1.0 - settings.retention_duty) / settings.retention_duty)
    async with sessions() as session, session.begin():
        record(
            session,
            actor,
            "privacy.retention_run",
            detail={"counts": total.counts, "keys_destroyed": total.keys_destroyed, "finished": total.finished},
        )
    log.info("retention_run", counts=total.counts, keys_destroyed=total.keys_destroyed, finished=total.finished)
    return total
