"""Demand forecasts frozen before each month, per service and channel, from the contacts rollups hold; the
accuracy (WAPE) of a scope's frozen forecasts once the month's contacts have arrived; and the outlook, the
forecast of the coming months with its interval, remade once a day and read by the dashboard.

The outlook is monthly only: rollups are kept by month and the dashboard never reads raw contacts, so there is no
weekly history to forecast weeks from (`forecast.Frequency.weekly` is there for when weekly rollups are).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import date, datetime
from typing import Final

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from civicvoice.core.clock import utcnow
from feedback.scorecard.forecast import Frequency, forecast_demand, series_from_counts
from feedback.scorecard.formulas import ForecastError, whole_contacts
from feedback.scorecard.models import DemandOutlook, FrozenForecast, ScorecardRollup
from feedback.scorecard.rollups import RollupFilter, month_start, previous_month

# Months of history a forecast is made from (three seasons is plenty for Holt-Winters).
HISTORY_MONTHS: Final = 36
# The outlook: the current month (its contacts still arriving) and the five after it.
OUTLOOK_MONTHS: Final = 6


async def _histories(session: AsyncSession, last_complete: date) -> dict[tuple[uuid.UUID, str], dict[date, int]]:
    """Contacts per service, channel and month over the `HISTORY_MONTHS` up to ``last_complete``."""
    first = last_complete
    for _ in range(HISTORY_MONTHS - 1):
        first = previous_month(first)
    rows = (
        await session.execute(
            select(
                ScorecardRollup.service_id,
                ScorecardRollup.channel,
                ScorecardRollup.month,
                func.sum(ScorecardRollup.contacts),
            )
            .where(ScorecardRollup.month >= first, ScorecardRollup.month <= last_complete)
            .group_by(ScorecardRollup.service_id, ScorecardRollup.channel, ScorecardRollup.month)
        )
    ).all()
    history: dict[tuple[uuid.UUID, str], dict[date, int]] = defaultdict(dict)
    for service_id, channel, period, contacts in rows:
        if channel and contacts:
            history[(service_id, channel)][period] = int(contacts)
    return history


async def freeze_forecasts(session: AsyncSession, month: date, *, now: datetime | None = None) -> int:
    """Freeze ``month``'s forecast for every service and channel with history, made as it is made in the month
    before: from the months up to two before it, two steps ahead. A forecast already frozen is never replaced."""
    now = now or utcnow()
    last_complete = previous_month(previous_month(month))
    history = await _histories(session, last_complete)
    frozen = set(
        (
            await session.execute(
                select(FrozenForecast.service_id, FrozenForecast.channel).where(FrozenForecast.month == month)
            )
        )
        .tuples()
        .all()
    )
    added = 0
    for (service_id, channel), counts in sorted(history.items(), key=lambda item: (str(item[0][0]), item[0][1])):
        if (service_id, channel) in frozen:
            continue
        series = series_from_counts(counts, frequency=Frequency.monthly, last=last_complete)
        forecast = forecast_demand(series, frequency=Frequency.monthly, horizon=2)
        point = forecast.points[1]
        session.add(
            FrozenForecast(
                month=month,
                service_id=service_id,
                channel=channel,
                contacts=whole_contacts(point.value),
                low=point.low,
                high=point.high,
                method=forecast.method.value,
                frozen_at=now,
            )
        )
        added += 1
    await session.flush()
    return added


async def forecast_error(session: AsyncSession, month: date, scope: RollupFilter) -> ForecastError:
    """The month's frozen forecasts in the scope against the contacts that arrived (agents have no forecast)."""
    if scope.agent_ref is not None:
        return ForecastError()
    query = select(FrozenForecast.service_id, FrozenForecast.channel, FrozenForecast.contacts).where(
        FrozenForecast.month == month
    )
    if scope.service_ids is not None:
        query = query.where(FrozenForecast.service_id.in_(scope.service_ids))
    if scope.channel is not None:
        query = query.where(FrozenForecast.channel == scope.channel)
    forecasts = {(s, c): n for s, c, n in (await session.execute(query)).tuples().all()}
    if not forecasts:
        return ForecastError()
    actual_query = (
        select(ScorecardRollup.service_id, ScorecardRollup.channel, func.sum(ScorecardRollup.contacts))
        .where(ScorecardRollup.month == month, *scope.where())
        .group_by(ScorecardRollup.service_id, ScorecardRollup.channel)
    )
    actual = {(s, c): int(n or 0) for s, c, n in (await session.execute(actual_query)).tuples().all()}
    return ForecastError.of((actual.get(key, 0), float(value)) for key, value in forecasts.items())


async def forecast_series(
    session: AsyncSession, months: list[date], scope: RollupFilter
) -> dict[date, tuple[int, float, float]]:
    """Frozen forecast (contacts, low, high) per month for the scope, summed over its services and channels."""
    if scope.agent_ref is not None:
        return {}
    query = (
        select(
            FrozenForecast.month,
            func.sum(FrozenForecast.contacts),
            func.sum(FrozenForecast.low),
            func.sum(FrozenForecast.high),
        )
        .where(FrozenForecast.month.in_(months))
        .group_by(FrozenForecast.month)
    )
    if scope.service_ids is not None:
        query = query.where(FrozenForecast.service_id.in_(scope.service_ids))
    if scope.channel is not None:
        query = query.where(FrozenForecast.channel == scope.channel)
    return {
        m: (int(n or 0), float(lo or 0), float(hi or 0))
        for m, n, lo, hi in (await session.execute(query)).tuples().all()
    }


async def refresh_outlook(session: AsyncSession, *, now: datetime | None = None) -> int:
    """Remake the outlook: for every service and channel with history, the forecast of the current month and the
    months after it from the months before the current one (`OUTLOOK_MONTHS` steps). Returns the rows made."""
    now = now or utcnow()
    last_complete = previous_month(month_start(now))
    history = await _histories(session, last_complete)
    await session.execute(delete(DemandOutlook))
    rows: list[DemandOutlook] = []
    for (service_id, channel), counts in sorted(history.items(), key=lambda item: (str(item[0][0]), item[0][1])):
        series = series_from_counts(counts, frequency=Frequency.monthly, last=last_complete)
        forecast = forecast_demand(series, frequency=Frequency.monthly, horizon=OUTLOOK_MONTHS)
        rows.extend(
            DemandOutlook(
                period=period,
                service_id=service_id,
                channel=channel,
                contacts=point.value,
                low=point.low,
                high=point.high,
                method=forecast.method.value,
                made_at=now,
            )
            for period, point in forecast.periods(last_complete, Frequency.monthly)
        )
    session.add_all(rows)
    await session.flush()
    return len(rows)


async def outlook_series(session: AsyncSession, scope: RollupFilter) -> dict[date, tuple[float, float, float]]:
    """The outlook (contacts, low, high) per coming month for the scope, summed over its services and channels;
    empty for an agent's scope (demand is forecast per service and channel, not per agent)."""
    if scope.agent_ref is not None:
        return {}
    query = select(
        DemandOutlook.period,
        func.sum(DemandOutlook.contacts),
        func.sum(DemandOutlook.low),
        func.sum(DemandOutlook.high),
    ).group_by(DemandOutlook.period)
    if scope.service_ids is not None:
        query = query.where(DemandOutlook.service_id.in_(scope.service_ids))
    if scope.channel is not None:
        query = query.where(DemandOutlook.channel == scope.channel)
    return {
        period: (float(n or 0), float(lo or 0), float(hi or 0))
        for period, n, lo, hi in (await session.execute(query.order_by(DemandOutlook.period))).tuples().all()
    }
