"""Closure days as a council gives them: one checked entry, or a CSV file refused whole on any bad line."""

from __future__ import annotations

from datetime import date

import pytest

from civicvoice.core.errors import InvalidInput
from privacy.closures import Closure, closure, parse_closures, parse_day


def test_a_closure_needs_a_real_day_and_a_reason() -> None:
    assert closure("2026-12-29", "  Christmas\n closure ") == Closure(date(2026, 12, 29), "Christmas closure")
    with pytest.raises(InvalidInput, match="YYYY-MM-DD, not '29/12/2026'"):
        closure("29/12/2026", "Christmas closure")
    with pytest.raises(InvalidInput, match="Say why the council is closed on 2026-12-29"):
        closure(date(2026, 12, 29), "   ")
    with pytest.raises(InvalidInput, match="at most 200 characters"):
        closure(date(2026, 12, 29), "x" * 201)
    assert parse_day(" 2027-01-04 ") == date(2027, 1, 4)


def test_a_file_of_closures_is_read_in_order() -> None:
    text = 'day,reason\n2026-12-31,Christmas closure\n\n2026-12-29,"Christmas closure, day one"\n'
    assert parse_closures(text) == [
        Closure(date(2026, 12, 29), "Christmas closure, day one"),
        Closure(date(2026, 12, 31), "Christmas closure"),
    ]


def test_a_file_with_any_bad_line_is_refused_whole_with_line_numbers() -> None:
    text = "2026-12-29,Christmas\n2026-13-01,Impossible\n2026-12-30\n2026-12-29,Again\n2026-12-31,\n"
    with pytest.raises(InvalidInput) as refused:
        parse_closures(text)
    detail = refused.value.detail
    assert detail.startswith("Nothing was imported.")
    assert "line 2: Give a date as YYYY-MM-DD, not '2026-13-01'" in detail
    assert "line 3: expected a date and a reason" in detail
    assert "line 4: 2026-12-29 is listed twice" in detail
    assert "line 5: Say why" in detail
