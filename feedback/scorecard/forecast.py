"""Demand forecasts per series (contacts per service and channel, by month or week) and their accuracy.

Holt-Winters (statsmodels) once a series holds two full seasons, otherwise a seasonal naive forecast with an
empirical interval. statsmodels and numpy are imported only when a Holt-Winters fit runs, so starting the app
does not pay for them. Pure: no I/O.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from statistics import NormalDist
from typing import Final

from civicvoice.core.errors import InvalidInput
from feedback.scorecard.formulas import ForecastError

# Simulated future paths behind a Holt-Winters interval; seeded so the same history gives the same interval.
SIMULATIONS: Final = 2000
_SEED: Final = 20261201


class ForecastInputError(InvalidInput):
    slug = "forecast-input"
    title = "Demand history cannot be forecast"


class Frequency(StrEnum):
    monthly = "monthly"
    weekly = "weekly"

    @property
    def season_length(self) -> int:
        return 12 if self is Frequency.monthly else 52

    def following(self, period: date, steps: int) -> date:
        """The start of the period ``steps`` after ``period`` (a month's first day, or a week's Monday)."""
        self.check_start(period)
        if self is Frequency.weekly:
            return period + timedelta(weeks=steps)
        months = period.year * 12 + period.month - 1 + steps
        return date(months // 12, months % 12 + 1, 1)

    def check_start(self, period: date) -> None:
        if self is Frequency.weekly and period.weekday() != 0:
            raise ForecastInputError(f"a week starts on a Monday; {period.isoformat()} is not one")
        if self is Frequency.monthly and period.day != 1:
            raise ForecastInputError(f"a month starts on its first day; {period.isoformat()} is not one")


class Method(StrEnum):
    holt_winters = "holt_winters"
    seasonal_naive = "seasonal_naive"
    naive = "naive"


@dataclass(frozen=True, slots=True)
class ForecastPoint:
    step: int  # 1 is the first period after the history
    value: float
    low: float
    high: float


@dataclass(frozen=True, slots=True)
class DemandForecast:
    method: Method
    level: float
    points: tuple[ForecastPoint, ...]
    note: str  # why this method: shown beside the chart

    def periods(self, last: date, frequency: Frequency) -> list[tuple[date, ForecastPoint]]:
        """Label each point with the period it forecasts, ``last`` being the history's last period."""
        return [(frequency.following(last, point.step), point) for point in self.points]


def forecast_demand(
    history: Sequence[float],
    *,
    frequency: Frequency,
    horizon: int,
    level: float = 0.95,
) -> DemandForecast:
    """Forecast the next ``horizon`` periods of a demand series, oldest value first.

    Two full seasons or more: additive Holt-Winters (additive trend and seasonality), its interval the
    ``level`` quantiles of simulated future paths. Fewer: seasonal naive (the same period last season), or
    naive (the last value) under one season, with an empirical interval. Counts cannot be negative, so
    points and interval ends are cut at zero.
    """
    values = _checked(history, horizon, level)
    season = frequency.season_length
    if len(values) >= 2 * season and len(set(values)) > 1:
        fitted = _holt_winters(values, season, horizon, level)
        if isinstance(fitted, DemandForecast):
            return fitted
        return _seasonal_naive(values, season, horizon, level, note=f"Holt-Winters could not be used: {fitted}")
    note = (
        "the series does not vary"
        if len(values) >= 2 * season
        else f"{len(values)} periods of history, fewer than the two seasons ({2 * season}) Holt-Winters needs"
    )
    return _seasonal_naive(values, season, horizon, level, note=note)


def frozen_error(frozen: Mapping[date, float], actual: Mapping[date, int]) -> ForecastError:
    """Forecasts frozen before each period against the contacts that arrived, over the periods both hold."""
    return ForecastError.of((actual[period], frozen[period]) for period in sorted(frozen.keys() & actual.keys()))


def backtest(history: Sequence[int], *, frequency: Frequency, first_origin: int) -> ForecastError:
    """Replay the forecast that would have been frozen before each period from ``first_origin`` on.

    Each period is forecast one step ahead from the history before it, as the scorecard freezes a month's
    forecast before the month starts; the errors roll up into a WAPE.
    """
    if not 1 <= first_origin < len(history):
        raise ForecastInputError(f"the first forecast origin must lie inside the history (1 to {len(history) - 1})")
    pairs = []
    for origin in range(first_origin, len(history)):
        forecast = forecast_demand(history[:origin], frequency=frequency, horizon=1)
        pairs.append((history[origin], forecast.points[0].value))
    return ForecastError.of(pairs)


