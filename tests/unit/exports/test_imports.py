"""Reading an import file: columns mapped by header, cells typed as the API's JSON would be, every row through
the API's schema; a file that is not a spreadsheet, too large, a zip bomb, an XML attack or malformed is refused."""

from __future__ import annotations

import io
import zipfile
from datetime import UTC, datetime

import pytest
from openpyxl import Workbook

from exports import imports
from exports.imports import (
    FileTooLarge,
    ImportRefused,
    NotASpreadsheet,
    map_headers,
    parse_contacts,
    read_table,
)

HEADER = ["External ID", "Channel", "Service", "Occurred at", "Wait (seconds)", "Transferred", "Email"]


def csv_bytes(*rows: str) -> bytes:
    return ("\r\n".join(rows) + "\r\n").encode("utf-8")


def workbook_bytes(rows: list[list[object]]) -> bytes:
    book = Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_csv_rows_become_events_through_the_api_schema() -> None:
    parsed = parse_contacts(
        csv_bytes(
            ",".join(HEADER),
            "call-1,phone,council-tax,2026-11-30T09:15:00,95,no,jo@example.org",
            "call-2,carrier pigeon,council-tax,2026-11-30T09:20:00,,yes,",
            "call-3,phone,council-tax,yesterday,,no,",
            "call-4,phone,council-tax,2026-11-30T09:25:00,ninety,no,",
            "call-5,phone,council-tax,2026-11-30T09:25:00,10,no,not-an-email",
            ",,,,,,",
            "call-6,email,parking,2026-11-30 10:00:00+00:00,0,TRUE,",
        ),
        "crm",
    )
    events = {number: event for number, event in parsed.events}
    assert sorted(events) == [2, 8]
    first = events[2]
    assert (first.source, first.external_id, first.channel, first.service) == ("crm", "call-1", "phone", "council-tax")
    # A spreadsheet's time is London time (GMT in November); an explicit offset is kept.
    assert first.occurred_at == datetime(2026, 11, 30, 9, 15, tzinfo=UTC) and first.occurred_at.tzinfo is not None
    assert first.wait_seconds == 95 and first.transferred is False
    assert first.customer is not None and first.customer.email == "jo@example.org"
    assert events[8].transferred is True and events[8].wait_seconds == 0
    refused = {r.row: r for r in parsed.refused}
    assert sorted(refused) == [3, 4, 5, 6]  # the blank row 7 is skipped, not refused
    assert refused[3].field == "channel"
    assert refused[4].field == "occurred_at"
    assert refused[5].field == "wait_seconds"
    assert refused[6].field == "customer.email" and "customer.email" in refused[6].reason


def test_xlsx_cells_keep_their_types() -> None:
    parsed = parse_contacts(
        workbook_bytes(
            [
                ["external id", "channel", "service", "occurred at", "handling seconds", "resolved first contact"],
                [12345, "phone", "parking", datetime(2026, 6, 1, 9, 0), 300, "yes"],
                ["call-2", "phone", "parking", datetime(2026, 6, 1, 9, 5), 12.5, "maybe"],
            ]
        ),
        "crm",
    )
    [(number, event)] = parsed.events
    assert number == 2 and event.external_id == "12345" and event.handling_seconds == 300
    # 09:00 in June is British Summer Time: 08:00 UTC.
    assert event.occurred_at.astimezone(UTC) == datetime(2026, 6, 1, 8, 0, tzinfo=UTC)
    assert event.resolved_first_contact is True
    assert {r.row: r.field for r in parsed.refused} == {3: "handling_seconds"}


def test_a_row_from_another_source_is_refused() -> None:
    parsed = parse_contacts(
        csv_bytes("source,external id,channel,service,occurred at", "telephony,c1,phone,parking,2026-06-01T09:00:00"),
        "crm",
    )
    assert parsed.events == [] and parsed.refused[0].field == "source"


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("external id,channel,service,occurred at,shoe size", "Unknown column: shoe size"),
        ("external id,channel,service", "needs a column for: occurred at"),
        ("external id,reference,channel,service,occurred at", "More than one column fills external_id"),
    ],
)
def test_headers_are_mapped_or_the_file_is_refused(header: str, message: str) -> None:
    with pytest.raises(ImportRefused, match=message):
        parse_contacts(csv_bytes(header, "a,b,c,d,e"), "crm")


