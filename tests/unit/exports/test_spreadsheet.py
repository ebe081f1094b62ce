"""Streaming XLSX and CSV writers: every workbook is opened with openpyxl and read back as a person would."""

from __future__ import annotations

import asyncio
import csv
import gc
import io
import os
import tempfile
import tracemalloc
import zipfile
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook  # type: ignore[import-untyped]
from openpyxl.utils.escape import unescape  # type: ignore[import-untyped]

from exports import spreadsheet
from exports.cells import safe_text
from exports.spreadsheet import (
    MAX_WIDTH,
    MIN_WIDTH,
    AboutExport,
    Column,
    ExportError,
    ExportTooLarge,
    XlsxExport,
    csv_chunks,
    csv_chunks_async,
    write_csv,
    write_xlsx,
    xlsx_chunks,
)

COLUMNS = [
    Column("Date of contact"),
    Column("Service"),
    Column("Score"),
    Column("Comment", width=50),
    Column("Answered at"),
    Column("Resolved first time"),
    Column("Call length"),
]
ABOUT = AboutExport(
    title="Survey responses",
    created_by="dpo@example.gov.uk",
    created_at=datetime(2026, 6, 1, 8, 15, 42, tzinfo=UTC),
    filters={"Service": "Council Tax", "Search": '=HYPERLINK("http://evil")'},
)
ROWS: list[tuple[Any, ...]] = [
    (date(2026, 5, 1), "Council Tax", 5, "Quick and kind", datetime(2026, 5, 1, 9, 0, tzinfo=UTC), True, time(0, 4)),
    (date(2026, 5, 2), "Waste", 1, "=1+1", datetime(2026, 5, 2, 23, 30), False, None),
    (date(2026, 5, 3), None, 3.5, "  -cmd|' /C calc'!A0", None, None, time(0, 12, 30)),
    (date(2026, 5, 4), "Parking", Decimal("4.25"), "Bad\x00 line\x1b here\r\nnext & <tags> _x0041_", None, None, None),
]


def read(path: Path | io.BytesIO) -> Any:
    return load_workbook(path)


def test_cells_types_and_escaping_survive_a_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "responses.xlsx"
    assert write_xlsx(path, COLUMNS, ROWS, ABOUT, sheet_title="Responses") == 4
    workbook = read(path)
    assert workbook.sheetnames == ["Responses", "About this export"]
    sheet = workbook["Responses"]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == tuple(column.header for column in COLUMNS)
    assert all(cell.font.bold for cell in sheet[1])
    first, second, third, fourth = rows[1:]
    # Dates read back as dates (openpyxl gives datetimes at midnight), with a date format.
    assert first[0] == datetime(2026, 5, 1) and sheet["A2"].number_format == "yyyy-mm-dd"
    assert first[1:3] == ("Council Tax", 5) and isinstance(first[2], int)
    assert first[4] == datetime(2026, 5, 1, 10, 0)  # UTC 09:00 is 10:00 in London in May
    assert sheet["E2"].is_date and first[5] is True and second[5] is False
    assert first[6] == time(0, 4)
    assert second[3] == "'=1+1" and second[4] == datetime(2026, 5, 2, 23, 30)
    assert third[1] is None and third[2] == 3.5 and third[3] == "'  -cmd|' /C calc'!A0"
    assert fourth[2] == 4.25
    # Control characters gone, the rest kept, a carriage return kept, Excel's _xHHHH_ escape honoured.
    assert unescape(fourth[3]) == "Bad line here\r\nnext & <tags> _x0041_"
    assert not any(cell.data_type == "f" for row in sheet.iter_rows() for cell in row)


def test_frozen_header_filter_and_widths(tmp_path: Path) -> None:
    path = tmp_path / "responses.xlsx"
    write_xlsx(path, COLUMNS, ROWS, ABOUT)
    sheet = read(path)["Data"]
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == "A1:G5"
    widths = {letter: sheet.column_dimensions[letter].width for letter in "ABCDEFG"}
    assert widths["D"] == 50  # given
    assert all(MIN_WIDTH <= width <= MAX_WIDTH for width in widths.values())
    assert widths["A"] >= len("Date of contact") and widths["F"] >= len("Resolved first time")


def test_widths_follow_the_first_rows_but_stay_sensible(tmp_path: Path) -> None:
    path = tmp_path / "wide.xlsx"
    rows = [("x" * 500, 1), ("short", 2)]
    write_xlsx(path, [Column("Comment"), Column("N")], rows, ABOUT)
    sheet = read(path)["Data"]
    assert sheet.column_dimensions["A"].width == MAX_WIDTH
    assert sheet.column_dimensions["B"].width == MIN_WIDTH


