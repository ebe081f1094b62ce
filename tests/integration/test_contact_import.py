"""Importing contact events from a spreadsheet, in the staff pages and from the command line: the good rows go
through the API's own writer, each rejected row is reported with its row number and reason, a second import of
the same file adds nothing, and a file that cannot be read is refused with a clear error and changes nothing."""

from __future__ import annotations

import asyncio
import io
import json
import zipfile
from datetime import datetime, timedelta
from pathlib import Path

from click.testing import CliRunner
from litestar import Litestar
from litestar.testing import AsyncTestClient
from openpyxl import Workbook
from sqlalchemy import func, select

from civicvoice.cli import cli
from civicvoice.core.audit import AuditEvent
from civicvoice.core.clock import LONDON
from civicvoice.core.settings import Settings
from privacy.models import DataSubject
from surveys.models import Contact
from tests.integration.support import TestDatabase
from tests.integration.test_keys_and_cli import env_for
from tests.integration.test_staff_login import csrf_from, make_user, sign_in
from tests.unit.exports.test_imports import LAUGHS, with_sheet

Client = AsyncTestClient[Litestar]
WHEN = (datetime.now(LONDON) - timedelta(hours=2)).replace(microsecond=0, tzinfo=None)


def contacts_csv() -> bytes:
    rows = [
        "External ID,Channel,Service,Occurred at,Wait (seconds),Transferred,Email,Name",
        f"imp-1,phone,council-tax,{WHEN.isoformat()},40,no,jo@example.org,Jo Bloggs",
        f"imp-2,phone,no-such-service,{WHEN.isoformat()},40,no,,",
        f"imp-3,phone,parking,{(WHEN + timedelta(days=30)).isoformat()},40,no,,",
        f"imp-4,email,parking,{WHEN.isoformat()},,yes,not-an-email,",
        f"imp-5,web_chat,parking,{WHEN.isoformat()},5,no,,",
        f"imp-1,phone,council-tax,{WHEN.isoformat()},40,no,jo@example.org,Jo Bloggs",
    ]
    return ("\r\n".join(rows) + "\r\n").encode()


def contacts_xlsx() -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.append(["external id", "channel", "service", "occurred at", "handling seconds", "resolved first contact"])
    sheet.append(["x-1", "phone", "council-tax", WHEN, 120, "yes"])
    sheet.append(["x-2", "phone", "council-tax", "not a date", 120, "yes"])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


async def counts(db: TestDatabase) -> tuple[int, int]:
    async with db.sessions() as session:
        contacts = await session.scalar(select(func.count()).select_from(Contact))
        people = await session.scalar(select(func.count()).select_from(DataSubject))
    return int(contacts or 0), int(people or 0)


