"""Streaming XLSX and CSV writers for exports and access packages: any number of rows in constant memory.

Imports no feature package, so privacy may use it too. Every value goes through the one escaping function,
``exports.cells.safe_cell``.

XLSX: an openpyxl write-only workbook holds the package (styles, workbook, the "About this export" sheet,
the frozen header, column widths and the autofilter, all through openpyxl's own objects). The data sheet's
rows are written by this module straight to a temporary file as SpreadsheetML, because openpyxl's per-cell
path (a Cell and an XML element per value) runs at about a third of xlsxwriter's speed; openpyxl then zips
that file like any write-only sheet. The zip is complete only on save, so the workbook is written to a
temporary file and streamed from there.
"""

from __future__ import annotations

import asyncio
import csv
import io
import math
import os
import re
import tempfile
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import IO

from openpyxl import Workbook  # type: ignore[import-untyped]
from openpyxl.cell import WriteOnlyCell  # type: ignore[import-untyped]
from openpyxl.packaging.relationship import RelationshipList  # type: ignore[import-untyped]
from openpyxl.styles import Alignment, Font  # type: ignore[import-untyped]
from openpyxl.utils import get_column_letter  # type: ignore[import-untyped]
from openpyxl.worksheet._write_only import WriteOnlyWorksheet  # type: ignore[import-untyped]
from openpyxl.xml.constants import SHEET_MAIN_NS  # type: ignore[import-untyped]
from openpyxl.xml.functions import tostring  # type: ignore[import-untyped]

from civicvoice.core.clock import LONDON
from civicvoice.core.errors import InvalidInput
from exports.cells import NEUTRALISER, CellValue, safe_cell, safe_text

Row = Sequence[object]
RowSource = Iterable[Row] | AsyncIterable[Row]

CHUNK_BYTES = 64 * 1024
# Widths are set before the first row is written (they come first in the sheet), so they are estimated from
# the first rows only; memory stays constant.
WIDTH_SAMPLE_ROWS = 200
MIN_WIDTH, MAX_WIDTH = 8.0, 60.0
# Rows handed to the writing thread at a time when they come from an async source.
THREAD_BATCH_ROWS = 2000
# Excel's limits: a sheet holds 1,048,576 rows (one is the header) and 16,384 columns.
MAX_DATA_ROWS = 1_048_575
MAX_COLUMNS = 16_384

DATE_FORMAT = "yyyy-mm-dd"
DATETIME_FORMAT = "yyyy-mm-dd hh:mm:ss"
TIME_FORMAT = "hh:mm:ss"

_FORMULA_NOTE = (
    f"Text that begins with =, +, -, @, a tab or a carriage return has a {NEUTRALISER} added in front, "
    "so that spreadsheet programs show it as written instead of running it as a formula."
)
_SHEET_TITLE_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")
_EXCEL_ESCAPE = re.compile(r"_(x[0-9A-Fa-f]{4}_)")
# Serial number of 30 December 1899, day 0 of Excel's 1900 date system.
_EXCEL_DAY_ZERO = date(1899, 12, 30).toordinal()


class ExportError(ValueError):
    """An export the calling code asked for wrongly (bad sheet title, a row of the wrong length): a bug."""


class ExportTooLarge(InvalidInput):
    """More rows than a workbook sheet can hold: the person narrows the filter or asks for CSV."""

    slug = "export-too-large"
    title = "Export too large for a spreadsheet"


@dataclass(frozen=True)
class Column:
    """One column: its header in plain English, and a width in characters when the estimate will not do."""

    header: str
    width: float | None = None


@dataclass(frozen=True)
class AboutExport:
    """What the "About this export" sheet says: what was exported, with which filter, when and by whom."""

    title: str
    created_by: str
    created_at: datetime
    # Filter names and values as a person would say them, e.g. {"Service": "Council Tax", "From": "1 May 2026"}.
    filters: Mapping[str, str] = field(default_factory=dict)
    notes: tuple[str, ...] = ()


def _check_sheet_title(title: str) -> str:
    if not title or len(title) > 31 or _SHEET_TITLE_FORBIDDEN.search(title) or title.startswith("'"):
        raise ExportError(
            f"Sheet title {title!r} cannot be used: 1 to 31 characters, none of [ ] : * ? / \\, no leading quote."
        )
    return title


