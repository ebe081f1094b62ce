"""The one cell-escaping function: no text opens as a formula, values keep their types, text is kept."""

from __future__ import annotations

import enum
import math
import uuid
from datetime import UTC, date, datetime, time, timezone
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from exports.cells import holdable_text, safe_cell, safe_text

# Written out here rather than imported, so the tests state the rule independently of the code.
TRIGGERS = "=+-@\t\r\uff1d\uff0b\uff0d\uff20"
UNHOLDABLE = {*map(chr, range(0x20))} - {"\t", "\n", "\r"} | set(map(chr, (0xFFFE, 0xFFFF, 0xD800, 0xDBFF, 0xDFFF)))


def opens_as_formula(text: str) -> bool:
    """What a spreadsheet does: a trigger first, or after any leading whitespace."""
    stripped = text.lstrip()
    return text[:1] in ("\t", "\r") or (bool(stripped) and stripped[0] in TRIGGERS)


def without_unholdable(text: str) -> str:
    return "".join(c for c in text if c not in UNHOLDABLE and not 0xD800 <= ord(c) <= 0xDFFF)


@pytest.mark.parametrize(
    ("text", "cell"),
    [
        ("=SUM(A1:A9)", "'=SUM(A1:A9)"),
        ("+44 7700 900123", "'+44 7700 900123"),
        ("-2+3+cmd|' /C calc'!A0", "'-2+3+cmd|' /C calc'!A0"),
        ("@SUM(1)", "'@SUM(1)"),
        ("\t=1", "'\t=1"),
        ("\rhello", "'\rhello"),
        ('   =HYPERLINK("http://x")', '\'   =HYPERLINK("http://x")'),
        ("\n\n=1+1", "'\n\n=1+1"),
        ("\uff1d1+1", "'\uff1d1+1"),
        ("Very good, 10/10 = happy", "Very good, 10/10 = happy"),
        ("", ""),
        ("   ", "   "),
        ("'=1", "'=1"),
    ],
)
def test_formula_text_is_neutralised_and_other_text_is_not(text: str, cell: str) -> None:
    assert safe_cell(text) == cell


def test_control_characters_a_workbook_cannot_hold_go_and_the_rest_stays() -> None:
    assert safe_text("Bad\x00 service\x07, long\x1b wait\x0b.\tTab\nline\rreturn") == (
        "Bad service, long wait.\tTab\nline\rreturn"
    )
    # Removing them can expose a formula, which is then neutralised too.
    assert safe_text("\x00=1+1") == "'=1+1"
    assert holdable_text("ok\ufffe\uffff\ud800") == "ok"


class Channel(enum.Enum):
    PHONE = "phone"
    SCORE = 5


class Sign(enum.StrEnum):
    MINUS = "-1"


def test_values_keep_their_types() -> None:
    day = date(2026, 5, 6)
    naive = datetime(2026, 5, 6, 9, 30)
    for value in (None, 0, -7, 3.25, Decimal("-1.50"), True, False, day, naive, time(9, 30)):
        assert safe_cell(value) == value and type(safe_cell(value)) is type(value)
    # Spreadsheets hold no time zone: aware times become London wall-clock time (BST here).
    assert safe_cell(datetime(2026, 5, 6, 8, 30, tzinfo=UTC)) == naive
    assert safe_cell(datetime(2026, 1, 6, 8, 30, tzinfo=timezone.utc)) == datetime(2026, 1, 6, 8, 30)  # noqa: UP017
    identifier = uuid.UUID("0190f5a4-0000-7000-8000-000000000001")
    assert safe_cell(identifier) == str(identifier)
    assert safe_cell(Channel.PHONE) == "phone" and safe_cell(Channel.SCORE) == 5
    assert safe_cell(Sign.MINUS) == "'-1"
    assert safe_cell(math.nan) == "nan" and safe_cell(-math.inf) == "'-inf"
    assert safe_cell(Decimal("-Infinity")) == "'-Infinity"


def test_values_that_cannot_go_into_a_cell_are_a_clear_error() -> None:
    with pytest.raises(TypeError, match="dict cannot go into a spreadsheet cell"):
        safe_cell({"a": 1})
    with pytest.raises(TypeError, match="time zone"):
        safe_cell(time(9, 30, tzinfo=UTC))


any_text = st.text(st.one_of(st.characters(), st.sampled_from(sorted(UNHOLDABLE))))
leading = st.sampled_from(["", " ", "   ", "\t", "\r", "\n", " \r\n"])


@given(text=any_text | st.builds(lambda a, b, c: a + b + c, leading, st.sampled_from(list(TRIGGERS)), any_text))
def test_no_text_ever_opens_as_a_formula_and_the_text_is_kept(text: str) -> None:
    cell = safe_text(text)
    assert not opens_as_formula(cell)
    kept = without_unholdable(text)
    if opens_as_formula(kept):
        assert cell == "'" + kept
    else:
        assert cell == kept
    assert safe_text(cell) == cell  # escaping twice changes nothing
