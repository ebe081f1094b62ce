"""Keeping scorecard rollups current, and rebuilding them from raw rows.

The hot paths pay nothing: upkeep reads new contacts, responses and comment scores past a watermark on their
UUIDv7 ids (which grow with time), lagging a few seconds so a transaction still open is not skipped. Records
that change rather than arrive (an invitation sent, a comment reviewed, a case closed, a callback made, an
evaluation or improvement link added) leave a mark in the same transaction, written by a flush listener. Each
upkeep step folds a bounded batch of both into the months and services they touch and recomputes, from raw rows
with the same queries a rebuild uses, the parts of those months' counters they can change (an answered survey
the contact figures, a scored comment the sentiment), so upkeep and rebuild cannot disagree. The worker reads and
recomputes as a reader and writes the result in a short transaction of its own. A daily run marks the last two
months again in full, catching any transaction that stayed open past the lag.

Repeat-contact flags are set here too, once a contact's window has closed, and stored on the contact.
"""

from __future__ import annotations

import time
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Final

import structlog
from sqlalchemy import ColumnElement, and_, delete, event, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, attributes

from civicvoice.core.clock import utcnow
from civicvoice.core.db import locked, read_only
from civicvoice.core.errors import InvalidInput
from feedback.actions import ActionLink
from feedback.callbacks import Callback
from feedback.cases import ComplaintCase
from feedback.demand import DemandTag
from feedback.models import CommentClassification, CommentScore
from feedback.quality import Evaluation
from feedback.scorecard.formulas import PersonContact, RepeatPolicy, ServiceLevelThresholds, repeat_flags
from feedback.scorecard.models import RollupMark, ScorecardRollup, UpkeepWatermark
from feedback.scorecard.rollups import (
    ALL_PARTS,
    Key,
    compute_month,
    month_bounds,
    month_start,
    next_month,
    previous_month,
    replace_month,
    store_month,
)
from privacy.retention import cutoff, retention_months
from surveys.models import Contact, Invitation, Response, Service

log = structlog.get_logger("civicvoice.scorecard")

BATCH: Final = 5000
# A step reads at most this many batches of each source's new rows (the reader holds only their months' keys).
BATCHES_PER_STEP: Final = 20
# New rows are read only once their id is this old, so a transaction that committed late is not passed over.
LAG: Final = timedelta(seconds=10)
# Callbacks that became overdue are found through this watermark (a time, kept as the smallest id of that time).
CALLBACKS_DUE: Final = "callbacks_due"
DEFAULT_REPEAT: Final = RepeatPolicy()


class OutsideRetention(InvalidInput):
    slug = "scorecard-month-outside-retention"
    title = "Month outside retention"


def id_floor(moment: datetime) -> uuid.UUID:
    """The smallest UUIDv7 of a moment: every id made at or after it sorts at or above it."""
    return uuid.UUID(int=int(moment.timestamp() * 1000) << 80)


def id_moment(value: uuid.UUID) -> datetime:
    return datetime.fromtimestamp((value.int >> 80) / 1000, tz=utcnow().tzinfo)


# --- marks left by changes, in the changing transaction ------------------------------------------------------


def _changed(obj: Any, name: str) -> bool:
    return bool(attributes.get_history(obj, name).added)


@event.listens_for(Session, "before_flush")
def _mark_changes(session: Session, flush_context: Any, instances: Any) -> None:
    marks: list[RollupMark] = []
    for obj in session.new:
        if isinstance(obj, Evaluation):
            marks.append(RollupMark(kind="evaluation", ref_id=obj.contact_id))
        elif isinstance(obj, ActionLink):
            marks.append(RollupMark(kind="case", ref_id=obj.case_id))
        elif isinstance(obj, DemandTag) and obj.service_id is not None:
            marks.append(RollupMark(kind="demand", month=obj.month, service_id=obj.service_id))
        # Records made already reviewed, closed or done (an import, a test's data) count at once as well.
        elif isinstance(obj, CommentClassification) and obj.reviewed_class is not None:
            marks.append(RollupMark(kind="response", ref_id=obj.response_id))
        elif isinstance(obj, ComplaintCase) and obj.closed_at is not None:
            marks.append(RollupMark(kind="case", ref_id=obj.id))
        elif isinstance(obj, Callback) and obj.done_at is not None:
            marks.append(RollupMark(kind="callback", ref_id=obj.id))
    for obj in session.dirty:
        if isinstance(obj, Invitation) and _changed(obj, "sent_at") and obj.contact_id is not None:
            marks.append(RollupMark(kind="invitation", ref_id=obj.contact_id))
        elif isinstance(obj, CommentClassification) and _changed(obj, "reviewed_class"):
            marks.append(RollupMark(kind="response", ref_id=obj.response_id))
        elif isinstance(obj, ComplaintCase) and _changed(obj, "closed_at"):
            marks.append(RollupMark(kind="case", ref_id=obj.id))
        elif isinstance(obj, Callback) and _changed(obj, "done_at"):
            marks.append(RollupMark(kind="callback", ref_id=obj.id))
        elif isinstance(obj, DemandTag) and _changed(obj, "demand_type") and obj.service_id is not None:
            marks.append(RollupMark(kind="demand", month=obj.month, service_id=obj.service_id))
    if marks:
        session.add_all(marks)


