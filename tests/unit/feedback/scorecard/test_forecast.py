"""Demand forecasts: Holt-Winters once there are two seasons, seasonal naive before, and their accuracy."""

from __future__ import annotations

import math
import subprocess
import sys
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from feedback.scorecard.forecast import (
    ForecastInputError,
    Frequency,
    Method,
    backtest,
    forecast_demand,
    frozen_error,
    series_from_counts,
)
from feedback.scorecard.formulas import ForecastError, wape

MONTHLY, WEEKLY = Frequency.monthly, Frequency.weekly


def seasonal_demand(months: int) -> list[float]:
    """Contacts with a yearly peak each January and a steady rise of 10 a month: what councils see."""
    return [1000 + 10 * t + 150 * math.cos(2 * math.pi * t / 12) + 20 * math.sin(t * 1.7) for t in range(months)]


def test_two_seasons_of_history_get_holt_winters_that_follows_trend_and_season() -> None:
    history = seasonal_demand(48)
    forecast = forecast_demand(history[:36], frequency=MONTHLY, horizon=12)
    assert forecast.method is Method.holt_winters
    assert len(forecast.points) == 12
    error = wape([round(value) for value in history[36:]], [point.value for point in forecast.points])
    assert error is not None and error < 0.05
    naive = forecast_demand(history[24:36], frequency=MONTHLY, horizon=12)
    naive_error = wape([round(value) for value in history[36:]], [point.value for point in naive.points])
    assert naive_error is not None and error < naive_error  # the trend is worth fitting
    for point in forecast.points:
        assert point.low < point.value < point.high


def test_holt_winters_intervals_are_reproducible() -> None:
    history = seasonal_demand(30)
    assert forecast_demand(history, frequency=MONTHLY, horizon=3) == forecast_demand(
        history, frequency=MONTHLY, horizon=3
    )


def test_under_two_seasons_the_forecast_is_last_years_same_month_with_an_empirical_interval() -> None:
    history = [100.0 + month for month in range(12)] + [110.0, 104.0, 118.0]  # 15 months
    forecast = forecast_demand(history, frequency=MONTHLY, horizon=13)
    assert forecast.method is Method.seasonal_naive
    assert "fewer than the two seasons (24)" in forecast.note
    # Errors against a year before: 10, 3, 16; their 95% quantile (linear) is 10 + 0.9 * 6 = 15.4.
    first = forecast.points[0]
    assert first.value == 103  # April of last year
    assert (first.low, first.high) == pytest.approx((87.6, 118.4))
    assert [point.value for point in forecast.points[:3]] == [103, 104, 105]
    thirteenth = forecast.points[12]  # April again, a season further on: the interval widens by sqrt(2)
    assert thirteenth.value == 103
    assert thirteenth.high - thirteenth.value == pytest.approx(15.4 * math.sqrt(2))


def test_under_one_season_the_forecast_is_the_last_value() -> None:
    forecast = forecast_demand([5, 7, 6], frequency=MONTHLY, horizon=2)
    assert forecast.method is Method.naive
    # Month-on-month changes 2 and -1: the 95% quantile of their sizes is 1 + 0.95 * 1 = 1.95.
    assert [point.value for point in forecast.points] == [6, 6]
    assert forecast.points[0].high == pytest.approx(7.95)
    assert forecast.points[1].high == pytest.approx(6 + 1.95 * math.sqrt(2))


def test_a_single_month_uses_the_spread_of_a_poisson_count() -> None:
    (point,) = forecast_demand([9], frequency=MONTHLY, horizon=1).points
    assert (point.low, point.value, point.high) == pytest.approx((9 - 1.959964 * 3, 9, 9 + 1.959964 * 3))


def test_a_series_that_never_varies_is_forecast_without_fitting() -> None:
    forecast = forecast_demand([0] * 30, frequency=MONTHLY, horizon=2)
    assert forecast.method is Method.seasonal_naive
    assert forecast.note == "the series does not vary"
    assert [(p.low, p.value, p.high) for p in forecast.points] == [(0, 0, 0), (0, 0, 0)]


def test_weekly_series_need_two_years_for_holt_winters() -> None:
    weeks = [200 + 30 * math.sin(2 * math.pi * w / 52) for w in range(60)]
    forecast = forecast_demand(weeks, frequency=WEEKLY, horizon=4)
    assert forecast.method is Method.seasonal_naive
    assert forecast.points[0].value == weeks[8]


