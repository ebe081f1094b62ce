"""Scorecard rollups from raw rows: one month of one service recomputed by the same aggregate queries whether upkeep
or a rebuild asks, and read back as the formulas' mergeable rollups.

A month is a calendar month in Europe/London. Each fact belongs to one month, service, channel and agent:
contacts, their invitations, answers, comments and evaluations to the contact's month; survey answers without an
invitation (kiosk, paper) to their own; complaint cases to the month they closed; callbacks to the month they
were due. The queries run through indexes on one service and one month, never across the whole table.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Final

from sqlalchemy import ColumnElement, Select, and_, case, delete, exists, func, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from civicvoice.core.clock import LONDON, utcnow
from feedback.actions import ActionLink
from feedback.callbacks import Callback
from feedback.cases import ComplaintCase
from feedback.demand import DemandTag
from feedback.models import CommentClassification, CommentScore
from feedback.quality import Evaluation
from feedback.scorecard.figures import QualityRollup, ScopeRollup
from feedback.scorecard.formulas import (
    SATISFIED_AT_LEAST,
    SENTIMENT_SCALE,
    ContactRollup,
    Counts,
    DemandType,
    ForecastError,
    Moments,
    ServiceLevelThresholds,
    SurveyRollup,
    Tally,
)
from feedback.scorecard.models import COUNTERS, PART_COUNTERS, ScorecardRollup
from surveys.models import Contact, Invitation, Response
from surveys.rules import MEASURED_CHANNEL

Key = tuple[str, str]  # (channel, agent_ref) within one month and service
# Survey answers to "was it resolved?" that count as not resolved at the first contact.
NOT_RESOLVED: Final = ("no", "partly")
COMPLIMENT: Final = "compliment"

ALL_PARTS: Final = frozenset(PART_COUNTERS)


def measured_channel() -> ColumnElement[str]:
    """The channel an answer without a contact counts on: the contact channel it measures (a kiosk's answers count
    on face to face), so a channel's scope includes them; otherwise the channel it was answered on."""
    return case(dict(MEASURED_CHANNEL), value=Response.channel, else_=Response.channel)


def month_start(moment: date | datetime) -> date:
    if isinstance(moment, datetime):
        local = moment.astimezone(LONDON)
        return date(local.year, local.month, 1)
    return date(moment.year, moment.month, 1)


def next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def previous_month(month: date) -> date:
    return date(month.year - (month.month == 1), (month.month - 2) % 12 + 1, 1)


def month_bounds(month: date) -> tuple[datetime, datetime]:
    """The month's first and next month's first moment (London midnight), in UTC."""
    start = datetime(month.year, month.month, 1, tzinfo=LONDON).astimezone(UTC)
    following = next_month(month)
    end = datetime(following.year, following.month, 1, tzinfo=LONDON).astimezone(UTC)
    return start, end


def _int(value: Any) -> int:
    return int(value or 0)


class _Rows:
    """Counters per (channel, agent) being filled by the queries of one month and service."""

    def __init__(self) -> None:
        self.rows: dict[Key, dict[str, int]] = defaultdict(lambda: dict.fromkeys(COUNTERS, 0))

    def add(self, key: Key, values: Mapping[str, Any]) -> None:
        row = self.rows[key]
        for name, value in values.items():
            row[name] += _int(value)


def _threshold(thresholds: ServiceLevelThresholds) -> ColumnElement[int]:
    whens = [(Contact.channel == channel, seconds) for channel, seconds in thresholds.seconds.items()]
    return case(*whens, else_=thresholds.otherwise)


def _fcr(reported: Any, repeat: Any, survey: Any) -> tuple[ColumnElement[int], ColumnElement[int]]:
    """(decided, resolved) per contact, as formulas.first_contact_resolved decides (survey not required)."""
    decided = case(
        (reported.is_not(None), 1),
        (repeat.is_(True), 1),
        (survey.in_(NOT_RESOLVED), 1),
        (repeat.is_(False), 1),
        else_=0,
    )
    resolved = case(
        (reported.is_(True), 1),
        (reported.is_(False), 0),
        (repeat.is_(True), 0),
        (survey.in_(NOT_RESOLVED), 0),
        (repeat.is_(False), 1),
        else_=0,
    )
    return decided, resolved