# --- retention --------------------------------------------------------------------------------------------------


async def retention_start(session: AsyncSession, now: datetime) -> date:
    """The first month whose raw rows are all still kept: earlier ones are anonymised in part and keep their
    rollups as they were."""
    months = await retention_months(session)
    before = cutoff(now, min(months.get("contacts", 24), months.get("responses", 24)))
    first = month_start(before)
    return first if month_bounds(first)[0] >= before else next_month(first)


async def require_in_retention(session: AsyncSession, month: date, now: datetime) -> None:
    first = await retention_start(session, now)
    if month < first:
        raise OutsideRetention(
            f"{month:%Y-%m} is outside retention: contacts and responses before {first:%Y-%m} have been "
            "anonymised in part, so a rebuild from raw rows would change the figures reported at the time. "
            "Its rollups are kept as they are.",
            field="month",
        )


# --- rebuild ----------------------------------------------------------------------------------------------------


@dataclass
class RebuildResult:
    month: date
    services: int = 0
    rows: int = 0


async def rebuild_month(
    session: AsyncSession,
    month: date,
    *,
    thresholds: ServiceLevelThresholds,
    now: datetime | None = None,
    service_ids: Iterable[uuid.UUID] | None = None,
) -> RebuildResult:
    """Recompute a month inside retention from raw rows (all services, or those given) in the caller's unit of
    work; refuses a month outside retention, whose rollups stay."""
    now = now or utcnow()
    month = month_start(month)
    await require_in_retention(session, month, now)
    ids = list(service_ids) if service_ids is not None else list((await session.scalars(select(Service.id))).all())
    result = RebuildResult(month)
    for service_id in ids:
        result.rows += await store_month(session, month, service_id, thresholds=thresholds, now=now)
        result.services += 1
    return result


async def fill_history(
    session: AsyncSession,
    *,
    thresholds: ServiceLevelThresholds,
    now: datetime | None = None,
    policy: RepeatPolicy = DEFAULT_REPEAT,
) -> list[RebuildResult]:
    """Bring every month from the first contact to now up to date, for a freshly loaded database (the demo):
    repeat flags on every closed window, forecasts as they would have been frozen, then all rollups and the
    outlook of the coming months; upkeep's watermarks move past what was loaded."""
    # forecasting reads rollups this module writes
    from feedback.scorecard.forecasting import freeze_forecasts, refresh_outlook

    now = now or utcnow()
    while (await set_repeat_flags(session, now=now, policy=policy)).flagged:
        pass
    first_moment = await session.scalar(select(func.min(Contact.occurred_at)))
    if first_moment is None:
        return []
    first = max(month_start(first_moment), await retention_start(session, now))
    results = []
    month, last = first, month_start(now)
    while month <= last:
        results.append(await rebuild_month(session, month, thresholds=thresholds, now=now))
        month = next_month(month)
    # Forecasts need the rollups of the months before them; each month's WAPE then reads its frozen forecast.
    month = next_month(first)
    while month <= next_month(last):
        await freeze_forecasts(session, month, now=now)
        month = next_month(month)
    await refresh_outlook(session, now=now)
    ceiling = id_floor(now - LAG)
    _move_watermarks(session, await _watermark_rows(session), {source.name: ceiling for source in _SOURCES})
    await session.execute(delete(RollupMark))
    return results


# --- repeat-contact flags ----------------------------------------------------------------------------------------