def _xml_text(text: str) -> str:
    if "&" in text:
        text = text.replace("&", "&amp;")
    if "<" in text:
        text = text.replace("<", "&lt;")
    if ">" in text:
        text = text.replace(">", "&gt;")
    if "\r" in text:
        # A character reference, because XML readers turn a literal carriage return into a line feed.
        text = text.replace("\r", "&#13;")
    if "_x" in text:
        # Excel reads _xHHHH_ in any string as an escaped character; its own escape keeps the text as written.
        text = _EXCEL_ESCAPE.sub(r"_x005F_\1", text)
    return text


def _excel_day(day: date) -> int:
    serial = day.toordinal() - _EXCEL_DAY_ZERO
    # Excel counts a 29 February 1900 that never was; openpyxl and Excel agree on this shift.
    return serial - 1 if 0 < serial <= 60 else serial


def _day_fraction(moment: time | datetime) -> float:
    return (moment.hour * 3600 + moment.minute * 60 + moment.second + moment.microsecond / 1e6) / 86400


def _width_of(value: CellValue) -> float:
    if value is None:
        return 0.0
    if isinstance(value, str):
        return float(max((len(line) for line in value.splitlines()), default=0))
    if isinstance(value, datetime):
        return 19.0
    if isinstance(value, date):
        return 10.0
    if isinstance(value, time):
        return 8.0
    return float(len(str(value)))


