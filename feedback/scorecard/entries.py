"""Measures other systems hold, entered per month, service and team (by hand, from a spreadsheet or through the
API), and the targets managers set. People give percentages as 0-100; they are stored as fractions like every
computed share. Staff figures are team aggregates: there is no field for a person."""

from __future__ import annotations

import math
import re
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Final

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from civicvoice.core.audit import Actor, record
from civicvoice.core.clock import utcnow
from civicvoice.core.errors import InvalidInput, NotFound
from feedback.scorecard.formulas import Target
from feedback.scorecard.measures import MEASURES, Aggregation, Direction, Source, Unit, measure
from feedback.scorecard.models import EnteredFigure, MeasureTarget
from surveys.models import Service

ENTERED_SLUGS: Final = tuple(slug for slug, m in MEASURES.items() if m.source is Source.entered)
_MONTH: Final = re.compile(r"^(\d{4})-(\d{2})$")
_TEAM: Final = re.compile(r"^[\w .&'()/-]{0,100}$")


class EntryInputError(InvalidInput):
    slug = "scorecard-entry"
    title = "Scorecard figure not accepted"


def parse_month(text: str, *, field: str = "month") -> date:
    found = _MONTH.match(text.strip())
    if not found or not 1 <= int(found.group(2)) <= 12 or int(found.group(1)) < 2000:
        raise EntryInputError(f"Give the month as YYYY-MM, for example 2026-11 (got {text[:20]!r}).", field=field)
    return date(int(found.group(1)), int(found.group(2)), 1)


def stored_value(slug: str, value: float, *, field: str = "value") -> float:
    """A value as people give it (percent 0-100, hours, days, a count) as the scorecard stores it."""
    unit = measure(slug).unit
    if not math.isfinite(value) or value < 0:
        raise EntryInputError("Give a number, zero or more.", field=field)
    if unit is Unit.percent:
        if value > 100:
            raise EntryInputError("A percentage is from 0 to 100.", field=field)
        return value / 100
    if unit is Unit.number and value != int(value):
        raise EntryInputError("Give a whole number.", field=field)
    if value > 1_000_000:
        raise EntryInputError("That number is too large for a month's figure.", field=field)
    return value


def shown_value(slug: str, value: float) -> float:
    return value * 100 if measure(slug).unit is Unit.percent else value


async def service_by_slug(session: AsyncSession, slug: str, *, field: str = "service") -> Service:
    found = await session.scalar(select(Service).where(Service.slug == slug))
    if found is None:
        raise NotFound(f"No service is called {slug[:64]!r}.", field=field)
    return found


def require_within(service: Service, within: Sequence[uuid.UUID] | None) -> None:
    """A service manager enters figures for their own services only (``within``: None for every service)."""
    if within is not None and service.id not in within:
        raise EntryInputError("You can enter figures for your own services only.", field="service")


async def enter_figure(
    session: AsyncSession,
    *,
    month: date,
    service_id: uuid.UUID,
    team: str,
    slug: str,
    value: float,
    source: str,
    entered_by: str,
    actor: Actor,
) -> EnteredFigure:
    """Store (or correct) a month's figure for a team; audited with the value before and after."""
    if slug not in ENTERED_SLUGS:
        raise EntryInputError(
            f"{slug[:64]!r} is not a measure entered from another system; choose one of {', '.join(ENTERED_SLUGS)}.",
            field="measure",
        )
    team = team.strip()
    if not _TEAM.match(team):
        raise EntryInputError("A team name is up to 100 letters, digits, spaces and & ' ( ) / - .", field="team")
    stored = stored_value(slug, value)
    row = await session.scalar(
        select(EnteredFigure).where(
            EnteredFigure.month == month,
            EnteredFigure.service_id == service_id,
            EnteredFigure.team == team,
            EnteredFigure.measure == slug,
        )
    )
    before = row.value if row is not None else None
    if row is None:
        row = EnteredFigure(month=month, service_id=service_id, team=team, measure=slug, value=stored)
        session.add(row)
    row.value, row.source, row.entered_by, row.entered_at = stored, source[:100], entered_by[:64], utcnow()
    await session.flush()
    record(
        session,
        actor,
        "scorecard.figure_entered",
        target_kind="scorecard_entry",
        target_id=row.id,
        detail={"measure": slug, "month": f"{month:%Y-%m}", "team": team, "before": before, "after": stored},
    )
    return row