@dataclass
class FlagResult:
    flagged: int = 0
    repeats: int = 0
    keys: set[tuple[date, uuid.UUID]] = field(default_factory=set)


def _flag_due(now: datetime, policy: RepeatPolicy) -> ColumnElement[bool]:
    """Contacts whose repeat window has closed and whose flag is not stored yet."""
    return and_(Contact.repeat_contact.is_(None), Contact.occurred_at <= now - policy.window)


async def set_repeat_flags(
    session: AsyncSession, *, now: datetime, policy: RepeatPolicy = DEFAULT_REPEAT, batch: int = BATCH
) -> FlagResult:
    """Store the repeat flag of the oldest contacts whose window has closed (a bounded batch).

    A contact with no known person cannot be repeated by anyone we can recognise: its flag is False.
    """
    due = (
        await session.execute(
            select(Contact.id, Contact.subject_id, Contact.occurred_at, Contact.service_id)
            .where(_flag_due(now, policy))
            .order_by(Contact.occurred_at)
            .limit(batch)
        )
    ).all()
    result = FlagResult()
    if not due:
        return result
    flags: dict[uuid.UUID, bool] = {}
    people: dict[uuid.UUID, list[Any]] = defaultdict(list)
    for row in due:
        if row.subject_id is None:
            flags[row.id] = False
        else:
            people[row.subject_id].append(row)
    subject_ids = list(people)
    for chunk_start in range(0, len(subject_ids), 500):
        chunk = subject_ids[chunk_start : chunk_start + 500]
        earliest = min(row.occurred_at for s in chunk for row in people[s])
        latest = max(row.occurred_at for s in chunk for row in people[s]) + policy.window
        around = (
            await session.execute(
                select(Contact.id, Contact.subject_id, Contact.occurred_at, Contact.service_id)
                .where(Contact.subject_id.in_(chunk), Contact.occurred_at >= earliest, Contact.occurred_at <= latest)
                .order_by(Contact.subject_id, Contact.occurred_at, Contact.id)
            )
        ).all()
        by_person: dict[uuid.UUID, list[Any]] = defaultdict(list)
        for row in around:
            by_person[row.subject_id].append(row)
        for subject_id in chunk:
            timeline = by_person[subject_id]
            found = repeat_flags(
                [PersonContact(row.occurred_at, str(row.service_id)) for row in timeline], now=now, policy=policy
            )
            wanted = {row.id for row in people[subject_id]}
            for row, flag in zip(timeline, found, strict=True):
                if row.id in wanted:
                    flags[row.id] = bool(flag)
    for value in (True, False):
        ids = [contact_id for contact_id, flag in flags.items() if flag is value]
        for start in range(0, len(ids), 1000):
            await session.execute(
                update(Contact)
                .where(Contact.id.in_(ids[start : start + 1000]))
                .values(repeat_contact=value)
                .execution_options(synchronize_session=False)
            )
    result.flagged = len(flags)
    result.repeats = sum(flags.values())
    result.keys = {(month_start(row.occurred_at), row.service_id) for row in due}
    return result


# --- upkeep --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Source:
    name: str
    table: Any


_SOURCES: Final = (_Source("contact", Contact), _Source("response", Response), _Source("comment_score", CommentScore))


async def _keys_of_responses(session: AsyncSession, ids: list[uuid.UUID]) -> set[tuple[date, uuid.UUID]]:
    keys: set[tuple[date, uuid.UUID]] = set()
    for start in range(0, len(ids), 1000):
        rows = (
            await session.execute(
                select(Response.submitted_at, Response.service_id, Contact.occurred_at, Contact.service_id)
                .select_from(Response)
                .outerjoin(Invitation, Invitation.id == Response.invitation_id)
                .outerjoin(Contact, Contact.id == Invitation.contact_id)
                .where(Response.id.in_(ids[start : start + 1000]))
            )
        ).all()
        for submitted_at, service_id, occurred_at, contact_service in rows:
            if occurred_at is not None:
                keys.add((month_start(occurred_at), contact_service))
            elif service_id is not None:
                keys.add((month_start(submitted_at), service_id))
    return keys


