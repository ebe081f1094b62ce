"""Bulk import of contact events from a spreadsheet (XLSX or CSV), for contact systems that cannot call the API.

Columns are mapped by their header. Every row becomes a `ContactEvent` through the API's own schema (strict
msgspec conversion, the same constraints) and goes through the API's own batch writer,
`ContactIntake.report_many`, which commits each batch as the API's batch endpoint does: the same checks
(service, time, identifiers), the same idempotency on (source, external id), so importing a file twice adds
nothing. Good rows are imported; each rejected row is reported with its
row number and the reason.

The file is read and every row mapped before anything is written, so a file that cannot be read (not a
spreadsheet, too large, a zip bomb, an XML entity attack, malformed) changes nothing. Workbooks are opened by
openpyxl, which parses their XML through defusedxml.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any

import msgspec
import openpyxl  # type: ignore[import-untyped]
from defusedxml import DefusedXmlException  # type: ignore[import-untyped]
from sqlalchemy.ext.asyncio import AsyncSession

from civicvoice.core.audit import Actor, record
from civicvoice.core.clock import LONDON
from civicvoice.core.errors import CivicVoiceError, InvalidInput
from surveys.intake import ContactIntake
from surveys.schemas import ContactEvent

# openpyxl reads XML through defusedxml only when it is installed (and not switched off): insist on it.
if not openpyxl.DEFUSEDXML:  # pragma: no cover - a broken installation
    raise ImportError("defusedxml must be installed (and OPENPYXL_DEFUSEDXML not False) to import workbooks safely")

MAX_FILE_BYTES = 10 * 1024 * 1024
MAX_ROWS = 50_000
# A workbook whose parts unpack to more than this, or any part to more than RATIO times its packed size, is
# refused unopened: a zip bomb.
MAX_UNPACKED_BYTES = 200 * 1024 * 1024
MAX_RATIO = 200
# Events handed to the writer at a time (the API's batches are at most 1,000).
BATCH = 500
MAX_COLUMNS = 64

_ZIP = b"PK\x03\x04"
_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # the old binary .xls format


class ImportRefused(InvalidInput):
    """The file as a whole cannot be imported; nothing was changed."""

    slug = "import-refused"
    title = "File cannot be imported"


class NotASpreadsheet(ImportRefused):
    slug = "not-a-spreadsheet"
    title = "Not a spreadsheet"
    status = 415


class FileTooLarge(ImportRefused):
    slug = "file-too-large"
    title = "File too large"
    status = 413


# Header (as people write it, normalised) -> the field of ContactEvent, "customer.x" for the customer's.
HEADERS: dict[str, str] = {
    "source": "source",
    "external id": "external_id",
    "contact id": "external_id",
    "reference": "external_id",
    "channel": "channel",
    "service": "service",
    "occurred at": "occurred_at",
    "occurred": "occurred_at",
    "date and time": "occurred_at",
    "agent": "agent_id",
    "agent id": "agent_id",
    "wait seconds": "wait_seconds",
    "handling seconds": "handling_seconds",
    "transferred": "transferred",
    "resolved first contact": "resolved_first_contact",
    "resolved first time": "resolved_first_contact",
    "customer id": "customer.source_id",
    "customer source id": "customer.source_id",
    "email": "customer.email",
    "customer email": "customer.email",
    "phone": "customer.phone",
    "customer phone": "customer.phone",
    "name": "customer.name",
    "customer name": "customer.name",
    "contact preference": "customer.contact_preference",
    "opted out": "customer.opted_out",
    "do not survey": "customer.do_not_survey",
}
REQUIRED = ("external_id", "channel", "service", "occurred_at")
_INTEGERS = frozenset({"wait_seconds", "handling_seconds"})
_BOOLEANS = frozenset({"transferred", "resolved_first_contact", "customer.opted_out", "customer.do_not_survey"})
_TRUE = frozenset({"yes", "y", "true", "1"})
_FALSE = frozenset({"no", "n", "false", "0"})
_HEADER_NOISE = re.compile(r"[\s_\-()]+")


def normalise_header(text: object) -> str:
    return _HEADER_NOISE.sub(" ", str(text if text is not None else "")).strip().lower()


@dataclass(frozen=True)
class RejectedRow:
    row: int  # the spreadsheet's row number (the header is row 1)
    reason: str
    field: str | None = None


@dataclass
class ImportReport:
    rows: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: list[RejectedRow] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "rejected": [{"row": r.row, "field": r.field, "reason": r.reason} for r in self.rejected],
        }


# --- reading the file ------------------------------------------------------------------------------------


def read_table(content: bytes, *, name: str = "") -> list[tuple[int, list[object]]]:
    """The file's first sheet as (row number, cells), header first; blank rows left out. ImportRefused when it
    is not a spreadsheet, too large, a zip bomb, carries an XML attack or cannot be read."""
    if len(content) > MAX_FILE_BYTES:
        raise FileTooLarge(
            f"The file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB; split it into smaller files."
        )
    if not content.strip():
        raise ImportRefused("The file is empty.", field="file")
    if content.startswith(_ZIP):
        rows = _xlsx_rows(content)
    elif content.startswith(_OLE):
        raise NotASpreadsheet(
            "This is an old-style Excel file (.xls); save it as an Excel workbook (.xlsx) or CSV.", field="file"
        )
    else:
        rows = _csv_rows(content)
    table: list[tuple[int, list[object]]] = []
    for number, cells in rows:
        if all(cell is None or (isinstance(cell, str) and not cell.strip()) for cell in cells):
            continue
        if len(table) > MAX_ROWS:
            raise FileTooLarge(f"The file has more than {MAX_ROWS:,} rows; split it into smaller files.")
        table.append((number, cells))
    if not table:
        raise ImportRefused("The file has no rows.", field="file")
    return table


def _csv_rows(content: bytes) -> Iterator[tuple[int, list[object]]]:
    if b"\x00" in content:
        raise NotASpreadsheet("The file is not a spreadsheet: upload an Excel workbook (.xlsx) or a CSV file.")
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        # Excel's "CSV" on Windows in the UK is Windows-1252.
        try:
            text = content.decode("cp1252")
        except UnicodeDecodeError:
            raise NotASpreadsheet("The CSV file's text encoding is not UTF-8 or Windows-1252.", field="file") from None
    if any(ord(c) < 32 and c not in "\t\r\n" for c in text[:4096]):
        raise NotASpreadsheet("The file is not a spreadsheet: upload an Excel workbook (.xlsx) or a CSV file.")
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        for number, cells in enumerate(reader, start=1):
            if len(cells) > MAX_COLUMNS:
                raise ImportRefused(f"Row {number} has more than {MAX_COLUMNS} columns.", field="file")
            yield number, list(cells)
    except csv.Error as exc:
        raise ImportRefused(f"The CSV file is malformed near row {reader.line_num}: {exc}.", field="file") from None


def _xlsx_rows(content: bytes) -> Iterator[tuple[int, list[object]]]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
        members = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError):
        raise ImportRefused("The workbook is damaged: it could not be opened as an .xlsx file.", field="file") from None
    unpacked = 0
    for member in members:
        unpacked += member.file_size
        packed = max(member.compress_size, 1)
        if unpacked > MAX_UNPACKED_BYTES or (member.file_size > MAX_RATIO * packed and member.file_size > 1024 * 1024):
            raise ImportRefused(
                "The workbook unpacks to far more than its size (a zip bomb); it was not opened.", field="file"
            )
    if "xl/workbook.xml" not in {m.filename for m in members}:
        raise NotASpreadsheet("The file is a zip archive, not an Excel workbook (.xlsx).", field="file")
    try:
        workbook = openpyxl.load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception as exc:  # whatever a damaged workbook makes openpyxl raise, the answer is the same
        raise _unreadable(exc, "it could not be read") from None
    try:
        sheet = workbook.worksheets[0]
        for number, cells in enumerate(sheet.iter_rows(values_only=True), start=1):
            yield number, list(cells[:MAX_COLUMNS])
    except Exception as exc:
        raise _unreadable(exc, "its first sheet could not be read") from None
    finally:
        workbook.close()


def _unreadable(exc: BaseException, what: str) -> ImportRefused:
    """Why a workbook could not be read: an XML attack stopped by defusedxml (openpyxl wraps it), or damage."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, DefusedXmlException):
            return ImportRefused(
                "The workbook contains XML that is not allowed (entity or DTD declarations); it was not read.",
                field="file",
            )
        seen = seen.__cause__ or seen.__context__
    return ImportRefused(f"The workbook is damaged: {what}.", field="file")