def _sentiment_units() -> ColumnElement[Any]:
    return func.round(CommentScore.polarity * SENTIMENT_SCALE)


async def compute_month(
    session: AsyncSession,
    month: date,
    service_id: uuid.UUID,
    *,
    thresholds: ServiceLevelThresholds,
    now: datetime | None = None,
    parts: Collection[str] = ALL_PARTS,
) -> dict[Key, dict[str, int]]:
    """The counters of one month and service from raw rows, per (channel, agent): all of them, or those of the
    parts given (`PART_COUNTERS`)."""
    now = now or utcnow()
    start, end = month_bounds(month)
    rows = _Rows()

    async def collect(part: str, query: Select[Any]) -> None:
        if part in parts:
            await _collect(session, query, rows)

    agent = func.coalesce(Contact.agent_ref, "")
    in_month = and_(Contact.service_id == service_id, Contact.occurred_at >= start, Contact.occurred_at < end)
    wait, handling = Contact.wait_seconds, Contact.handling_seconds
    decided, resolved = _fcr(Contact.resolved_first_contact, Contact.repeat_contact, Response.resolved)
    contact_query = (
        select(
            Contact.channel,
            agent,
            func.count(Contact.id).label("contacts"),
            func.sum(case((Contact.transferred.is_(True), 1), else_=0)).label("transferred"),
            func.count(wait).label("offered"),
            func.sum(case((wait <= _threshold(thresholds), 1), else_=0)).label("answered_in_time"),
            func.count(wait).label("answered_wait_count"),
            func.sum(wait).label("answered_wait_sum"),
            func.sum(wait * wait).label("answered_wait_squares"),
            func.count(wait).label("wait_count"),
            func.sum(wait).label("wait_sum"),
            func.sum(wait * wait).label("wait_squares"),
            func.count(handling).label("handling_count"),
            func.sum(handling).label("handling_sum"),
            func.sum(handling * handling).label("handling_squares"),
            func.sum(decided).label("fcr_decided"),
            func.sum(resolved).label("fcr_resolved"),
            func.sum(
                case((or_(Invitation.sent_at.is_not(None), Invitation.responded_at.is_not(None)), 1), else_=0)
            ).label("invitations_sent"),
            func.sum(case((Invitation.responded_at.is_not(None), 1), else_=0)).label("invitations_answered"),
            func.count(Response.satisfaction).label("rated"),
            func.sum(case((Response.satisfaction >= SATISFIED_AT_LEAST, 1), else_=0)).label("satisfied"),
        )
        .select_from(Contact)
        .outerjoin(Invitation, Invitation.contact_id == Contact.id)
        .outerjoin(Response, Response.invitation_id == Invitation.id)
        .where(in_month)
        .group_by(Contact.channel, agent)
    )
    await collect("contacts", contact_query)
    units = _sentiment_units()
    through_contact = (
        select(Contact.channel, agent)
        .select_from(Contact)
        .join(Invitation, Invitation.contact_id == Contact.id)
        .join(Response, Response.invitation_id == Invitation.id)
        .where(in_month)
        .group_by(Contact.channel, agent)
    )
    await collect(
        "sentiment",
        through_contact.join(CommentScore, CommentScore.response_id == Response.id).add_columns(
            func.count(CommentScore.id).label("sentiment_count"),
            func.sum(units).label("sentiment_sum"),
            func.sum(units * units).label("sentiment_squares"),
        ),
    )
    await collect(
        "compliments",
        through_contact.join(CommentClassification, CommentClassification.response_id == Response.id)
        .where(CommentClassification.reviewed_class == COMPLIMENT)
        .add_columns(func.count(CommentClassification.id).label("compliments")),
    )
    # Answers without an invitation (kiosk, paper): their own month, service and channel, no agent.
    loose = and_(
        Response.invitation_id.is_(None),
        Response.service_id == service_id,
        Response.submitted_at >= start,
        Response.submitted_at < end,
    )
    loose_channel = measured_channel()
    loose_key = (loose_channel, literal(""))
    await collect(
        "contacts",
        select(
            *loose_key,
            func.count(Response.satisfaction).label("rated"),
            func.sum(case((Response.satisfaction >= SATISFIED_AT_LEAST, 1), else_=0)).label("satisfied"),
        )
        .where(loose)
        .group_by(loose_channel),
    )
    await collect(
        "sentiment",
        select(
            *loose_key,
            func.count(CommentScore.id).label("sentiment_count"),
            func.sum(units).label("sentiment_sum"),
            func.sum(units * units).label("sentiment_squares"),
        )
        .join(CommentScore, CommentScore.response_id == Response.id)
        .where(loose)
        .group_by(loose_channel),
    )
    await collect(
        "compliments",
        select(*loose_key, func.count(CommentClassification.id).label("compliments"))
        .join(CommentClassification, CommentClassification.response_id == Response.id)
        .where(loose, CommentClassification.reviewed_class == COMPLIMENT)
        .group_by(loose_channel),
    )
    score = func.round(Evaluation.score)
    await collect(
        "quality",
        select(
            Contact.channel,
            agent,
            func.count(func.distinct(Evaluation.contact_id)).label("evaluated"),
            func.count(Evaluation.id).label("quality_count"),
            func.sum(score).label("quality_sum"),
            func.sum(score * score).label("quality_squares"),
        )
        .join(Evaluation, Evaluation.contact_id == Contact.id)
        .where(in_month)
        .group_by(Contact.channel, agent),
    )
    # Complaint cases by the month they closed; callbacks by the month they were due, once made or overdue.
    channel = func.coalesce(Contact.channel, measured_channel(), "")
    improving = exists().where(ActionLink.case_id == ComplaintCase.id)
    await collect(
        "cases",
        select(
            channel,
            agent,
            func.count(ComplaintCase.id).label("complaints_closed"),
            func.sum(case((improving, 1), else_=0)).label("complaints_improving"),
        )
        .select_from(ComplaintCase)
        .outerjoin(Response, Response.id == ComplaintCase.response_id)
        .outerjoin(Contact, Contact.id == Response.contact_id)
        .where(
            ComplaintCase.service_id == service_id,
            ComplaintCase.closed_at >= start,
            ComplaintCase.closed_at < end,
        )
        .group_by(channel, agent),
    )
    await collect(
        "callbacks",
        select(
            channel,
            agent,
            func.count(Callback.id).label("callbacks_due"),
            func.sum(case((Callback.done_at <= Callback.due_at, 1), else_=0)).label("callbacks_on_time"),
        )
        .select_from(Callback)
        .outerjoin(Response, Response.id == Callback.response_id)
        .outerjoin(Contact, Contact.id == Response.contact_id)
        .where(
            Callback.service_id == service_id,
            Callback.due_at >= start,
            Callback.due_at < end,
            or_(Callback.done_at.is_not(None), Callback.due_at <= now),
        )
        .group_by(channel, agent),
    )
    # Demand types the quality team (or the contact system) tagged: contacts in their month, complaint comments in
    # theirs, each on its channel and the contact's agent.
    tagged = func.coalesce(Contact.agent_ref, "")
    await collect(
        "demand",
        select(
            DemandTag.channel,
            tagged,
            *(
                func.sum(case((DemandTag.demand_type == kind.value, 1), else_=0)).label(f"demand_{kind.name}")
                for kind in DemandType
            ),
        )
        .select_from(DemandTag)
        .outerjoin(Contact, Contact.id == DemandTag.contact_id)
        .where(DemandTag.service_id == service_id, DemandTag.month == month)
        .group_by(DemandTag.channel, tagged),
    )
    return {key: values for key, values in rows.rows.items() if any(values.values())}