def _checked(history: Sequence[float], horizon: int, level: float) -> list[float]:
    if not history:
        raise ForecastInputError("a forecast needs at least one period of history")
    if horizon < 1:
        raise ForecastInputError("the forecast horizon must be at least one period")
    if not 0.5 <= level < 1:
        raise ForecastInputError("the interval level must be at least 0.5 and below 1")
    values = [float(value) for value in history]
    if any(not math.isfinite(value) or value < 0 for value in values):
        raise ForecastInputError("demand history must be counts: finite and not negative")
    return values


def _holt_winters(values: list[float], season: int, horizon: int, level: float) -> DemandForecast | str:
    """The Holt-Winters forecast, or why it could not be made (the caller then falls back)."""
    import numpy as np
    from statsmodels.tools.sm_exceptions import ConvergenceWarning  # type: ignore[import-untyped]
    from statsmodels.tsa.holtwinters import ExponentialSmoothing  # type: ignore[import-untyped]

    with warnings.catch_warnings():
        # A failed fit is reported as a fallback, not as a warning the caller has to silence.
        warnings.simplefilter("error", ConvergenceWarning)
        warnings.simplefilter("error", RuntimeWarning)
        try:
            model = ExponentialSmoothing(
                np.asarray(values),
                trend="add",
                seasonal="add",
                seasonal_periods=season,
                initialization_method="estimated",
            )
            fit = model.fit()
            points = np.asarray(fit.forecast(horizon), dtype=float)
            paths = np.asarray(
                fit.simulate(
                    horizon, repetitions=SIMULATIONS, error="add", anchor="end", rng=np.random.default_rng(_SEED)
                ),
                dtype=float,
            ).reshape(horizon, SIMULATIONS)
        except ConvergenceWarning:
            return "the fit did not converge"
        except (RuntimeWarning, ValueError, np.linalg.LinAlgError) as exc:
            return f"the fit failed ({type(exc).__name__})"
    if not (np.all(np.isfinite(points)) and np.all(np.isfinite(paths))):
        return "the fit gave no finite forecast"
    tail = (1 - level) / 2
    lows = np.quantile(paths, tail, axis=1)
    highs = np.quantile(paths, 1 - tail, axis=1)
    forecast = tuple(
        _point(step, float(value), float(low), float(high))
        for step, (value, low, high) in enumerate(zip(points, lows, highs, strict=True), start=1)
    )
    return DemandForecast(Method.holt_winters, level, forecast, note=f"{len(values)} periods of history")


def _seasonal_naive(values: list[float], season: int, horizon: int, level: float, *, note: str) -> DemandForecast:
    """The same period last season (or the last value, under one season), with an empirical interval.

    The interval's half-width is the ``level`` quantile of the absolute errors the same method made on the
    history (seasonal differences, or period-on-period differences when fewer than two of those exist),
    widened by the square root of how many seasons (or periods) ahead the point lies. With under three
    periods there are no errors to learn from, and the spread of a Poisson count is used instead.
    """
    seasonal = len(values) >= season
    errors = [values[t] - values[t - season] for t in range(season, len(values))] if seasonal else []
    if len(errors) < 2:
        errors = [values[t] - values[t - 1] for t in range(1, len(values))]
    method = Method.seasonal_naive if seasonal else Method.naive
    points = []
    for step in range(1, horizon + 1):
        if seasonal:
            value = values[len(values) - season + (step - 1) % season]
            reach = (step - 1) // season + 1
        else:
            value = values[-1]
            reach = step
        if len(errors) >= 2:
            half_width = _quantile(sorted(abs(error) for error in errors), level) * math.sqrt(reach)
        else:
            half_width = NormalDist().inv_cdf((1 + level) / 2) * math.sqrt(max(value, 1.0) * reach)
        points.append(_point(step, value, value - half_width, value + half_width))
    return DemandForecast(method, level, tuple(points), note=note)


def _point(step: int, value: float, low: float, high: float) -> ForecastPoint:
    value = max(value, 0.0)
    # Simulated quantiles can, rarely, miss the mean forecast; the interval always holds its own point.
    return ForecastPoint(step, value, max(min(low, value), 0.0), max(high, value))


def _quantile(ordered: Sequence[float], level: float) -> float:
    """Linear-interpolation quantile of sorted values (numpy's default), without importing numpy."""
    position = (len(ordered) - 1) * level
    below = math.floor(position)
    above = min(below + 1, len(ordered) - 1)
    return ordered[below] + (ordered[above] - ordered[below]) * (position - below)


def series_from_counts(counts: Mapping[date, int], *, frequency: Frequency, last: date) -> list[int]:
    """A gap-free series from per-period counts (periods with no contacts are 0), ending at ``last``."""
    if not counts:
        return []
    for period in counts:
        frequency.check_start(period)
    first = min(counts)
    series: list[int] = []
    period = first
    while period <= last:
        series.append(counts.get(period, 0))
        period = frequency.following(period, 1)
    return series