# --- mapping rows to events ----------------------------------------------------------------------------


_CONTACT_COLUMNS = (
    "external id, channel, service, occurred at, and optionally agent, wait seconds, handling seconds, "
    "transferred, resolved first contact, customer id, email, phone, name, contact preference, opted out, "
    "do not survey"
)


def map_headers(
    cells: Sequence[object],
    *,
    headers: Mapping[str, str] = HEADERS,
    required: Sequence[str] = REQUIRED,
    columns: str = _CONTACT_COLUMNS,
) -> list[str | None]:
    """The field each column fills (None for a blank header); ImportRefused for unknown, repeated or missing ones.
    ``headers`` maps normalised headers to fields, ``columns`` names the expected ones for a person."""
    fields: list[str | None] = []
    unknown: list[str] = []
    for cell in cells:
        header = normalise_header(cell)
        if not header:
            fields.append(None)
            continue
        target = headers.get(header)
        if target is None:
            unknown.append(str(cell).strip()[:40])
        fields.append(target)
    if unknown:
        raise ImportRefused(
            f"Unknown column{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)}. "
            f"Columns are matched by header: {columns}.",
            field="file",
        )
    named = [f for f in fields if f is not None]
    repeated = sorted({f for f in named if named.count(f) > 1})
    if repeated:
        raise ImportRefused(f"More than one column fills {', '.join(repeated)}.", field="file")
    missing = [f.replace("_", " ") for f in required if f not in named]
    if missing:
        raise ImportRefused(f"The header row needs a column for: {', '.join(missing)}.", field="file")
    return fields