async def _collect(session: AsyncSession, query: Select[Any], rows: _Rows) -> None:
    """Add a query's rows: the first two columns are the channel and agent, the others named counters."""
    result = await session.execute(query)
    names = list(result.keys())[2:]
    for row in result:
        rows.add((str(row[0] or ""), str(row[1] or "")), dict(zip(names, row[2:], strict=True)))


async def store_month(
    session: AsyncSession,
    month: date,
    service_id: uuid.UUID,
    *,
    thresholds: ServiceLevelThresholds,
    now: datetime | None = None,
) -> int:
    """Recompute one month of one service and replace its rollup rows; returns how many rows it holds now."""
    now = now or utcnow()
    computed = await compute_month(session, month, service_id, thresholds=thresholds, now=now)
    return await replace_month(session, month, service_id, computed, thresholds=thresholds, now=now)


async def replace_month(
    session: AsyncSession,
    month: date,
    service_id: uuid.UUID,
    computed: Mapping[Key, Mapping[str, int]],
    *,
    thresholds: ServiceLevelThresholds,
    now: datetime,
    parts: Collection[str] = ALL_PARTS,
) -> int:
    """Write what `compute_month` gave for one month of one service: all its rollup rows replaced, or, for some
    parts, only their counters (a row left with no counter at all is deleted); returns how many rows it holds."""
    of_month = (ScorecardRollup.month == month, ScorecardRollup.service_id == service_id)
    if set(parts) >= ALL_PARTS:
        await session.execute(delete(ScorecardRollup).where(*of_month))
        session.add_all(
            ScorecardRollup(
                month=month,
                service_id=service_id,
                channel=channel,
                agent_ref=agent_ref,
                updated_at=now,
                service_level_seconds=thresholds.for_channel(channel),
                **values,
            )
            for (channel, agent_ref), values in computed.items()
        )
        await session.flush()
        return len(computed)
    names = [name for part in parts for name in PART_COUNTERS[part]]
    stored = {
        (row.channel, row.agent_ref): row for row in await session.scalars(select(ScorecardRollup).where(*of_month))
    }
    for key in stored.keys() | computed.keys():
        values = computed.get(key, {})
        row = stored.get(key)
        if row is None:
            channel, agent_ref = key
            row = ScorecardRollup(
                month=month,
                service_id=service_id,
                channel=channel,
                agent_ref=agent_ref,
                service_level_seconds=thresholds.for_channel(channel),
                **dict.fromkeys(COUNTERS, 0),
            )
            session.add(row)
            stored[key] = row
        elif "contacts" in parts:  # the service level is measured again
            row.service_level_seconds = thresholds.for_channel(row.channel)
        for name in names:
            setattr(row, name, values.get(name, 0))
        row.updated_at = now
        if not any(getattr(row, name) for name in COUNTERS):
            if row in session.new:
                session.expunge(row)
            else:
                await session.delete(row)
            del stored[key]
    await session.flush()
    return len(stored)