def test_the_about_sheet_says_what_when_who_and_how_many(tmp_path: Path) -> None:
    path = tmp_path / "responses.xlsx"
    write_xlsx(path, COLUMNS, ROWS, ABOUT)
    about = {row[0]: row[1] for row in read(path)["About this export"].iter_rows(values_only=True) if row[0]}
    assert about["Export"] == "Survey responses"
    assert about["Filter: Service"] == "Council Tax"
    # A filter a person typed is escaped like any other text.
    assert about["Filter: Search"] == '\'=HYPERLINK("http://evil")'
    assert about["Created (London time)"] == datetime(2026, 6, 1, 9, 15, 42)
    assert about["Created by"] == "dpo@example.gov.uk"
    assert about["Rows"] == 4
    assert about["Data sheet"] == "Data"
    assert "added in front" in about["Formulas"]


def test_an_empty_export_still_opens_with_its_header_and_about_sheet(tmp_path: Path) -> None:
    path = tmp_path / "empty.xlsx"
    assert write_xlsx(path, COLUMNS, [], AboutExport("Cases", "admin", ABOUT.created_at)) == 0
    workbook = read(path)
    assert [row for row in workbook["Data"].iter_rows(values_only=True)] == [tuple(c.header for c in COLUMNS)]
    about = list(workbook["About this export"].iter_rows(values_only=True))
    assert ("Filter", "None: every row is included") in about and ("Rows", 0) in about


def test_dates_at_the_edge_of_excels_calendar(tmp_path: Path) -> None:
    path = tmp_path / "old.xlsx"
    days = [date(1900, 1, 1), date(1900, 2, 28), date(1900, 3, 1), date(2099, 12, 31), date(1899, 12, 31)]
    write_xlsx(path, [Column("Day")], [(day,) for day in days], ABOUT)
    values = [row[0] for row in read(path)["Data"].iter_rows(min_row=2, values_only=True)]
    assert values[:4] == [datetime(d.year, d.month, d.day) for d in days[:4]]
    assert values[4] == "1899-12-31"  # before Excel's first day: shown as written


@pytest.mark.parametrize(
    ("title", "message"),
    [("", "cannot be used"), ("x" * 32, "cannot be used"), ("a/b", "cannot be used"), ("'quoted", "cannot be used")],
)
def test_bad_sheet_titles_are_refused(title: str, message: str) -> None:
    with pytest.raises(ExportError, match=message):
        XlsxExport(COLUMNS, ABOUT, sheet_title=title)