async def test_importing_contacts_in_the_staff_pages(client: Client, db: TestDatabase) -> None:
    await make_user(db, "admin")
    await sign_in(client, "admin@council.gov.uk")
    form = await client.get("/staff/imports/contacts")
    assert form.status_code == 200 and 'enctype="multipart/form-data"' in form.text
    token = csrf_from(form.text)

    async def upload(content: bytes, name: str = "contacts.csv", source: str = "crm") -> object:
        return await client.post(
            "/staff/imports/contacts",
            data={"csrf_token": token, "source": source},
            files={"file": (name, content, "text/csv")},
        )

    first = await upload(contacts_csv())
    assert first.status_code == 200, first.text  # type: ignore[attr-defined]
    page = first.text  # type: ignore[attr-defined]
    assert 'id="rows">6<' in page and 'id="accepted">2<' in page and 'id="duplicates">1<' in page
    assert 'id="rejected">3<' in page
    for row, reason in ((3, "no-such-service"), (4, "future"), (5, "email")):
        assert f'govuk-table__cell--numeric">{row}</td>' in page
        assert reason in page.lower(), reason
    assert await counts(db) == (2, 1)

    again = await upload(contacts_csv())
    assert 'id="accepted">0<' in again.text and 'id="duplicates">3<' in again.text  # type: ignore[attr-defined]
    assert await counts(db) == (2, 1)

    # Files that cannot be read: a clear error on the form, and nothing changed.
    for content, name, status, message in (
        (b"\x89PNG\r\n\x1a\n" + bytes(200), "photo.png", 415, "not a spreadsheet"),
        (with_sheet(contacts_xlsx(), LAUGHS), "attack.xlsx", 422, "not allowed"),
        (b"PK\x03\x04" + bytes(300), "broken.xlsx", 422, "damaged"),
        (b"name,shoe size\r\nJo,9\r\n", "odd.csv", 422, "Unknown column: shoe size"),
    ):
        refused = await upload(content, name)
        assert refused.status_code == status, (name, refused.text[:400])  # type: ignore[attr-defined]
        assert message in refused.text and "There is a problem" in refused.text  # type: ignore[attr-defined]
    no_file = await client.post("/staff/imports/contacts", data={"csrf_token": token, "source": "crm"})
    assert no_file.status_code == 422 and "Choose an XLSX or CSV file" in no_file.text
    bad_source = await upload(contacts_csv(), source="two words")
    assert bad_source.status_code == 422 and "source" in bad_source.text  # type: ignore[attr-defined]
    too_large = await upload(b"external id\r\n" + b"x" * (11 * 1024 * 1024))
    assert too_large.status_code == 413  # type: ignore[attr-defined]
    assert await counts(db) == (2, 1)
    async with db.sessions() as session:
        audit = (await session.scalars(select(AuditEvent).where(AuditEvent.action == "imports.contacts"))).all()
    assert [(a.detail["accepted"], a.detail["duplicates"], a.detail["rejected"]) for a in audit] == [
        (2, 1, 3),
        (0, 3, 3),
    ]


async def test_only_admins_import(client: Client, db: TestDatabase) -> None:
    await make_user(db, "quality_reviewer")
    await sign_in(client, "quality_reviewer@council.gov.uk")
    assert (await client.get("/staff/imports/contacts", follow_redirects=False)).status_code == 403


async def test_importing_contacts_from_the_command_line(
    settings: Settings, db: TestDatabase, catalogue: None, tmp_path: Path
) -> None:
    runner = CliRunner()
    env = env_for(settings)
    workbook = tmp_path / "contacts.xlsx"
    workbook.write_bytes(contacts_xlsx())

    async def run(*args: str) -> tuple[int, str]:
        result = await asyncio.to_thread(runner.invoke, cli, ["import", "contacts", *args], env=env)
        return result.exit_code, result.output

    code, out = await run(str(workbook), "--source", "telephony", "--json")
    assert code == 0, out
    report = json.loads(out)
    assert (report["rows"], report["accepted"]) == (2, 1), report
    assert (report["rows"], report["accepted"], report["duplicates"]) == (2, 1, 0)
    assert report["rejected"] == [{"row": 3, "field": "occurred_at", "reason": report["rejected"][0]["reason"]}]
    assert "occurred at" in report["rejected"][0]["reason"]
    code, out = await run(str(workbook), "--source", "telephony", "--json")
    assert code == 0 and json.loads(out)["duplicates"] == 1 and json.loads(out)["accepted"] == 0
    code, out = await run(str(workbook), "--source", "telephony")
    assert code == 0 and "1 already imported" in out and "row 3:" in out
    assert await counts(db) == (1, 0)

    bomb = tmp_path / "bomb.xlsx"
    buffer = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(contacts_xlsx())) as source,
        zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z,
    ):
        for item in source.infolist():
            z.writestr(item, source.read(item))
        z.writestr("xl/media/padding.bin", bytes(8 * 1024 * 1024))
    bomb.write_bytes(buffer.getvalue())
    for path, message in ((bomb, "zip bomb"), (tmp_path / "missing.csv", "does not exist")):
        code, out = await run(str(path), "--source", "telephony", "--json")
        assert code != 0 and message in out, out
    huge = tmp_path / "huge.csv"
    huge.write_bytes(b"external id\r\n" + b"x" * (11 * 1024 * 1024))
    code, out = await run(str(huge), "--source", "telephony")
    assert code != 0 and "larger than 10 MB" in out
    assert await counts(db) == (1, 0)