# --- reading rollups back ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RollupFilter:
    """Which rollup rows make up a scope: services (None for all), one channel, one agent."""

    service_ids: tuple[uuid.UUID, ...] | None = None
    channel: str | None = None
    agent_ref: str | None = None

    def where(self) -> list[ColumnElement[bool]]:
        clauses: list[ColumnElement[bool]] = []
        if self.service_ids is not None:
            clauses.append(ScorecardRollup.service_id.in_(self.service_ids))
        if self.channel is not None:
            clauses.append(ScorecardRollup.channel == self.channel)
        if self.agent_ref is not None:
            clauses.append(ScorecardRollup.agent_ref == self.agent_ref)
        return clauses


async def read_sums(
    session: AsyncSession, months: Iterable[date], scope: RollupFilter
) -> dict[date, dict[str, dict[str, int]]]:
    """Column sums per month and channel of the scope's rollup rows (an index range per month, no raw rows)."""
    wanted = sorted(set(months))
    columns = [func.sum(getattr(ScorecardRollup, name)).label(name) for name in COUNTERS]
    query = (
        select(ScorecardRollup.month, ScorecardRollup.channel, *columns)
        .where(ScorecardRollup.month.in_(wanted), *scope.where())
        .group_by(ScorecardRollup.month, ScorecardRollup.channel)
    )
    found: dict[date, dict[str, dict[str, int]]] = {month: {} for month in wanted}
    for row in (await session.execute(query)).mappings():
        found[row["month"]][row["channel"]] = {name: _int(row[name]) for name in COUNTERS}
    return found


def as_scope_rollup(by_channel: Mapping[str, Mapping[str, int]], forecast: ForecastError | None = None) -> ScopeRollup:
    """The formulas' rollup of a scope from its per-channel column sums."""
    total = dict.fromkeys(COUNTERS, 0)
    for values in by_channel.values():
        for name in COUNTERS:
            total[name] += values.get(name, 0)
    return columns_rollup(
        total,
        Counts.from_mapping({channel: values.get("contacts", 0) for channel, values in by_channel.items() if channel}),
        forecast,
    )