class _DataSheet:
    """The data sheet, written as SpreadsheetML straight to a temporary file.

    It also stands in for openpyxl's worksheet writer (``out``, ``_rels``, ``write_rows``, ``write_tail``,
    ``close``, ``cleanup``), so openpyxl packages the finished file like any write-only sheet.
    """

    def __init__(self, worksheet: WriteOnlyWorksheet, columns: Sequence[Column], styles: Mapping[str, int]) -> None:
        self.worksheet = worksheet
        self.columns = tuple(columns)
        self.letters = [get_column_letter(n) for n in range(1, len(columns) + 1)]
        self.styles = styles
        descriptor, self.out = tempfile.mkstemp(prefix="civicvoice-sheet-", suffix=".xml")
        self._file: IO[str] | None = open(descriptor, "w", encoding="utf-8", newline="")  # noqa: SIM115
        self._rels = RelationshipList()
        self._sample: list[list[CellValue]] | None = []
        self.rows_written = 0

    # --- rows ------------------------------------------------------------------------------------------------

    def add(self, rows: Iterable[Row]) -> None:
        width = len(self.columns)
        for row in rows:
            if len(row) != width:
                raise ExportError(
                    f"Row {self.rows_written + 1} has {len(row)} values for {width} columns; nothing was guessed."
                )
            if self.rows_written >= MAX_DATA_ROWS:
                raise ExportTooLarge(
                    f"An Excel sheet holds at most {MAX_DATA_ROWS:,} rows; narrow the filter or export as CSV."
                )
            self.rows_written += 1
            values = [safe_text(v) if type(v) is str else safe_cell(v) for v in row]
            if self._sample is not None:
                self._sample.append(values)
                if len(self._sample) >= WIDTH_SAMPLE_ROWS:
                    self._start()
            else:
                self._write_row(self.rows_written + 1, values)

    def _start(self) -> None:
        """Widths from the sample, then everything up to the first data row, then the sampled rows."""
        sample, self._sample = self._sample or [], None
        sheet = self.worksheet
        for index, column in enumerate(self.columns):
            if column.width is not None:
                width = column.width
            else:
                widest = max([len(column.header) + 2.0, *(_width_of(values[index]) for values in sample)])
                width = min(MAX_WIDTH, max(MIN_WIDTH, widest + 2.0))
            sheet.column_dimensions[self.letters[index]].width = round(width, 1)
        sheet.freeze_panes = "A2"
        head = [
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n',
            f'<worksheet xmlns="{SHEET_MAIN_NS}">',
            tostring(sheet.sheet_properties.to_tree()).decode(),
            tostring(sheet.views.to_tree()).decode(),
            tostring(sheet.sheet_format.to_tree()).decode(),
            tostring(sheet.column_dimensions.to_tree()).decode() if self.columns else "",
            "<sheetData>",
        ]
        self._write("".join(head))
        header_style = self.styles["header"]
        self._write(
            '<row r="1">'
            + "".join(
                f'<c r="{letter}1" s="{header_style}" t="inlineStr"><is><t xml:space="preserve">'
                f"{_xml_text(safe_cell(column.header))}</t></is></c>"  # type: ignore[arg-type]
                for letter, column in zip(self.letters, self.columns, strict=True)
            )
            + "</row>"
        )
        for number, values in enumerate(sample, start=2):
            self._write_row(number, values)

    def _write(self, text: str) -> None:
        if self._file is None:
            raise ExportError("The data sheet is already finished.")
        self._file.write(text)

    def _write_row(self, number: int, values: list[CellValue]) -> None:
        parts = [f'<row r="{number}">']
        append = parts.append
        styles = self.styles
        for letter, value in zip(self.letters, values, strict=True):
            # safe_cell gives exact types only, so isinstance order matters just for bool (an int) and
            # datetime (a date).
            if isinstance(value, str):
                if value:
                    append(
                        f'<c r="{letter}{number}" t="inlineStr"><is><t xml:space="preserve">'
                        f"{_xml_text(value)}</t></is></c>"
                    )
            elif value is None:
                continue
            elif isinstance(value, bool):
                append(f'<c r="{letter}{number}" t="b"><v>{int(value)}</v></c>')
            elif isinstance(value, int | Decimal):
                append(f'<c r="{letter}{number}"><v>{value}</v></c>')
            elif isinstance(value, float):
                append(f'<c r="{letter}{number}"><v>{value!r}</v></c>')
            elif isinstance(value, datetime):
                serial = _excel_day(value)
                if serial < 1:  # before 1900: Excel has no such date, so it is shown as written
                    append(f'<c r="{letter}{number}" t="inlineStr"><is><t>{value.isoformat()}</t></is></c>')
                else:
                    moment = serial + _day_fraction(value)
                    append(f'<c r="{letter}{number}" s="{styles["datetime"]}"><v>{moment!r}</v></c>')
            elif isinstance(value, date):
                serial = _excel_day(value)
                if serial < 1:
                    append(f'<c r="{letter}{number}" t="inlineStr"><is><t>{value.isoformat()}</t></is></c>')
                else:
                    append(f'<c r="{letter}{number}" s="{styles["date"]}"><v>{serial}</v></c>')
            else:  # a time of day
                append(f'<c r="{letter}{number}" s="{styles["time"]}"><v>{_day_fraction(value)!r}</v></c>')
        append("</row>")
        self._write("".join(parts))

    def finish(self) -> None:
        if self._sample is not None:
            self._start()
        last = f"{self.letters[-1]}{self.rows_written + 1}" if self.letters else "A1"
        self.worksheet.auto_filter.ref = f"A1:{last}"
        self._write(
            "</sheetData>"
            + tostring(self.worksheet.auto_filter.to_tree()).decode()
            + tostring(self.worksheet.page_margins.to_tree()).decode()
            + "</worksheet>"
        )
        if self._file is not None:
            self._file.close()
            self._file = None

    # --- openpyxl's worksheet-writer interface, called when the workbook is saved ------------------------

    def write_rows(self) -> None:
        """Rows were written already."""

    def write_tail(self) -> None:
        """The tail was written by ``finish``."""

    def close(self) -> None:
        if self._file is not None:
            raise ExportError("The data sheet was saved before it was finished.")

    def cleanup(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        if os.path.exists(self.out):
            os.remove(self.out)


class XlsxExport:
    """One XLSX export: add rows in batches, then ``save``. Use as a context manager so temporary files go."""

    def __init__(self, columns: Sequence[Column], about: AboutExport, *, sheet_title: str = "Data") -> None:
        if not columns:
            raise ExportError("An export needs at least one column.")
        if len(columns) > MAX_COLUMNS:
            raise ExportError(f"A sheet holds at most {MAX_COLUMNS:,} columns.")
        if about.created_at.tzinfo is None:
            raise ExportError("The export's creation time must be timezone-aware.")
        self.about = about
        self.workbook = Workbook(write_only=True)
        data = self.workbook.create_sheet(_check_sheet_title(sheet_title))
        self._about_sheet = self.workbook.create_sheet("About this export")
        styles = {
            "header": self._style(data, bold=True),
            "date": self._style(data, number_format=DATE_FORMAT),
            "datetime": self._style(data, number_format=DATETIME_FORMAT),
            "time": self._style(data, number_format=TIME_FORMAT),
        }
        self._sheet = _DataSheet(data, columns, styles)
        # openpyxl packages the data sheet through this writer when the workbook is saved.
        data._writer = self._sheet
        data._hyperlinks = []
        data._comments = []

    @staticmethod
    def _style(sheet: WriteOnlyWorksheet, *, bold: bool = False, number_format: str | None = None) -> int:
        # Registers the style with the workbook and returns its index, the s="" of a cell.
        cell = WriteOnlyCell(sheet)
        if bold:
            cell.font = Font(bold=True)
            cell.alignment = Alignment(vertical="top")
        if number_format:
            cell.number_format = number_format
        return int(cell.style_id)

    @property
    def rows_written(self) -> int:
        return self._sheet.rows_written

    def add(self, rows: Iterable[Row]) -> None:
        self._sheet.add(rows)

    def _write_about(self) -> None:
        sheet = self._about_sheet
        sheet.column_dimensions["A"].width = 22
        sheet.column_dimensions["B"].width = 90
        about = self.about

        def label(text: str, *, size: float = 11) -> WriteOnlyCell:
            cell = WriteOnlyCell(sheet, value=safe_cell(text))
            cell.font = Font(bold=True, size=size)
            return cell

        def created(moment: datetime) -> WriteOnlyCell:
            cell = WriteOnlyCell(sheet, value=safe_cell(moment))
            cell.number_format = "d mmmm yyyy, hh:mm"
            cell.alignment = Alignment(horizontal="left")
            return cell

        sheet.append([label("About this export", size=14)])
        sheet.append([label("Export"), safe_cell(about.title)])
        if about.filters:
            for name, value in about.filters.items():
                sheet.append([label(f"Filter: {name}"), safe_cell(value)])
        else:
            sheet.append([label("Filter"), "None: every row is included"])
        sheet.append(
            [label("Created (London time)"), created(about.created_at.astimezone(LONDON).replace(microsecond=0))]
        )
        sheet.append([label("Created by"), safe_cell(about.created_by)])
        count = WriteOnlyCell(sheet, value=self.rows_written)
        count.alignment = Alignment(horizontal="left")
        sheet.append([label("Rows"), count])
        sheet.append([label("Data sheet"), safe_cell(self._sheet.worksheet.title)])
        sheet.append([label("Formulas"), _FORMULA_NOTE])
        for note in about.notes:
            sheet.append([label("Note"), safe_cell(note)])

    def save(self, target: str | Path | IO[bytes]) -> int:
        """Finish the workbook into ``target`` (a path or a binary file) and return the number of data rows."""
        self._sheet.finish()
        self._write_about()
        self.workbook.save(target)
        return self.rows_written

    def discard(self) -> None:
        self._sheet.cleanup()

    def __enter__(self) -> XlsxExport:
        return self

    def __exit__(self, *_: object) -> None:
        self.discard()


def write_xlsx(
    target: str | Path | IO[bytes],
    columns: Sequence[Column],
    rows: Iterable[Row],
    about: AboutExport,
    *,
    sheet_title: str = "Data",
) -> int:
    """Write rows to an XLSX workbook at ``target``; returns the number of data rows."""
    with XlsxExport(columns, about, sheet_title=sheet_title) as export:
        export.add(rows)
        return export.save(target)


async def _batches(rows: RowSource, size: int) -> AsyncIterator[list[Row]]:
    batch: list[Row] = []
    if isinstance(rows, AsyncIterable):
        async for row in rows:
            batch.append(row)
            if len(batch) >= size:
                yield batch
                batch = []
    else:
        for row in rows:
            batch.append(row)
            if len(batch) >= size:
                yield batch
                batch = []
    if batch:
        yield batch


async def write_xlsx_async(
    target: str | Path | IO[bytes],
    columns: Sequence[Column],
    rows: RowSource,
    about: AboutExport,
    *,
    sheet_title: str = "Data",
) -> int:
    """As ``write_xlsx``, for rows from the database: the writing runs in a thread, a batch at a time, so the
    event loop keeps serving other requests."""
    with XlsxExport(columns, about, sheet_title=sheet_title) as export:
        async for batch in _batches(rows, THREAD_BATCH_ROWS):
            await asyncio.to_thread(export.add, batch)
        return await asyncio.to_thread(export.save, target)


async def xlsx_chunks(
    columns: Sequence[Column],
    rows: RowSource,
    about: AboutExport,
    *,
    sheet_title: str = "Data",
    chunk_bytes: int = CHUNK_BYTES,
) -> AsyncIterator[bytes]:
    """The workbook as chunks for a streaming response: written to a temporary file first, because the zip
    is complete only when saved; the file is gone when the iteration ends or is abandoned."""
    with tempfile.TemporaryFile(prefix="civicvoice-export-") as spool:
        await write_xlsx_async(spool, columns, rows, about, sheet_title=sheet_title)
        spool.seek(0)
        while chunk := await asyncio.to_thread(spool.read, chunk_bytes):
            yield chunk


# --- CSV ---------------------------------------------------------------------------------------------------


def _csv_value(value: object) -> str | int | float | Decimal:
    """``safe_cell`` then CSV text, with the common types first: this runs once per value of every row."""
    kind = type(value)
    if kind is str:
        return safe_text(value)  # type: ignore[arg-type]
    if kind is int or (kind is float and math.isfinite(value)):  # type: ignore[arg-type]
        return value  # type: ignore[return-value]
    return _csv_text(safe_cell(value))


def _csv_text(value: CellValue) -> str | int | float | Decimal:
    if value is None:
        return ""
    if value is True:
        return "TRUE"
    if value is False:
        return "FALSE"
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, date | time):
        return value.isoformat()
    return value


