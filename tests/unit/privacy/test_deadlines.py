"""ICO time limits: the published examples, clarification pauses, extensions, and the shared working calendar."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from civicvoice.core.clock import LONDON
from civicvoice.core.errors import InvalidInput
from privacy.deadlines import (
    ClarificationPause,
    ExtensionRefused,
    InvalidTimeline,
    Region,
    RequestClock,
    WorkingCalendar,
    WorkingHours,
    add_calendar_months,
    clock_start,
    complaint_acknowledgement_due,
    days_left,
    deadline,
    extend,
    extension_allowed,
    is_overdue,
    london_day,
    queue_label,
    response_deadline,
)

ENGLAND = WorkingCalendar()
SCOTLAND = WorkingCalendar.of(Region.SCOTLAND)
NORTHERN_IRELAND = WorkingCalendar.of(Region.NORTHERN_IRELAND)


@pytest.mark.parametrize(
    ("received", "due"),
    [
        (date(2025, 1, 31), date(2025, 2, 28)),  # no 31 February: the month's last day
        (date(2026, 1, 31), date(2026, 3, 2)),  # 28 February 2026 is a Saturday
        (date(2019, 9, 27), date(2019, 10, 28)),  # 27 October 2019 is a Sunday
        (date(2019, 4, 6), date(2019, 5, 7)),  # 6 May 2019 was the early May bank holiday
        (date(2024, 1, 30), date(2024, 2, 29)),  # leap year
        (date(2025, 9, 3), date(2025, 10, 3)),  # the ICO's own example: corresponding date
        (date(2025, 11, 30), date(2025, 12, 30)),
        (date(2025, 11, 25), date(2025, 12, 29)),  # Christmas Day then Boxing Day then the weekend
    ],
)
def test_ico_examples(received: date, due: date) -> None:
    assert response_deadline(received, ENGLAND) == due


def test_regions_have_their_own_bank_holidays() -> None:
    # 2 January is a bank holiday in Scotland only; 17 March in Northern Ireland only; Easter Monday not in Scotland.
    assert response_deadline(date(2025, 12, 2), ENGLAND) == date(2026, 1, 2)
    assert response_deadline(date(2025, 12, 2), SCOTLAND) == date(2026, 1, 5)
    assert response_deadline(date(2026, 2, 17), NORTHERN_IRELAND) == date(2026, 3, 18)
    assert response_deadline(date(2026, 2, 17), ENGLAND) == date(2026, 3, 17)
    assert response_deadline(date(2026, 3, 6), ENGLAND) == date(2026, 4, 7)  # Good Friday, weekend, Easter Monday
    assert response_deadline(date(2026, 3, 6), SCOTLAND) == date(2026, 4, 6)


@pytest.mark.parametrize(
    ("raw", "region"),
    [
        ("ENG", Region.ENGLAND_AND_WALES),
        ("england-and-wales", Region.ENGLAND_AND_WALES),
        ("Wales", Region.ENGLAND_AND_WALES),
        ("sct", Region.SCOTLAND),
        ("scotland", Region.SCOTLAND),
        ("Northern Ireland", Region.NORTHERN_IRELAND),
        ("NIR", Region.NORTHERN_IRELAND),
    ],
)
def test_region_settings(raw: str, region: Region) -> None:
    assert Region.from_setting(raw) is region


def test_an_unknown_region_is_a_clear_error() -> None:
    with pytest.raises(InvalidInput, match="use one of england-and-wales, scotland"):
        Region.from_setting("Cornwall")


def test_council_closure_days_move_the_deadline() -> None:
    closures = WorkingCalendar.of(closure_days=[date(2025, 12, 29), date(2025, 12, 30), date(2025, 12, 31)])
    assert response_deadline(date(2025, 11, 29), ENGLAND) == date(2025, 12, 29)
    assert response_deadline(date(2025, 11, 29), closures) == date(2026, 1, 2)
    assert closures.why_closed(date(2025, 12, 30)) == "council closure day"
    assert closures.why_closed(date(2025, 12, 25)) == "bank holiday: Christmas Day"
    assert closures.why_closed(date(2025, 12, 27)) == "Saturday"
    assert closures.why_closed(date(2026, 1, 2)) is None


def test_the_clock_starts_at_the_latest_of_receipt_identity_and_fee() -> None:
    received = date(2026, 3, 2)
    assert clock_start(received) == received
    assert clock_start(received, identity_verified=date(2026, 3, 9)) == date(2026, 3, 9)
    assert clock_start(received, identity_verified=date(2026, 3, 9), fee_received=date(2026, 3, 12)) == date(
        2026, 3, 12
    )
    with pytest.raises(InvalidTimeline, match="before the request was received"):
        clock_start(received, identity_verified=date(2026, 3, 1))


def test_the_day_of_receipt_is_the_london_day() -> None:
    # 23:30 UTC on 30 June is 00:30 on 1 July in London (BST).
    assert london_day(datetime(2026, 6, 30, 23, 30, tzinfo=UTC)) == date(2026, 7, 1)
    with pytest.raises(ValueError, match="naive"):
        london_day(datetime(2026, 6, 30, 23, 30))


def test_a_clarification_pause_adds_its_days_and_the_deadline_is_unknown_while_waiting() -> None:
    started = date(2025, 9, 3)
    waiting = RequestClock(started, pauses=(ClarificationPause(date(2025, 9, 5)),))
    stopped = deadline(waiting, ENGLAND)
    assert stopped.is_paused and stopped.due is None and stopped.original_due is None
    resumed = RequestClock(started, pauses=(ClarificationPause(date(2025, 9, 5), date(2025, 9, 12)),))
    result = deadline(resumed, ENGLAND)
    assert result.paused_days == 7 and not result.is_paused
    assert result.due == date(2025, 10, 10)  # 3 October plus 7 days, a Friday


def test_impossible_pauses_are_refused_with_a_reason() -> None:
    started = date(2025, 9, 3)
    cases = [
        ((ClarificationPause(date(2025, 9, 1), date(2025, 9, 4)),), "before the clock had restarted"),
        ((ClarificationPause(date(2025, 9, 10), date(2025, 9, 8)),), "arrived before it was asked for"),
        ((ClarificationPause(date(2025, 9, 5)), ClarificationPause(date(2025, 9, 20))), "still awaited"),
        ((ClarificationPause(date(2025, 10, 7), date(2025, 10, 9)),), "after the deadline had passed"),
        (
            (
                ClarificationPause(date(2025, 9, 5), date(2025, 9, 12)),
                ClarificationPause(date(2025, 9, 10), date(2025, 9, 14)),
            ),
            "before the clock had restarted",
        ),
    ]
    for pauses, message in cases:
        with pytest.raises(InvalidTimeline, match=message):
            deadline(RequestClock(started, pauses=pauses), ENGLAND)


def test_an_extension_adds_months_to_the_original_deadline() -> None:
    clock = RequestClock(date(2025, 1, 31))
    extended = extend(clock, ENGLAND, months=2, reason=" Complex: 14 years of records ", notified_on=date(2025, 2, 10))
    result = deadline(extended, ENGLAND)
    assert result.original_due == date(2025, 2, 28)
    # Two months on the original 28 February, not three months on 31 January.
    assert result.due == date(2025, 4, 28)
    assert extended.extension is not None and extended.extension.reason == "Complex: 14 years of records"
    one_month = deadline(extend(clock, ENGLAND, months=1, reason="many", notified_on=date(2025, 2, 1)), ENGLAND)
    assert one_month.due == date(2025, 3, 28)
    # The original calendar date (Saturday 28 February 2026) is extended, not the Monday it moved to.
    weekend = RequestClock(date(2026, 1, 31))
    result = deadline(extend(weekend, ENGLAND, months=2, reason="r", notified_on=date(2026, 2, 2)), ENGLAND)
    assert result.original_due == date(2026, 3, 2) and result.due == date(2026, 4, 28)


def test_an_extension_must_be_notified_within_the_first_month() -> None:
    clock = RequestClock(date(2026, 1, 31))  # original deadline Monday 2 March
    assert extension_allowed(clock, ENGLAND, date(2026, 3, 2))
    assert not extension_allowed(clock, ENGLAND, date(2026, 3, 3))
    assert not extension_allowed(clock, ENGLAND, date(2026, 1, 30))
    with pytest.raises(ExtensionRefused, match="Too late to extend"):
        extend(clock, ENGLAND, months=2, reason="complex", notified_on=date(2026, 3, 3))
    # While the clock is stopped for clarification, the first month has not run out.
    waiting = RequestClock(date(2026, 1, 31), pauses=(ClarificationPause(date(2026, 2, 27)),))
    assert extension_allowed(waiting, ENGLAND, date(2026, 3, 20))


@pytest.mark.parametrize(
    ("months", "reason", "message"),
    [(3, "complex", "adds 1 or 2 months"), (0, "complex", "adds 1 or 2 months"), (2, "  ", "needs a reason")],
)
def test_bad_extensions_are_refused(months: int, reason: str, message: str) -> None:
    with pytest.raises(ExtensionRefused, match=message):
        extend(RequestClock(date(2026, 1, 5)), ENGLAND, months=months, reason=reason, notified_on=date(2026, 1, 6))


def test_a_request_is_extended_once() -> None:
    clock = extend(RequestClock(date(2026, 1, 5)), ENGLAND, months=1, reason="complex", notified_on=date(2026, 1, 6))
    assert not extension_allowed(clock, ENGLAND, date(2026, 1, 7))
    with pytest.raises(ExtensionRefused, match="already been extended"):
        extend(clock, ENGLAND, months=1, reason="again", notified_on=date(2026, 1, 7))


def test_days_left_for_the_dpo_queue() -> None:
    due = date(2026, 3, 2)
    assert days_left(due, date(2026, 2, 27)) == 3 and not is_overdue(due, date(2026, 2, 27))
    assert days_left(due, due) == 0 and not is_overdue(due, due)
    assert days_left(due, date(2026, 3, 4)) == -2 and is_overdue(due, date(2026, 3, 4))
    current = deadline(RequestClock(date(2026, 1, 31)), ENGLAND)
    assert queue_label(current, date(2026, 2, 27)) == "3 days left"
    assert queue_label(current, date(2026, 3, 1)) == "1 day left"
    assert queue_label(current, due) == "Due today"
    assert queue_label(current, date(2026, 3, 3)) == "Overdue by 1 day"
    assert queue_label(current, date(2026, 3, 4)) == "Overdue by 2 days"
    waiting = deadline(RequestClock(date(2026, 1, 31), pauses=(ClarificationPause(date(2026, 2, 2)),)), ENGLAND)
    assert queue_label(waiting, date(2026, 3, 4)) == "Clock stopped: waiting for clarification"


# --- the working calendar complaint cases share --------------------------------------------------------------


def test_working_days_skip_weekends_bank_holidays_and_closures() -> None:
    calendar = WorkingCalendar.of(closure_days=[date(2026, 4, 7)])
    # Thursday 2 April 2026; Good Friday 3, weekend, Easter Monday 6, closure 7.
    assert calendar.add_working_days(date(2026, 4, 2), 1) == date(2026, 4, 8)
    assert calendar.add_working_days(date(2026, 4, 2), 10) == date(2026, 4, 21)
    assert calendar.add_working_days(date(2026, 4, 4), 0) == date(2026, 4, 8)
    assert calendar.working_days_between(date(2026, 4, 2), date(2026, 4, 21)) == 10
    assert calendar.working_days_between(date(2026, 4, 21), date(2026, 4, 2)) == -10
    with pytest.raises(ValueError, match="negative"):
        calendar.add_working_days(date(2026, 4, 2), -1)


def test_due_times_count_opening_hours_only() -> None:
    friday_evening = datetime(2026, 4, 2, 18, 30, tzinfo=LONDON)  # Thursday before Good Friday
    assert ENGLAND.due_after_working_hours(friday_evening, 4) == datetime(2026, 4, 7, 13, 0, tzinfo=LONDON)
    morning = datetime(2026, 6, 10, 7, 0, tzinfo=UTC)  # 08:00 BST, before opening
    assert ENGLAND.due_after_working_hours(morning, 8) == datetime(2026, 6, 10, 17, 0, tzinfo=LONDON)
    afternoon = datetime(2026, 6, 10, 15, 0, tzinfo=LONDON)
    assert ENGLAND.due_after_working_hours(afternoon, 3) == datetime(2026, 6, 11, 10, 0, tzinfo=LONDON)
    # Across the autumn clock change the due time is still 10:00 wall-clock time.
    before_change = datetime(2026, 10, 23, 15, 0, tzinfo=LONDON)
    due = ENGLAND.due_after_working_hours(before_change, 3)
    assert due == datetime(2026, 10, 26, 10, 0, tzinfo=LONDON) and due.utcoffset() == timedelta(0)
    short_day = WorkingHours(time(10, 0), time(12, 30))
    assert ENGLAND.due_after_working_hours(afternoon, 3, short_day) == datetime(2026, 6, 12, 10, 30, tzinfo=LONDON)
    with pytest.raises(ValueError, match="naive"):
        ENGLAND.due_after_working_hours(datetime(2026, 6, 10, 9, 0), 1)


def test_working_hours_must_open_before_they_close() -> None:
    with pytest.raises(InvalidInput, match="open before they close"):
        WorkingHours(time(17, 0), time(9, 0))


# --- properties ----------------------------------------------------------------------------------------------

days = st.dates(min_value=date(2000, 1, 1), max_value=date(2090, 12, 31))
regions = st.sampled_from(list(Region))
closure_sets = st.frozensets(st.dates(min_value=date(2000, 1, 1), max_value=date(2091, 6, 30)), max_size=40)


@st.composite
def calendars(draw: st.DrawFn) -> WorkingCalendar:
    return WorkingCalendar(region=draw(regions), closure_days=draw(closure_sets))


@st.composite
def closed_pauses(draw: st.DrawFn, started: date) -> tuple[ClarificationPause, ...]:
    # Each asked within 18 days of the running clock, so always before the deadline it could pause.
    pauses: list[ClarificationPause] = []
    cursor = started
    for _ in range(draw(st.integers(0, 3))):
        asked = cursor + timedelta(days=draw(st.integers(0, 6)))
        received = asked + timedelta(days=draw(st.integers(0, 40)))
        pauses.append(ClarificationPause(asked, received))
        cursor = received
    return tuple(pauses)


@given(received=days, calendar=calendars())
def test_never_earlier_than_28_days_and_always_a_working_day(received: date, calendar: WorkingCalendar) -> None:
    due = response_deadline(received, calendar)
    assert due >= received + timedelta(days=28)
    assert calendar.is_working_day(due)
    # And no working day was skipped: the day before is either the calendar date's eve or closed.
    calendar_date = add_calendar_months(received, 1)
    assert all(
        not calendar.is_working_day(calendar_date + timedelta(days=n)) for n in range((due - calendar_date).days)
    )


@given(started=days, calendar=calendars(), data=st.data())
def test_paused_days_are_added_exactly(started: date, calendar: WorkingCalendar, data: st.DataObject) -> None:
    pauses = data.draw(closed_pauses(started))
    result = deadline(RequestClock(started, pauses=pauses), calendar)
    total = sum((p.received_on - p.asked_on).days for p in pauses if p.received_on)
    assert result.paused_days == total
    assert result.due == calendar.next_working_day(add_calendar_months(started, 1) + timedelta(days=total))
    assert result.due is not None and calendar.is_working_day(result.due)


@given(started=days, calendar=calendars(), months=st.integers(1, 2), data=st.data())
def test_an_extension_is_never_earlier_than_the_base_deadline(
    started: date, calendar: WorkingCalendar, months: int, data: st.DataObject
) -> None:
    pauses = data.draw(closed_pauses(started))
    clock = RequestClock(started, pauses=pauses)
    base = deadline(clock, calendar)
    assert base.due is not None
    extended = deadline(extend(clock, calendar, months=months, reason="complex", notified_on=started), calendar)
    assert extended.due is not None and extended.due >= base.due
    assert calendar.is_working_day(extended.due)


@given(start=days, count=st.integers(0, 60), calendar=calendars())
def test_working_days_round_trip(start: date, count: int, calendar: WorkingCalendar) -> None:
    later = calendar.add_working_days(start, count)
    assert calendar.is_working_day(later)
    if count:
        assert calendar.working_days_between(start, later) == count


@given(
    start=st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 12, 31), timezones=st.just(LONDON)),
    hours=st.floats(min_value=0, max_value=120, allow_nan=False),
)
def test_due_times_fall_within_opening_hours_of_a_working_day(start: datetime, hours: float) -> None:
    due = ENGLAND.due_after_working_hours(start, hours)
    assert due >= start
    opening = WorkingHours()
    local = due.astimezone(LONDON)
    if hours > 0 or not (ENGLAND.is_working_day(start.date()) and opening.opens <= start.time() <= opening.closes):
        assert ENGLAND.is_working_day(local.date())
        assert opening.opens <= local.time().replace(tzinfo=None) <= opening.closes


def test_a_complaint_is_acknowledged_within_30_days_counting_the_day_of_receipt() -> None:
    assert complaint_acknowledgement_due(date(2026, 1, 1)) == date(2026, 1, 30)
    assert complaint_acknowledgement_due(date(2026, 2, 15)) == date(2026, 3, 16)  # calendar days, weekends count
    assert complaint_acknowledgement_due(date(2024, 2, 1)) == date(2024, 3, 1)  # a leap year's 29 February counts
