"""Which scheduled report is due when: monthly, the month just ended; weekly, the ISO week that ended last Sunday,
showing the month that Sunday falls in. London time decides, across the clock changes."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from civicvoice.core.clock import LONDON
from exports.models import ReportFrequency
from exports.reports import Due, due_period


def test_monthly_is_the_month_just_ended_in_london_time() -> None:
    # 23:30 UTC on 31 March 2026 is 00:30 on 1 April in London (summer time): March is due.
    assert due_period(ReportFrequency.monthly, datetime(2026, 3, 31, 23, 30, tzinfo=UTC)) == Due(
        "2026-03", date(2026, 3, 1)
    )
    assert due_period(ReportFrequency.monthly, datetime(2026, 3, 31, 22, 30, tzinfo=UTC)) == Due(
        "2026-02", date(2026, 2, 1)
    )
    assert due_period(ReportFrequency.monthly, datetime(2027, 1, 1, 9, tzinfo=UTC)) == Due("2026-12", date(2026, 12, 1))


def test_weekly_is_the_week_ended_last_sunday_showing_its_month() -> None:
    monday = datetime(2026, 11, 30, 9, tzinfo=UTC)  # the week of 23 to 29 November ended yesterday
    assert due_period(ReportFrequency.weekly, monday) == Due("2026-W48", date(2026, 11, 1))
    sunday = datetime(2026, 11, 29, 20, tzinfo=UTC)  # that week has not ended yet
    assert due_period(ReportFrequency.weekly, sunday) == Due("2026-W47", date(2026, 11, 1))
    new_year = datetime(2027, 1, 4, 9, tzinfo=UTC)  # the week ending Sunday 3 January 2027 is ISO week 53 of 2026
    assert due_period(ReportFrequency.weekly, new_year) == Due("2026-W53", date(2027, 1, 1))


@settings(max_examples=40)
@given(st.datetimes(min_value=datetime(2001, 1, 1), max_value=datetime(2090, 1, 1), timezones=st.just(UTC)))
def test_a_period_is_due_once_it_has_ended_and_changes_exactly_when_the_next_one_ends(now: datetime) -> None:
    for frequency in ReportFrequency:
        due = due_period(frequency, now)
        assert due.month <= now.astimezone(LONDON).date()
        later = due_period(frequency, now + timedelta(days=1))
        assert later == due or later.period > due.period or later.period[:4] > due.period[:4]
    weekly = due_period(ReportFrequency.weekly, now)
    assert due_period(ReportFrequency.weekly, now + timedelta(days=7)) != weekly