class _CsvChunker:
    """Rows to CSV text, cut into chunks of about ``chunk_bytes``; UTF-8 with a byte-order mark so Excel
    reads accents and symbols right."""

    def __init__(self, columns: Sequence[Column], chunk_bytes: int) -> None:
        if not columns:
            raise ExportError("An export needs at least one column.")
        self.width = len(columns)
        self.chunk_bytes = chunk_bytes
        self.buffer = io.StringIO()
        self.writer = csv.writer(self.buffer, lineterminator="\r\n")
        self.buffer.write("\ufeff")
        self.writer.writerow([safe_cell(column.header) for column in columns])
        self.rows_written = 0

    def add(self, row: Row) -> bytes | None:
        if len(row) != self.width:
            raise ExportError(
                f"Row {self.rows_written + 1} has {len(row)} values for {self.width} columns; nothing was guessed."
            )
        self.rows_written += 1
        self.writer.writerow([safe_text(v) if type(v) is str else _csv_value(v) for v in row])
        if self.buffer.tell() >= self.chunk_bytes:
            return self.take()
        return None

    def take(self) -> bytes:
        chunk = self.buffer.getvalue().encode("utf-8")
        self.buffer.seek(0)
        self.buffer.truncate()
        return chunk


def csv_chunks(columns: Sequence[Column], rows: Iterable[Row], *, chunk_bytes: int = CHUNK_BYTES) -> Iterator[bytes]:
    """CSV as byte chunks, yielded as rows arrive: the header row first, then about ``chunk_bytes`` at a time."""
    chunker = _CsvChunker(columns, chunk_bytes)
    for row in rows:
        if (chunk := chunker.add(row)) is not None:
            yield chunk
    if tail := chunker.take():
        yield tail


