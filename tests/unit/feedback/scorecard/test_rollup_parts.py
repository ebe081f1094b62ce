"""The parts a month's counters are recomputed in: every counter in exactly one part, every mark and source
asking for parts that exist."""

from __future__ import annotations

from collections import Counter

from feedback.scorecard.models import COUNTERS
from feedback.scorecard.rollups import ALL_PARTS, PART_COUNTERS
from feedback.scorecard.upkeep import MARK_PARTS, SOURCE_PARTS


def test_every_counter_belongs_to_exactly_one_part() -> None:
    owners = Counter(name for names in PART_COUNTERS.values() for name in names)
    assert set(owners) == set(COUNTERS)
    assert set(owners.values()) == {1}


def test_marks_and_sources_ask_for_parts_that_exist() -> None:
    for parts in (*MARK_PARTS.values(), *SOURCE_PARTS.values()):
        assert parts and parts <= ALL_PARTS
    # What the daily run and the marks of earlier versions leave asks for the whole month.
    assert MARK_PARTS["month"] == MARK_PARTS["contact"] == ALL_PARTS
