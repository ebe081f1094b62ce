"""The scorecard as one service: every measure's figure for a scope and month, with its target, status, change on
the previous month and source. The dashboard, the ``scorecard --json`` command and the exports workbook all read
figures through `Scorecard.report`, from rollups only.

For the exports workbook (a typed service, ``services.get(Scorecard)``):

    scope = await scorecard.scope(session, service="council-tax", channel=None)
    report = await scorecard.report(session, date(2026, 11, 1), scope)
    for figure in report.figures: figure.slug, figure.value, figure.status, figure.as_json() ...
    history = await scorecard.history(session, months, scope)  # ScopeRollup per month, for trend charts

Service-level thresholds are the admin's (`service_levels`); ``await scorecard.thresholds(session)`` gives them to
anything computing rollups, cached for `service_levels.CACHE_SECONDS` per process (a change made through
`Scorecard.set_thresholds` clears this process's cache at once; other processes follow within the TTL, and the
rebuild the change enqueues waits that long).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from civicvoice.core.audit import Actor
from civicvoice.core.cache import TtlCache
from civicvoice.core.errors import NotFound
from feedback.scorecard.entries import EnteredSummary, entered_figures, targets_for
from feedback.scorecard.figures import Figure, ScopeRollup, assess, computed_figures
from feedback.scorecard.forecasting import forecast_error
from feedback.scorecard.formulas import ServiceLevelThresholds, Status, Target
from feedback.scorecard.measures import MEASURES, Perspective, Source, Unit
from feedback.scorecard.rollups import RollupFilter, as_scope_rollup, previous_month, read_sums
from feedback.scorecard.service_levels import (
    CACHE_SECONDS,
    configured_thresholds,
    describe,
    measured_against,
    set_thresholds,
)
from surveys.models import Service, ServiceGroup
from surveys.rules import ContactChannel

CHANNELS: Final = tuple(channel.value for channel in ContactChannel)
# What an agent sees of their own work: the quality figures computed per contact, and satisfaction.
AGENT_MEASURES: Final = frozenset(
    {
        "customer-satisfaction",
        "service-level",
        "average-speed-of-answer",
        "average-wait",
        "average-handling-time",
        "first-contact-resolution",
        "contact-quality-score",
        "compliments",
    }
)


class UnknownScope(NotFound):
    slug = "unknown-scorecard-scope"
    title = "No such scorecard scope"


@dataclass(frozen=True, slots=True)
class Scope:
    """Which figures a report covers, with the words that name it."""

    label: str
    rows: RollupFilter = field(default_factory=RollupFilter)
    service: str | None = None
    group: str | None = None
    channel: str | None = None
    agent_ref: str | None = None
    # Only these measures (an agent's own view); None: every measure.
    measures: frozenset[str] | None = None


@dataclass(frozen=True, slots=True)
class FigureReport:
    slug: str
    name: str
    perspective: Perspective
    unit: Unit
    source: Source
    value: float | None
    count: int
    low: float | None
    high: float | None
    by_category: dict[str, float] | None
    target: Target | None
    status: Status
    previous: float | None
    change: float | None
    trend: str | None
    # For an entered measure: where the entries came from and who entered them.
    entered_from: tuple[str, ...] = ()
    entered_by: tuple[str, ...] = ()
    # For the service level: the threshold per channel (lowest, highest seconds) the month was measured against.
    thresholds: dict[str, tuple[int, int] | None] | None = None

    @property
    def basis(self) -> str | None:
        return describe(self.thresholds) if self.thresholds is not None else None

    def as_json(self) -> dict[str, Any]:
        return {
            "measure": self.slug,
            "name": self.name,
            "perspective": self.perspective.value,
            "unit": self.unit.value,
            "source": self.source.value,
            "value": self.value,
            "count": self.count,
            "interval": None if self.low is None else [self.low, self.high],
            "by_category": self.by_category,
            "target": None
            if self.target is None
            else {
                "value": self.target.value,
                "direction": self.target.direction.value,
                "amber_band": self.target.amber_band,
            },
            "status": self.status.value,
            "previous": self.previous,
            "change": self.change,
            "trend": self.trend,
            "entered_from": list(self.entered_from),
            "entered_by": list(self.entered_by),
            **(
                {
                    "thresholds_seconds": {
                        channel: list(pair) if pair is not None else None
                        for channel, pair in sorted(self.thresholds.items())
                    }
                }
                if self.thresholds is not None
                else {}
            ),
        }


@dataclass(frozen=True, slots=True)
class ScorecardReport:
    month: date
    scope: Scope
    figures: tuple[FigureReport, ...]
    rollup: ScopeRollup

    def figure(self, slug: str) -> FigureReport:
        for found in self.figures:
            if found.slug == slug:
                return found
        raise KeyError(slug)

    def as_json(self) -> dict[str, Any]:
        return {
            "month": f"{self.month:%Y-%m}",
            "scope": {
                "label": self.scope.label,
                "service": self.scope.service,
                "group": self.scope.group,
                "channel": self.scope.channel,
                "agent": self.scope.agent_ref,
            },
            "figures": [figure.as_json() for figure in self.figures],
        }


class Scorecard:
    """Figures for a scope and month, read from rollups (never from raw rows)."""

    def __init__(self) -> None:
        self._thresholds: TtlCache[ServiceLevelThresholds] = TtlCache(CACHE_SECONDS, max_items=1)

    async def thresholds(self, session: AsyncSession) -> ServiceLevelThresholds:
        """The service-level thresholds in force (the admin's, defaults for channels not set)."""
        return await self._thresholds.get_or_load("thresholds", lambda: configured_thresholds(session))

    async def set_thresholds(self, session: AsyncSession, changes: dict[str, int], *, actor: Actor) -> dict[str, int]:
        """Set thresholds per channel in the caller's transaction (audited; the rebuild is enqueued with them)."""
        changed = await set_thresholds(session, changes, actor=actor)
        self._thresholds.clear()
        return changed

    async def scope(
        self,
        session: AsyncSession,
        *,
        service: str | None = None,
        group: str | None = None,
        channel: str | None = None,
        agent_ref: str | None = None,
        within: list[uuid.UUID] | None = None,
    ) -> Scope:
        """A scope by service or service-group slug and channel; ``within`` limits it to a viewer's services."""
        if channel is not None and channel not in CHANNELS:
            raise UnknownScope(f"No channel is called {channel[:30]!r}; one of {', '.join(CHANNELS)}.", field="channel")
        ids: list[uuid.UUID] | None = None
        label = "All services"
        if service:
            found = await session.scalar(select(Service).where(Service.slug == service))
            if found is None:
                raise UnknownScope(f"No service is called {service[:64]!r}.", field="service")
            ids, label = [found.id], found.name
        elif group:
            found_group = await session.scalar(select(ServiceGroup).where(ServiceGroup.slug == group))
            if found_group is None:
                raise UnknownScope(f"No service group is called {group[:64]!r}.", field="group")
            ids = list((await session.scalars(select(Service.id).where(Service.group_id == found_group.id))).all())
            label = found_group.name
        if within is not None:
            if ids is None:
                ids, label = list(within), "Your services"
            elif not set(ids) <= set(within):
                raise UnknownScope("That service is not one of yours.", field="service")
        if channel:
            label = f"{label}, {channel.replace('_', ' ')}"
        if agent_ref is not None:
            label = f"{label}, agent {agent_ref}"
        return Scope(
            label=label,
            rows=RollupFilter(tuple(ids) if ids is not None else None, channel, agent_ref),
            service=service,
            group=group if not service else None,
            channel=channel,
            agent_ref=agent_ref,
            measures=AGENT_MEASURES if agent_ref is not None else None,
        )

    async def history(self, session: AsyncSession, months: list[date], scope: Scope) -> dict[date, ScopeRollup]:
        """The scope's rollup per month (without forecasts), for trend charts."""
        sums = await read_sums(session, months, scope.rows)
        return {month: as_scope_rollup(by_channel) for month, by_channel in sums.items()}

    async def report(self, session: AsyncSession, month: date, scope: Scope) -> ScorecardReport:
        before = previous_month(month)
        earlier = previous_month(before)
        sums = await read_sums(session, [earlier, before, month], scope.rows)
        rollups = {m: as_scope_rollup(sums[m], await forecast_error(session, m, scope.rows)) for m in (before, month)}
        figures_now = computed_figures(rollups[month], rollups[before])
        figures_before = computed_figures(rollups[before], as_scope_rollup(sums[earlier]))
        service_ids = list(scope.rows.service_ids) if scope.rows.service_ids is not None else None
        targets = await targets_for(session, service_ids)
        entered = await entered_figures(session, [before, month], service_ids) if scope.agent_ref is None else {}
        reports: list[FigureReport] = []
        for slug, meta in MEASURES.items():
            if scope.measures is not None and slug not in scope.measures:
                continue
            target = targets.get(slug)
            if meta.source is Source.computed:
                figure, previous = figures_now[slug], figures_before[slug]
                found = _report(slug, figure, previous, target)
                if slug == "service-level":
                    found = replace(found, thresholds=await measured_against(session, month, scope.rows))
                reports.append(found)
            else:
                now_entry = entered.get(month, {}).get(slug)
                before_entry = entered.get(before, {}).get(slug)
                reports.append(
                    _entered_report(slug, now_entry, before_entry, target, channel_scoped=scope.channel is not None)
                )
        return ScorecardReport(month, scope, tuple(reports), rollups[month])


def _report(slug: str, figure: Figure, previous: Figure | None, target: Target | None) -> FigureReport:
    meta = MEASURES[slug]
    assessed = assess(figure, target, previous)
    return FigureReport(
        slug=slug,
        name=meta.name,
        perspective=meta.perspective,
        unit=meta.unit,
        source=meta.source,
        value=figure.value,
        count=figure.count,
        low=figure.low,
        high=figure.high,
        by_category=dict(figure.by_category) if figure.by_category is not None else None,
        target=target,
        status=Status.no_data if figure.value is None and target is not None else assessed.status,
        previous=previous.value if previous is not None else None,
        change=assessed.change.delta if assessed.change is not None else None,
        trend=assessed.change.trend.value if assessed.change is not None else None,
    )


def _entered_report(
    slug: str,
    now: EnteredSummary | None,
    before: EnteredSummary | None,
    target: Target | None,
    *,
    channel_scoped: bool,
) -> FigureReport:
    # Entered figures are per service and team, not per channel: a channel's view shows none.
    if channel_scoped:
        now = before = None
    figure = Figure(slug, now.value if now else None, now.entries if now else 0)
    previous = Figure(slug, before.value if before else None, before.entries if before else 0)
    return replace(
        _report(slug, figure, previous, target),
        entered_from=now.sources if now else (),
        entered_by=now.entered_by if now else (),
    )