def _text(value: object) -> object:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, str):
        return value.strip() or None
    return value


def _value(target: str, value: object) -> object:
    """A cell as the JSON value the API would have been sent; anything else is left for the schema to refuse."""
    if isinstance(value, str):
        value = value.strip()
        if not value:
            return None
    if target in _INTEGERS:
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str) and re.fullmatch(r"[0-9]+", value):
            return int(value)
        return value
    if target in _BOOLEANS:
        if isinstance(value, str):
            lowered = value.lower()
            if lowered in _TRUE:
                return True
            if lowered in _FALSE:
                return False
        if isinstance(value, int) and not isinstance(value, bool) and value in (0, 1):
            return bool(value)
        return value
    if target == "occurred_at":
        if isinstance(value, str):
            try:
                value = datetime.fromisoformat(value)
            except ValueError:
                return value
        if isinstance(value, datetime):
            # A spreadsheet holds no time zone: its times are the council's, London time.
            return value if value.tzinfo is not None else value.replace(tzinfo=LONDON)
        if isinstance(value, date):
            return datetime.combine(value, time(12), tzinfo=LONDON)
        return value
    return _text(value)


def _problem(exc: msgspec.ValidationError) -> tuple[str, str | None]:
    message = str(exc)
    at = re.search(r" - at `\$\.?([^`]*)`", message)
    missing = re.search(r"missing required field `([^`]+)`", message)
    path = at.group(1) if at else ""
    if missing:
        path = f"{path}.{missing.group(1)}" if path else missing.group(1)
    clean = re.sub(r" - at `\$\.?([^`]*)`", "", message)
    return (f"{path.replace('_', ' ')}: {clean}" if path else clean), path or None


def row_event(fields: Sequence[str | None], cells: Sequence[object], source: str) -> ContactEvent:
    """One row as a ContactEvent, through the API's schema; msgspec.ValidationError says what is wrong."""
    payload: dict[str, Any] = {"source": source}
    customer: dict[str, Any] = {}
    row_source: object = None
    for target, cell in zip(fields, cells, strict=False):
        if target is None:
            continue
        value = _value(target, cell)
        if value is None:
            continue
        if target == "source":
            row_source = value
        elif target.startswith("customer."):
            customer[target.removeprefix("customer.")] = value
        else:
            payload[target] = value
    if row_source is not None and row_source != source:
        raise msgspec.ValidationError(
            f"This row is from source {str(row_source)[:64]!r}, not {source!r} - at `$.source`"
        )
    if customer:
        payload["customer"] = customer
    return msgspec.convert(payload, type=ContactEvent, strict=True)


@dataclass(frozen=True)
class ParsedFile:
    """Every row of a file, mapped: events ready for the writer, and rows already refused by the schema."""

    events: list[tuple[int, ContactEvent]]
    refused: list[RejectedRow]


def parse_contacts(content: bytes, source: str) -> ParsedFile:
    table = read_table(content)
    (_, header), *rows = table
    fields = map_headers(header)
    events: list[tuple[int, ContactEvent]] = []
    refused: list[RejectedRow] = []
    for number, cells in rows:
        try:
            events.append((number, row_event(fields, cells, source)))
        except msgspec.ValidationError as exc:
            reason, at = _problem(exc)
            refused.append(RejectedRow(number, reason, at))
    return ParsedFile(events, refused)


async def import_contacts(
    session: AsyncSession,
    intake: ContactIntake,
    content: bytes,
    *,
    source: str,
    actor: Actor,
) -> ImportReport:
    """Import a file's contact events, a batch at a time through the API's batch writer (each batch committed;
    the file was read and mapped in full first); each rejected row is in the report. The audit entry is left
    in the session for the caller's commit."""
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}", source):
        raise InvalidInput("A source is 1 to 64 letters, digits, '_', '.' or '-', e.g. crm.", field="source")
    parsed = parse_contacts(content, source)
    report = ImportReport(rows=len(parsed.events) + len(parsed.refused), rejected=list(parsed.refused))
    for start in range(0, len(parsed.events), BATCH):
        batch = parsed.events[start : start + BATCH]
        outcomes = await intake.report_many(session, [event for _, event in batch])
        for (number, _), outcome in zip(batch, outcomes, strict=True):
            if isinstance(outcome, CivicVoiceError):
                report.rejected.append(RejectedRow(number, outcome.detail, outcome.field))
            elif outcome.duplicate:
                report.duplicates += 1
            else:
                report.accepted += 1
    report.rejected.sort(key=lambda r: r.row)
    record(
        session,
        actor,
        "imports.contacts",
        detail={
            "source": source,
            "rows": report.rows,
            "accepted": report.accepted,
            "duplicates": report.duplicates,
            "rejected": len(report.rejected),
        },
    )
    return report