@dataclass(frozen=True, slots=True)
class EnteredSummary:
    value: float | None
    entries: int
    sources: tuple[str, ...]
    entered_by: tuple[str, ...]


async def entered_figures(
    session: AsyncSession, months: Sequence[date], service_ids: Sequence[uuid.UUID] | None
) -> dict[date, dict[str, EnteredSummary]]:
    """Each entered measure's figure per month for the scope: totals summed, percentages the mean of entries."""
    query = select(EnteredFigure).where(EnteredFigure.month.in_(list(months)))
    if service_ids is not None:
        query = query.where(EnteredFigure.service_id.in_(list(service_ids)))
    grouped: dict[tuple[date, str], list[EnteredFigure]] = defaultdict(list)
    for row in (await session.scalars(query)).all():
        grouped[(row.month, row.measure)].append(row)
    found: dict[date, dict[str, EnteredSummary]] = {month: {} for month in months}
    for (month, slug), rows in grouped.items():
        if slug not in MEASURES:
            continue
        values = [row.value for row in rows]
        total = sum(values)
        value = total if MEASURES[slug].aggregation is Aggregation.total else total / len(values)
        found[month][slug] = EnteredSummary(
            value,
            len(rows),
            tuple(sorted({row.source for row in rows})),
            tuple(sorted({row.entered_by for row in rows})),
        )
    return found


async def set_target(
    session: AsyncSession,
    *,
    slug: str,
    service_id: uuid.UUID | None,
    value: float,
    direction: Direction,
    tolerance: float | None,
    actor: Actor,
) -> MeasureTarget:
    """Set a measure's target (percent given 0-100) for a service or, without one, the whole council."""
    meta = measure(slug)
    if meta.unit is Unit.percentage_points or slug == "channel-use":
        raise EntryInputError("Channel use and shift are per channel and have no single target.", field="measure")
    if not math.isfinite(value):
        raise EntryInputError("Give the target as a number.", field="value")
    stored = value / 100 if meta.unit is Unit.percent else value
    if meta.unit is Unit.percent and not 0 <= value <= 100:
        raise EntryInputError("A percentage target is from 0 to 100.", field="value")
    band = None
    if tolerance is not None:
        if not math.isfinite(tolerance) or tolerance < 0:
            raise EntryInputError("The amber band is a number, zero or more.", field="tolerance")
        band = tolerance / 100 if meta.unit is Unit.percent else tolerance
    Target(stored, direction, band)  # the formulas' own checks
    key = str(service_id) if service_id is not None else ""
    row = await session.scalar(
        select(MeasureTarget).where(MeasureTarget.measure == slug, MeasureTarget.service_key == key)
    )
    before = None if row is None else {"value": row.value, "direction": row.direction, "tolerance": row.tolerance}
    if row is None:
        row = MeasureTarget(
            measure=slug, service_id=service_id, service_key=key, value=stored, direction=direction.value
        )
        session.add(row)
    row.value, row.direction, row.tolerance = stored, direction.value, band
    row.set_by, row.set_at = actor.id, utcnow()
    await session.flush()
    record(
        session,
        actor,
        "scorecard.target_set",
        target_kind="scorecard_target",
        target_id=row.id,
        detail={
            "measure": slug,
            "service": key or None,
            "before": before,
            "after": {"value": stored, "direction": direction.value, "tolerance": band},
        },
    )
    return row


async def targets_for(session: AsyncSession, service_ids: Iterable[uuid.UUID] | None) -> dict[str, Target]:
    """The targets that apply to a scope: a single service's own, else the council-wide one."""
    ids = list(service_ids) if service_ids is not None else None
    rows = (await session.scalars(select(MeasureTarget))).all()
    found: dict[str, Target] = {}
    for row in rows:
        if row.service_key == "":
            found.setdefault(row.measure, _target(row))
    if ids is not None and len(ids) == 1:
        for row in rows:
            if row.service_id == ids[0]:
                found[row.measure] = _target(row)
    return found


def _target(row: MeasureTarget) -> Target:
    return Target(row.value, Direction(row.direction), row.tolerance)