async def _keys_of_contacts(session: AsyncSession, ids: list[uuid.UUID]) -> set[tuple[date, uuid.UUID]]:
    keys: set[tuple[date, uuid.UUID]] = set()
    for start in range(0, len(ids), 1000):
        rows = await session.execute(
            select(Contact.occurred_at, Contact.service_id).where(Contact.id.in_(ids[start : start + 1000]))
        )
        keys.update((month_start(occurred), service_id) for occurred, service_id in rows)
    return keys


# What each kind of mark changes: the parts of its month's counters to recompute. A "contact" or "month" mark
# (the daily run's, and those left by earlier versions) asks for all of them.
MARK_PARTS: Final[dict[str, frozenset[str]]] = {
    "invitation": frozenset({"contacts"}),
    "repeat": frozenset({"contacts"}),
    "evaluation": frozenset({"quality"}),
    "response": frozenset({"compliments"}),
    "case": frozenset({"cases"}),
    "callback": frozenset({"callbacks"}),
    "demand": frozenset({"demand"}),
    "contact": ALL_PARTS,
    "month": ALL_PARTS,
}
# What each new row changes: a contact or an answered survey the contact figures, a comment's score the sentiment.
SOURCE_PARTS: Final[dict[str, frozenset[str]]] = {
    "contact": frozenset({"contacts"}),
    "response": frozenset({"contacts"}),
    "comment_score": frozenset({"sentiment"}),
}
_CONTACT_MARKS: Final = frozenset({"contact", "invitation", "evaluation"})

Touched = dict[tuple[date, uuid.UUID], set[str]]


def _touch(touched: Touched, keys: Iterable[tuple[date, uuid.UUID]], parts: Iterable[str]) -> None:
    for key in keys:
        touched.setdefault(key, set()).update(parts)


async def _touched_by_marks(session: AsyncSession, marks: list[RollupMark]) -> Touched:
    touched: Touched = {}
    by_kind: dict[str, list[uuid.UUID]] = defaultdict(list)
    for mark in marks:
        parts = MARK_PARTS.get(mark.kind, ALL_PARTS)
        if mark.month is not None and mark.service_id is not None:
            _touch(touched, [(mark.month, mark.service_id)], parts)
        elif mark.ref_id is not None:
            by_kind[mark.kind].append(mark.ref_id)
    for kind in _CONTACT_MARKS:
        _touch(touched, await _keys_of_contacts(session, by_kind[kind]), MARK_PARTS[kind])
    _touch(touched, await _keys_of_responses(session, by_kind["response"]), MARK_PARTS["response"])
    if by_kind["case"]:
        rows = await session.execute(
            select(ComplaintCase.closed_at, ComplaintCase.service_id).where(ComplaintCase.id.in_(by_kind["case"]))
        )
        keys = [(month_start(closed), service) for closed, service in rows if closed and service]
        _touch(touched, keys, MARK_PARTS["case"])
    if by_kind["callback"]:
        rows = await session.execute(
            select(Callback.due_at, Callback.service_id).where(Callback.id.in_(by_kind["callback"]))
        )
        _touch(touched, [(month_start(due), service) for due, service in rows if service], MARK_PARTS["callback"])
    return touched


@dataclass
class UpkeepResult:
    read: int = 0
    recomputed: int = 0
    flagged: int = 0
    skipped_outside_retention: int = 0
    finished: bool = True


@dataclass
class UpkeepPlan:
    """What one step read and recomputed, for a short transaction of its own to write (`apply_plan`)."""

    now: datetime
    result: UpkeepResult
    # Every watermark as the step read it (None: no row yet), so the write can tell whether another run moved one.
    seen: dict[str, uuid.UUID | None]
    moved: dict[str, uuid.UUID] = field(default_factory=dict)
    mark_ids: list[uuid.UUID] = field(default_factory=list)
    # Per month and service: the parts recomputed and their counters.
    computed: dict[tuple[date, uuid.UUID], tuple[frozenset[str], dict[Key, dict[str, int]]]] = field(
        default_factory=dict
    )
    changed: bool = False  # anything to write: a source moved, a mark to clear, a month touched


_WATERMARKS: Final = (*(source.name for source in _SOURCES), CALLBACKS_DUE)


async def _watermark_rows(session: AsyncSession, *, lock: bool = False) -> dict[str, UpkeepWatermark]:
    query = select(UpkeepWatermark).where(UpkeepWatermark.source.in_(_WATERMARKS))
    rows = await session.scalars(locked(query) if lock else query)
    return {row.source: row for row in rows}