def test_bad_input_is_refused_and_leaves_no_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    with pytest.raises(ExportError, match="Row 2 has 2 values for 7 columns"):
        write_xlsx(tmp_path / "bad.xlsx", COLUMNS, [ROWS[0], ("too", "short")], ABOUT)
    with pytest.raises(ExportError, match="at least one column"):
        write_xlsx(tmp_path / "bad.xlsx", [], [], ABOUT)
    with pytest.raises(ExportError, match="timezone-aware"):
        XlsxExport(COLUMNS, AboutExport("x", "y", datetime(2026, 1, 1)))
    with pytest.raises(TypeError, match="object cannot go into a spreadsheet cell"):
        write_xlsx(tmp_path / "bad.xlsx", [Column("x")], [(object(),)], ABOUT)
    with pytest.raises(ExportError, match="Row 1 has 1 values for 2 columns"):
        b"".join(csv_chunks([Column("a"), Column("b")], [("only one",)]))
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_more_rows_than_excel_holds_is_refused_with_what_to_do(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(spreadsheet, "MAX_DATA_ROWS", 3)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    with pytest.raises(ExportTooLarge, match="narrow the filter or export as CSV") as refused:
        write_xlsx(tmp_path / "big.xlsx", [Column("n")], [(n,) for n in range(4)], ABOUT)
    assert refused.value.status == 422
    assert os.listdir(tmp_path) == []


@settings(max_examples=25)
@given(texts=st.lists(st.text(), min_size=1, max_size=20))
def test_arbitrary_text_never_becomes_a_formula_in_a_workbook(texts: list[str]) -> None:
    target = io.BytesIO()
    write_xlsx(target, [Column("Comment")], [(text,) for text in texts], ABOUT)
    target.seek(0)
    sheet = read(target)["Data"]
    for number, text in enumerate(texts, start=2):
        cell = sheet.cell(row=number, column=1)
        assert cell.data_type != "f"
        expected = safe_text(text)
        # XML cannot say "empty string" in a cell any other way than no value.
        assert unescape(cell.value or "") == expected


# --- CSV ---------------------------------------------------------------------------------------------------


def test_csv_has_the_same_escaping_and_readable_values(tmp_path: Path) -> None:
    path = tmp_path / "responses.csv"
    assert write_csv(path, COLUMNS, ROWS) == 4
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # Excel reads UTF-8 only with the byte-order mark
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")))
    assert rows[0] == [column.header for column in COLUMNS]
    assert rows[1] == ["2026-05-01", "Council Tax", "5", "Quick and kind", "2026-05-01 10:00:00", "TRUE", "00:04:00"]
    assert rows[2][3] == "'=1+1" and rows[2][5] == "FALSE" and rows[2][6] == ""
    assert rows[3][3] == "'  -cmd|' /C calc'!A0" and rows[3][2] == "3.5"
    assert rows[4][3] == "Bad line here\r\nnext & <tags> _x0041_" and rows[4][2] == "4.25"


def test_csv_chunks_come_as_rows_arrive() -> None:
    consumed = 0

    def rows() -> Iterator[tuple[object, ...]]:
        nonlocal consumed
        for n in range(1000):
            consumed += 1
            yield (n, "comment " * 5)

    chunks = csv_chunks([Column("N"), Column("Comment")], rows(), chunk_bytes=1024)
    first = next(chunks)
    assert first.startswith(b"\xef\xbb\xbfN,Comment\r\n") and consumed < 50
    rest = list(chunks)
    assert consumed == 1000 and len(rest) > 10
    text = (first + b"".join(rest)).decode("utf-8-sig")
    assert len(list(csv.reader(io.StringIO(text, newline="")))) == 1001


async def _async_rows(count: int) -> AsyncIterator[tuple[object, ...]]:
    for n in range(count):
        if n % 100 == 0:
            await asyncio.sleep(0)
        yield (date(2026, 1, 1) + timedelta(days=n % 365), "Council Tax", n % 5 + 1, f"=comment {n}")


async def test_async_sources_stream_both_formats(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    columns = [Column("Date"), Column("Service"), Column("Score"), Column("Comment")]
    csv_text = b"".join([chunk async for chunk in csv_chunks_async(columns, _async_rows(5000))]).decode("utf-8-sig")
    csv_rows = list(csv.reader(io.StringIO(csv_text, newline="")))
    assert len(csv_rows) == 5001 and csv_rows[5000] == ["2026-09-12", "Council Tax", "5", "'=comment 4999"]

    chunks = [chunk async for chunk in xlsx_chunks(columns, _async_rows(5000), ABOUT, chunk_bytes=4096)]
    assert len(chunks) > 1 and all(len(chunk) <= 4096 for chunk in chunks)
    sheet = read(io.BytesIO(b"".join(chunks)))["Data"]
    last = next(sheet.iter_rows(min_row=5001, values_only=True))
    assert last == (datetime(2026, 9, 12), "Council Tax", 5, "'=comment 4999")
    assert os.listdir(tmp_path) == []  # the spooled workbook and the sheet file are gone


# --- constant memory ---------------------------------------------------------------------------------------


def _responses(count: int) -> Iterator[tuple[object, ...]]:
    start = date(2025, 1, 1)
    for n in range(count):
        yield (
            start + timedelta(days=n % 700),
            ("Council Tax", "Waste", "Parking", "Housing")[n % 4],
            ("phone", "email", "web chat")[n % 3],
            n % 5 + 1,
            f"Response {n}: the wait was {n % 40} minutes and the advisor was helpful",
        )


def _peak(write: Any, count: int) -> int:
    gc.collect()
    tracemalloc.start()
    try:
        write(count)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_memory_stays_flat_from_5_000_to_50_000_rows(tmp_path: Path) -> None:
    columns = [Column(h) for h in ("Date", "Service", "Channel", "Score", "Comment")]

    def xlsx(count: int) -> None:
        write_xlsx(tmp_path / f"{count}.xlsx", columns, _responses(count), ABOUT)

    def csv_file(count: int) -> None:
        write_csv(tmp_path / f"{count}.csv", columns, _responses(count))

    for write in (xlsx, csv_file):
        # Ten times the rows: a writer that kept rows would peak about ten times higher (bench/export_writer.py
        # measures 100,000 against 1,000,000 rows).
        small, large = _peak(write, 5_000), _peak(write, 50_000)
        assert large < small * 1.3, f"{write.__name__}: peak {small:,} bytes at 5k rows, {large:,} at 50k"
    with zipfile.ZipFile(tmp_path / "50000.xlsx") as package:
        assert package.testzip() is None
        assert package.read("xl/worksheets/sheet1.xml").count(b"<row ") == 50_001