def test_headers_are_matched_loosely() -> None:
    assert map_headers(["EXTERNAL_ID", " Channel ", "service", "Occurred-At", "", "Customer ID"]) == [
        "external_id",
        "channel",
        "service",
        "occurred_at",
        None,
        "customer.source_id",
    ]


def test_files_that_are_not_spreadsheets_are_refused() -> None:
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(64)
    with pytest.raises(NotASpreadsheet):
        read_table(png)
    with pytest.raises(NotASpreadsheet, match=r"\.xls"):
        read_table(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(100))
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("readme.txt", "hello")
    with pytest.raises(NotASpreadsheet, match="zip archive"):
        read_table(archive.getvalue())
    with pytest.raises(ImportRefused, match="damaged"):
        read_table(b"PK\x03\x04" + b"garbage" * 50)
    with pytest.raises(ImportRefused, match="empty"):
        read_table(b"  \r\n")


def test_too_large_files_and_too_many_rows_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(FileTooLarge):
        read_table(b"a" * (imports.MAX_FILE_BYTES + 1))
    monkeypatch.setattr(imports, "MAX_ROWS", 3)
    with pytest.raises(FileTooLarge, match="more than 3 rows"):
        read_table(csv_bytes("external id", "1", "2", "3", "4", "5"))


def test_malformed_csv_is_refused() -> None:
    with pytest.raises(ImportRefused, match="malformed"):
        read_table(b'external id,channel\r\n"unclosed,phone\r\n')


def test_a_zip_bomb_is_refused_unopened(monkeypatch: pytest.MonkeyPatch) -> None:
    genuine = workbook_bytes([["external id"], ["c1"]])
    bomb = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(genuine)) as source, zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as z:
        for item in source.infolist():
            z.writestr(item, source.read(item))
        with z.open("xl/media/padding.bin", "w") as member:
            for _ in range(4):
                member.write(bytes(1024 * 1024))  # 4 MB of zeros packs to a few KB
    with pytest.raises(ImportRefused, match="zip bomb"):
        read_table(bomb.getvalue())
    # The total unpacked size is capped too, whatever each part's ratio.
    monkeypatch.setattr(imports, "MAX_UNPACKED_BYTES", 1000)
    with pytest.raises(ImportRefused, match="zip bomb"):
        read_table(genuine)


LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>
<row r="1"><c r="A1" t="inlineStr"><is><t>&lol3;</t></is></c></row></sheetData></worksheet>"""

EXTERNAL = b"""<?xml version="1.0"?>
<!DOCTYPE x [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>
<row r="1"><c r="A1" t="inlineStr"><is><t>&secret;</t></is></c></row></sheetData></worksheet>"""


def with_sheet(genuine: bytes, sheet: bytes, member: str = "xl/worksheets/sheet1.xml") -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(genuine)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for item in source.infolist():
            z.writestr(item, sheet if item.filename == member else source.read(item))
    return out.getvalue()


@pytest.mark.parametrize("attack", [LAUGHS, EXTERNAL], ids=["billion-laughs", "external-entity"])
def test_xml_entity_attacks_are_refused(attack: bytes) -> None:
    genuine = workbook_bytes([["external id"], ["c1"]])
    with pytest.raises(ImportRefused, match="not allowed"):
        read_table(with_sheet(genuine, attack))
    # In the workbook part, read when the file is opened, as well as in the sheet, read row by row.
    workbook_attack = attack.replace(b"<worksheet", b"<workbook").replace(b"</worksheet>", b"</workbook>")
    with pytest.raises(ImportRefused, match="not allowed"):
        read_table(with_sheet(genuine, workbook_attack, "xl/workbook.xml"))


def test_a_damaged_sheet_is_refused() -> None:
    genuine = workbook_bytes([["external id"], ["c1"]])
    with pytest.raises(ImportRefused, match="damaged"):
        read_table(with_sheet(genuine, b"<worksheet><sheetData><row"))