def columns_rollup(c: Mapping[str, int], channels: Counts, forecast: ForecastError | None = None) -> ScopeRollup:
    contacts = ContactRollup(
        channels=channels,
        answered_in_time=Tally(c["answered_in_time"], c["offered"]),
        answered_wait=Moments(c["answered_wait_count"], c["answered_wait_sum"], c["answered_wait_squares"]),
        wait=Moments(c["wait_count"], c["wait_sum"], c["wait_squares"]),
        handling=Moments(c["handling_count"], c["handling_sum"], c["handling_squares"]),
        transfers=Tally(c["transferred"], c["contacts"]),
        first_contact=Tally(c["fcr_resolved"], c["fcr_decided"]),
    )
    surveys = SurveyRollup(
        responses=Tally(c["invitations_answered"], c["invitations_sent"]),
        satisfied=Tally(c["satisfied"], c["rated"]),
        sentiment=Moments(c["sentiment_count"], c["sentiment_sum"], c["sentiment_squares"]),
    )
    demand = Counts.from_mapping(
        {
            DemandType.value.value: c["demand_value"],
            DemandType.excess.value: c["demand_excess"],
            DemandType.failure.value: c["demand_failure"],
            DemandType.preventable.value: c["demand_preventable"],
            DemandType.co_dependent.value: c["demand_co_dependent"],
        }
    )
    quality = QualityRollup(
        compliments=c["compliments"],
        complaints_improving=Tally(c["complaints_improving"], c["complaints_closed"]),
        evaluated=c["evaluated"],
        quality_score=Moments(c["quality_count"], c["quality_sum"], c["quality_squares"]),
        callbacks_on_time=Tally(c["callbacks_on_time"], c["callbacks_due"]),
        demand=demand,
    )
    return ScopeRollup(contacts, surveys, quality, forecast or ForecastError())


def rollup_columns(rollup: ScopeRollup) -> dict[str, int]:
    """The inverse of `columns_rollup` (without channels and forecast): what a stored row holds."""
    contacts, surveys, quality = rollup.contacts, rollup.surveys, rollup.quality
    demand = quality.demand.as_dict()
    return {
        "contacts": contacts.transfers.total,
        "transferred": contacts.transfers.hits,
        "offered": contacts.answered_in_time.total,
        "answered_in_time": contacts.answered_in_time.hits,
        "answered_wait_count": contacts.answered_wait.count,
        "answered_wait_sum": contacts.answered_wait.total,
        "answered_wait_squares": contacts.answered_wait.squares,
        "wait_count": contacts.wait.count,
        "wait_sum": contacts.wait.total,
        "wait_squares": contacts.wait.squares,
        "handling_count": contacts.handling.count,
        "handling_sum": contacts.handling.total,
        "handling_squares": contacts.handling.squares,
        "fcr_decided": contacts.first_contact.total,
        "fcr_resolved": contacts.first_contact.hits,
        "invitations_sent": surveys.responses.total,
        "invitations_answered": surveys.responses.hits,
        "rated": surveys.satisfied.total,
        "satisfied": surveys.satisfied.hits,
        "sentiment_count": surveys.sentiment.count,
        "sentiment_sum": surveys.sentiment.total,
        "sentiment_squares": surveys.sentiment.squares,
        "compliments": quality.compliments,
        "complaints_closed": quality.complaints_improving.total,
        "complaints_improving": quality.complaints_improving.hits,
        "evaluated": quality.evaluated,
        "quality_count": quality.quality_score.count,
        "quality_sum": quality.quality_score.total,
        "quality_squares": quality.quality_score.squares,
        "callbacks_due": quality.callbacks_on_time.total,
        "callbacks_on_time": quality.callbacks_on_time.hits,
        "demand_value": demand.get(DemandType.value.value, 0),
        "demand_excess": demand.get(DemandType.excess.value, 0),
        "demand_failure": demand.get(DemandType.failure.value, 0),
        "demand_preventable": demand.get(DemandType.preventable.value, 0),
        "demand_co_dependent": demand.get(DemandType.co_dependent.value, 0),
    }