def test_counts_are_never_forecast_below_zero() -> None:
    falling = [float(max(0, 300 - 20 * t)) for t in range(12)] + [0.0, 0.0]
    for point in forecast_demand(falling, frequency=MONTHLY, horizon=12).points:
        assert point.low >= 0 and point.value >= 0


@pytest.mark.parametrize(
    ("history", "horizon", "level", "message"),
    [
        ([], 1, 0.95, "at least one period"),
        ([1, 2], 0, 0.95, "horizon"),
        ([1, 2], 1, 1.0, "level"),
        ([1, -2], 1, 0.95, "not negative"),
        ([1, math.nan], 1, 0.95, "finite"),
    ],
)
def test_history_that_cannot_be_forecast_says_why(
    history: list[float], horizon: int, level: float, message: str
) -> None:
    with pytest.raises(ForecastInputError, match=message) as caught:
        forecast_demand(history, frequency=MONTHLY, horizon=horizon, level=level)
    assert caught.value.status == 422


def test_periods_are_labelled_across_the_year_end() -> None:
    forecast = forecast_demand([10, 12], frequency=MONTHLY, horizon=2)
    assert [period for period, _ in forecast.periods(date(2026, 11, 1), MONTHLY)] == [
        date(2026, 12, 1),
        date(2027, 1, 1),
    ]
    assert WEEKLY.following(date(2026, 12, 28), 1) == date(2027, 1, 4)


def test_frozen_forecasts_are_compared_only_with_months_that_have_arrived() -> None:
    frozen = {date(2026, 1, 1): 100.0, date(2026, 2, 1): 120.0}
    actual = {date(2026, 2, 1): 100, date(2026, 3, 1): 90}
    assert frozen_error(frozen, actual) == ForecastError(absolute_error=20, actual=100)


def test_a_backtest_of_a_repeating_year_is_exact() -> None:
    year = [120, 100, 90, 80, 85, 95, 70, 60, 90, 110, 115, 130]
    assert backtest(year + year[:6], frequency=MONTHLY, first_origin=12).wape == 0.0
    with pytest.raises(ForecastInputError, match="inside the history"):
        backtest(year, frequency=MONTHLY, first_origin=12)


def test_series_fill_months_without_contacts_with_zero() -> None:
    counts = {date(2026, 11, 1): 5, date(2027, 1, 1): 7}
    assert series_from_counts(counts, frequency=MONTHLY, last=date(2027, 2, 1)) == [5, 0, 7, 0]
    assert series_from_counts({}, frequency=MONTHLY, last=date(2027, 2, 1)) == []
    weeks = {date(2026, 11, 30): 3, date(2026, 12, 14): 4}
    assert series_from_counts(weeks, frequency=WEEKLY, last=date(2026, 12, 21)) == [3, 0, 4, 0]


def test_periods_must_start_where_their_frequency_starts() -> None:
    with pytest.raises(ForecastInputError, match="starts on a Monday"):
        series_from_counts({date(2026, 12, 1): 3}, frequency=WEEKLY, last=date(2026, 12, 28))
    with pytest.raises(ForecastInputError, match="first day"):
        MONTHLY.following(date(2026, 12, 15), 1)


def test_importing_the_forecast_module_does_not_load_statsmodels() -> None:
    probe = "import sys, feedback.scorecard.forecast; print('statsmodels' in sys.modules, 'numpy' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["False", "False"]


@settings(max_examples=40)
@given(
    history=st.lists(st.integers(0, 5000), min_size=1, max_size=26),
    horizon=st.integers(1, 15),
    level=st.sampled_from([0.8, 0.95]),
)
def test_forecast_intervals_hold_their_point_forecast(history: list[int], horizon: int, level: float) -> None:
    forecast = forecast_demand(history, frequency=MONTHLY, horizon=horizon, level=level)
    assert [point.step for point in forecast.points] == list(range(1, horizon + 1))
    for point in forecast.points:
        assert 0 <= point.low <= point.value <= point.high
        assert math.isfinite(point.high)


@settings(max_examples=5)
@given(
    noise=st.lists(st.integers(-200, 200), min_size=24, max_size=30),
    horizon=st.integers(1, 12),
)
def test_holt_winters_intervals_hold_their_point_forecast(noise: list[int], horizon: int) -> None:
    history = [max(0.0, value + extra) for value, extra in zip(seasonal_demand(len(noise)), noise, strict=True)]
    forecast = forecast_demand(history, frequency=MONTHLY, horizon=horizon)
    for point in forecast.points:
        assert 0 <= point.low <= point.value <= point.high
