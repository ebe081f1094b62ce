"""The stored form of a rollup: columns summed over any split of the data read back as the merge of the parts, and
as the rollup of the whole; month arithmetic in Europe/London."""

from __future__ import annotations

from datetime import UTC, date, datetime
from itertools import pairwise

from hypothesis import given
from hypothesis import strategies as st

from feedback.scorecard.figures import ScopeRollup
from feedback.scorecard.formulas import ContactFacts, ContactRollup, Counts, ServiceLevelThresholds
from feedback.scorecard.models import COUNTERS
from feedback.scorecard.rollups import (
    as_scope_rollup,
    columns_rollup,
    month_bounds,
    month_start,
    next_month,
    previous_month,
    rollup_columns,
)

THRESHOLDS = ServiceLevelThresholds()
facts = st.builds(
    ContactFacts,
    channel=st.sampled_from(["phone", "email", "web_chat"]),
    wait_seconds=st.none() | st.integers(0, 10_000),
    handling_seconds=st.none() | st.integers(0, 10_000),
    transferred=st.booleans(),
    first_contact_resolved=st.none() | st.booleans(),
)


def stored(contacts: list[ContactFacts]) -> dict[str, dict[str, int]]:
    """Rows per channel, as the rollup table holds them."""
    rows: dict[str, dict[str, int]] = {}
    for channel in {c.channel for c in contacts}:
        rollup = ContactRollup.of([c for c in contacts if c.channel == channel], THRESHOLDS)
        rows[channel] = rollup_columns(ScopeRollup(contacts=rollup))
    return rows


@given(st.lists(facts, max_size=40), st.lists(st.integers(0, 40), max_size=4))
def test_columns_of_any_split_sum_to_the_rollup_of_the_whole(contacts: list[ContactFacts], cuts: list[int]) -> None:
    bounds = sorted({min(cut, len(contacts)) for cut in cuts} | {0, len(contacts)})
    parts = [contacts[a:b] for a, b in pairwise(bounds)]
    summed: dict[str, dict[str, int]] = {}
    for part in parts:
        for channel, row in stored(part).items():
            into = summed.setdefault(channel, dict.fromkeys(COUNTERS, 0))
            for name in COUNTERS:
                into[name] += row[name]
    whole = ContactRollup.of(contacts, THRESHOLDS)
    assert as_scope_rollup(summed).contacts == whole
    merged = ContactRollup()
    for part in parts:
        merged = merged.merge(ContactRollup.of(part, THRESHOLDS))
    assert merged == whole


def test_columns_round_trip() -> None:
    rollup = ScopeRollup(contacts=ContactRollup.of([ContactFacts("phone", 10, 100, True, True)], THRESHOLDS))
    assert columns_rollup(rollup_columns(rollup), Counts.of(["phone"])) == rollup


def test_months_are_london_months() -> None:
    # 23:30 UTC on 31 May is 00:30 on 1 June in London (BST).
    assert month_start(datetime(2026, 5, 31, 23, 30, tzinfo=UTC)) == date(2026, 6, 1)
    assert month_bounds(date(2026, 6, 1))[0] == datetime(2026, 5, 31, 23, 0, tzinfo=UTC)
    assert month_bounds(date(2026, 1, 1))[0] == datetime(2026, 1, 1, 0, 0, tzinfo=UTC)
    assert next_month(date(2026, 12, 1)) == date(2027, 1, 1)
    assert previous_month(date(2026, 1, 1)) == date(2025, 12, 1)