async def csv_chunks_async(
    columns: Sequence[Column], rows: RowSource, *, chunk_bytes: int = CHUNK_BYTES
) -> AsyncIterator[bytes]:
    """As ``csv_chunks``, for rows from an async source (a database stream)."""
    chunker = _CsvChunker(columns, chunk_bytes)
    if isinstance(rows, AsyncIterable):
        async for row in rows:
            if (chunk := chunker.add(row)) is not None:
                yield chunk
    else:
        for row in rows:
            if (chunk := chunker.add(row)) is not None:
                yield chunk
    if tail := chunker.take():
        yield tail


def write_csv(target: str | Path | IO[bytes], columns: Sequence[Column], rows: Iterable[Row]) -> int:
    """Write rows to a CSV file; returns the number of data rows."""
    count = 0

    def counted() -> Iterator[Row]:
        nonlocal count
        for row in rows:
            count += 1
            yield row

    if isinstance(target, str | Path):
        with open(target, "wb") as file:
            for chunk in csv_chunks(columns, counted()):
                file.write(chunk)
    else:
        for chunk in csv_chunks(columns, counted()):
            target.write(chunk)
    return count


__all__ = [
    "AboutExport",
    "Column",
    "ExportError",
    "ExportTooLarge",
    "Row",
    "RowSource",
    "XlsxExport",
    "csv_chunks",
    "csv_chunks_async",
    "write_csv",
    "write_xlsx",
    "write_xlsx_async",
    "xlsx_chunks",
]