def _move_watermarks(session: AsyncSession, rows: dict[str, UpkeepWatermark], moved: dict[str, uuid.UUID]) -> None:
    """Set watermarks (``rows``: those that exist, from `_watermark_rows`)."""
    for name, value in moved.items():
        if name in rows:
            rows[name].last_id, rows[name].updated_at = value, utcnow()
        else:
            session.add(UpkeepWatermark(source=name, last_id=value))


async def plan_step(
    session: AsyncSession,
    *,
    thresholds: ServiceLevelThresholds,
    now: datetime | None = None,
    batch: int = BATCH,
    lag: timedelta = LAG,
) -> UpkeepPlan:
    """Read the new rows (up to `BATCHES_PER_STEP` batches a source) and a batch of marks, and recompute the parts of
    the months they touch, writing nothing: on SQLite this runs as a reader, so the submissions it competes with
    keep the writer lock to themselves."""
    now = now or utcnow()
    ceiling = id_floor(now - lag)
    seen: dict[str, uuid.UUID | None] = dict.fromkeys(_WATERMARKS)
    seen.update({name: row.last_id for name, row in (await _watermark_rows(session)).items()})
    plan = UpkeepPlan(now=now, result=UpkeepResult(), seen=seen)
    result = plan.result
    touched: Touched = {}
    for source in _SOURCES:
        after = seen[source.name] or uuid.UUID(int=0)
        # Every new row up to the ceiling, a batch at a time, before any month is recomputed: a busy quarter of a
        # minute is folded into one recomputation per month and service, not one per batch.
        for _ in range(BATCHES_PER_STEP):
            ids = list(
                (
                    await session.scalars(
                        select(source.table.id)
                        .where(source.table.id > after, source.table.id < ceiling)
                        .order_by(source.table.id)
                        .limit(batch)
                    )
                ).all()
            )
            if not ids:
                break
            result.read += len(ids)
            if source.table is Contact:
                keys = await _keys_of_contacts(session, ids)
            elif source.table is Response:
                keys = await _keys_of_responses(session, ids)
            else:
                response_ids = list(
                    (await session.scalars(select(CommentScore.response_id).where(CommentScore.id.in_(ids)))).all()
                )
                keys = await _keys_of_responses(session, list(set(response_ids)))
            _touch(touched, keys, SOURCE_PARTS[source.name])
            after = plan.moved[source.name] = ids[-1]
            if len(ids) < batch:
                break
        else:
            result.finished = False
    # Callbacks that fell due since the last step now count (as late) without any row changing.
    due_after = id_moment(seen[CALLBACKS_DUE] or uuid.UUID(int=0))
    overdue = await session.execute(
        select(Callback.due_at, Callback.service_id)
        .where(Callback.done_at.is_(None), Callback.due_at > due_after, Callback.due_at <= now)
        .limit(batch)
    )
    _touch(touched, [(month_start(due), service) for due, service in overdue if service is not None], {"callbacks"})
    marks = list((await session.scalars(select(RollupMark).order_by(RollupMark.id).limit(batch))).all())
    if marks:
        result.finished &= len(marks) < batch
        for key, parts in (await _touched_by_marks(session, marks)).items():
            _touch(touched, [key], parts)
        plan.mark_ids = [mark.id for mark in marks]
    plan.changed = bool(plan.moved or plan.mark_ids or touched)
    if plan.changed:
        plan.moved[CALLBACKS_DUE] = id_floor(now)
    first = await retention_start(session, now)
    for (month, service_id), parts in sorted(touched.items()):
        if month < first:
            result.skipped_outside_retention += 1
            continue
        recompute = frozenset(parts)
        plan.computed[(month, service_id)] = (
            recompute,
            await compute_month(session, month, service_id, thresholds=thresholds, now=now, parts=recompute),
        )
        result.recomputed += 1
    return plan


async def apply_plan(session: AsyncSession, plan: UpkeepPlan, *, thresholds: ServiceLevelThresholds) -> bool:
    """Write what `plan_step` found: the rollups it recomputed, the watermarks moved past what it read and the
    marks it read cleared. False, writing nothing, when another run moved a watermark since the plan was read:
    that run has the same rows, and what it wrote is at least as fresh."""
    rows = await _watermark_rows(session, lock=True)
    if any((rows[name].last_id if name in rows else None) != value for name, value in plan.seen.items()):
        log.info("scorecard_upkeep_overtaken")
        return False
    _move_watermarks(session, rows, plan.moved)
    if plan.mark_ids:
        await session.execute(delete(RollupMark).where(RollupMark.id.in_(plan.mark_ids)))
    for (month, service_id), (parts, computed) in plan.computed.items():
        await replace_month(session, month, service_id, computed, thresholds=thresholds, now=plan.now, parts=parts)
    return True


