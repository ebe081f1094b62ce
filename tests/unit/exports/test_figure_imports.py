"""Reading a figures file (no database): columns by their plain-English headers, months from text or Excel dates,
measures by code or by name, numbers as people write them, each unusable row refused with its row number."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from exports.figure_imports import parse_figures
from exports.imports import ImportRefused
from tests.unit.exports.test_imports import workbook_bytes


def test_rows_become_figures_and_unusable_rows_are_refused_by_number() -> None:
    content = workbook_bytes(
        [
            ["MONTH", "service", "Measure", "Team", "Figure"],
            [datetime(2026, 10, 15), "parking", "Utilisation", "Permits", 81.5],  # a date cell, a measure's name
            ["2026-10", "parking", "ict-reliability", None, "99.5%"],
            ["2026-10", "parking", "staff-leaving", "Permits", "1,200"],
            ["Oct 26", "parking", "utilisation", "", 5],
            ["2026-10", "", "utilisation", "", 5],
            ["2026-10", "parking", "", "", 5],
            ["2026-10", "parking", "utilisation", "", "-3"],
            ["2026-10", "parking", "utilisation", "", True],
            ["2026-10", "Parking", "UTILISATION", "permits", 80],
        ]
    )
    figures, refused = parse_figures(content)
    assert [(f.row, f.month, f.service, f.measure, f.team, f.value) for f in figures] == [
        (2, date(2026, 10, 1), "parking", "utilisation", "Permits", 81.5),
        (3, date(2026, 10, 1), "parking", "ict-reliability", "", 99.5),
        (4, date(2026, 10, 1), "parking", "staff-leaving", "Permits", 1200.0),
    ]
    assert [(r.row, r.field) for r in refused] == [
        (5, "month"),
        (6, "service"),
        (7, "measure"),
        (8, "value"),
        (9, "value"),
        (10, "row"),
    ]
    assert "Repeats row 2" in refused[-1].reason


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("Month,Service,Measure,Value,Person", "Unknown column: Person"),
        ("Month,Service,Value", "needs a column for: measure"),
        ("Month,Service,Measure,Value,Figure", "More than one column fills value"),
    ],
    ids=["unknown", "missing", "repeated"],
)
def test_a_file_whose_columns_cannot_be_mapped_is_refused(header: str, message: str) -> None:
    with pytest.raises(ImportRefused, match=message):
        parse_figures(f"{header}\r\n2026-10,parking,utilisation,5,5\r\n".encode())


def test_a_file_of_more_figures_than_a_request_stores_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("exports.figure_imports.MAX_FIGURE_ROWS", 2)
    rows = "".join(f"2026-10,parking,utilisation,T{n},5\r\n" for n in range(3))
    with pytest.raises(ImportRefused, match="more than 2 figures"):
        parse_figures(f"Month,Service,Measure,Team,Value\r\n{rows}".encode())
