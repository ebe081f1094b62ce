"""Complaint case deadlines on the council's working-day calendar: by hand around Christmas, and by property."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from civicvoice.core.settings import Settings
from feedback.cases import CasePolicy, CaseStatus, ComplaintCase, stage_deadlines
from privacy.deadlines import Region, WorkingCalendar

CALENDAR = WorkingCalendar.of()
days = st.dates(min_value=date(2025, 1, 1), max_value=date(2030, 12, 31))
allowed = st.integers(min_value=1, max_value=40)
regions = st.sampled_from(list(Region))


def test_the_complaint_handling_code_by_hand() -> None:
    # Received Friday 18 December 2026: 5 working days skip the weekend, Christmas Day and Boxing Day (observed
    # on Monday 28th): acknowledged by Tuesday 29 December.
    found = stage_deadlines(CALENDAR, CasePolicy(), received=date(2026, 12, 18))
    assert found.acknowledge == date(2026, 12, 29) and found.stage1 is None and found.stage2 is None
    # Acknowledged Monday 21 December: 10 working days, not 25 or 28 December or 1 January: 7 January.
    assert stage_deadlines(
        CALENDAR, CasePolicy(), received=date(2026, 12, 18), acknowledged=date(2026, 12, 21)
    ).stage1 == date(2027, 1, 7)
    assert stage_deadlines(
        CALENDAR, CasePolicy(), received=date(2026, 12, 18), escalated=date(2027, 1, 11)
    ).stage2 == date(2027, 2, 8)


def test_a_council_sets_its_own_days() -> None:
    policy = CasePolicy.from_settings(
        Settings.from_env({"CIVICVOICE_CASE_ACKNOWLEDGE_DAYS": "3", "CIVICVOICE_CASE_STAGE2_DAYS": "25"})
    )
    assert policy == CasePolicy(acknowledge_days=3, stage1_days=10, stage2_days=25)
    # Monday 7 December 2026 + 3 working days: Thursday 10th.
    assert stage_deadlines(CALENDAR, policy, received=date(2026, 12, 7)).acknowledge == date(2026, 12, 10)


@given(received=days, policy_days=allowed, region=regions)
def test_every_deadline_is_a_working_day_exactly_that_many_working_days_on(
    received: date, policy_days: int, region: Region
) -> None:
    calendar = WorkingCalendar.of(region)
    policy = CasePolicy(policy_days, policy_days, policy_days)
    found = stage_deadlines(calendar, policy, received=received, acknowledged=received, escalated=received)
    for due in (found.acknowledge, found.stage1, found.stage2):
        assert due is not None
        assert calendar.is_working_day(due)
        assert calendar.working_days_between(received, due) == policy_days
        # No earlier day would do: the day before is short of the working days allowed.
        assert calendar.working_days_between(received, due - timedelta(days=1)) == policy_days - 1


@given(first=days, gap=st.integers(min_value=0, max_value=60), policy_days=allowed)
def test_a_later_complaint_is_never_due_earlier(first: date, gap: int, policy_days: int) -> None:
    policy = CasePolicy(acknowledge_days=policy_days)
    earlier = stage_deadlines(CALENDAR, policy, received=first).acknowledge
    later = stage_deadlines(CALENDAR, policy, received=first + timedelta(days=gap)).acknowledge
    assert later >= earlier


@given(received=days, shorter=allowed, extra=st.integers(min_value=0, max_value=20))
def test_more_days_allowed_is_never_due_sooner(received: date, shorter: int, extra: int) -> None:
    sooner = stage_deadlines(CALENDAR, CasePolicy(acknowledge_days=shorter), received=received).acknowledge
    later = stage_deadlines(CALENDAR, CasePolicy(acknowledge_days=shorter + extra), received=received).acknowledge
    assert later >= sooner
    assert CALENDAR.working_days_between(sooner, later) == extra


@given(received=days, today_offset=st.integers(min_value=-10, max_value=40))
def test_a_case_is_overdue_exactly_after_its_next_deadline(received: date, today_offset: int) -> None:
    due = stage_deadlines(CALENDAR, CasePolicy(), received=received).acknowledge
    case = ComplaintCase(status=CaseStatus.received, received_on=received, acknowledge_due=due)
    today = received + timedelta(days=today_offset)
    assert case.due == due
    assert case.overdue(today) is (today > due)
    closed = ComplaintCase(status=CaseStatus.closed, received_on=received, acknowledge_due=due)
    assert closed.due is None and not closed.overdue(today)


@pytest.mark.parametrize(
    ("name", "raw", "message"),
    [
        ("CASE_STAGE1_DAYS", "0", "between 1 and 120"),
        ("CALLBACK_HOURS", "many", "whole number"),
        ("EVALUATION_SAMPLE_RATE", "0", "above 0"),
        ("EVALUATION_SAMPLE_RATE", "1.5", "above 0"),
    ],
)
def test_the_quality_settings_refuse_nonsense(name: str, raw: str, message: str) -> None:
    from civicvoice.core.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match=message):
        Settings.from_env({f"CIVICVOICE_{name}": raw})