async def flag_repeats(
    session: AsyncSession, *, now: datetime, policy: RepeatPolicy = DEFAULT_REPEAT, batch: int = BATCH
) -> FlagResult:
    """Store a batch of repeat flags and mark the months they change, for the next plan to recompute."""
    flags = await set_repeat_flags(session, now=now, policy=policy, batch=batch)
    session.add_all(RollupMark(kind="repeat", month=month, service_id=service) for month, service in flags.keys)
    return flags


async def _repeats_due(session: AsyncSession, *, now: datetime, policy: RepeatPolicy) -> bool:
    return await session.scalar(select(Contact.id).where(_flag_due(now, policy)).limit(1)) is not None


async def upkeep_step(
    session: AsyncSession,
    *,
    thresholds: ServiceLevelThresholds,
    now: datetime | None = None,
    batch: int = BATCH,
    policy: RepeatPolicy = DEFAULT_REPEAT,
    lag: timedelta = LAG,
) -> UpkeepResult:
    """One bounded step in the caller's one transaction (the CLI, tests); ``finished`` is False while a batch was
    full. The worker's `run_upkeep` takes the same steps with the reading outside any write transaction."""
    now = now or utcnow()
    flags = await flag_repeats(session, now=now, policy=policy, batch=batch)
    plan = await plan_step(session, thresholds=thresholds, now=now, batch=batch, lag=lag)
    await apply_plan(session, plan, thresholds=thresholds)
    plan.result.flagged = flags.flagged
    plan.result.finished &= flags.flagged < batch
    return plan.result


async def mark_recent_months(session: AsyncSession, *, now: datetime | None = None) -> int:
    """Mark this month and the last of every service with rollups or contacts for recomputing (the daily run)."""
    now = now or utcnow()
    this = month_start(now)
    months = (previous_month(this), this)
    services = set(
        (await session.scalars(select(ScorecardRollup.service_id).where(ScorecardRollup.month.in_(months)))).all()
    )
    start, _ = month_bounds(months[0])
    services |= set(
        (await session.scalars(select(Contact.service_id).where(Contact.occurred_at >= start).distinct())).all()
    )
    session.add_all(RollupMark(kind="month", month=month, service_id=s) for month in months for s in services)
    return len(services) * len(months)


async def run_upkeep(
    sessions: Any,
    *,
    thresholds: ServiceLevelThresholds,
    budget_seconds: float = 20.0,
    now: datetime | None = None,
    policy: RepeatPolicy = DEFAULT_REPEAT,
) -> UpkeepResult:
    """Steps until caught up or the time budget is spent. Each step stores due repeat flags (a write transaction,
    only when some are due), reads and recomputes as a reader (`plan_step`), then writes the result in a short
    transaction of its own (`apply_plan`), so the recomputation never holds SQLite's writer lock."""
    total = UpkeepResult()
    started = time.monotonic()
    while True:
        moment = now or utcnow()
        flagged = 0
        async with sessions() as session, session.begin():
            await read_only(session)
            due = await _repeats_due(session, now=moment, policy=policy)
        if due:
            async with sessions() as session, session.begin():
                flagged = (await flag_repeats(session, now=moment, policy=policy)).flagged
        async with sessions() as session, session.begin():
            await read_only(session)
            plan = await plan_step(session, thresholds=thresholds, now=moment)
        if plan.changed:
            async with sessions() as session, session.begin():
                if not await apply_plan(session, plan, thresholds=thresholds):
                    break
        step = plan.result
        total.read += step.read
        total.recomputed += step.recomputed
        total.flagged += flagged
        total.skipped_outside_retention += step.skipped_outside_retention
        total.finished = step.finished and flagged < BATCH
        if total.finished or time.monotonic() - started > budget_seconds:
            break
    if total.read or total.recomputed:
        log.info("scorecard_upkeep", read=total.read, recomputed=total.recomputed, flagged=total.flagged)
    return total
