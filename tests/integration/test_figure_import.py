"""Importing monthly scorecard figures from a spreadsheet, in the staff pages and from the command line: good rows
are stored through the figures API's own function and then show on the scorecard (its JSON and its dashboard),
each rejected row is reported with its row number and reason, a service manager imports for their own services
only, importing a file twice changes nothing, and a file that cannot be read changes nothing."""

from __future__ import annotations

import asyncio
import io
import json
import zipfile
from datetime import datetime
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from litestar import Litestar
from litestar.testing import AsyncTestClient
from openpyxl import Workbook, load_workbook
from sqlalchemy import select

from civicvoice.cli import cli
from civicvoice.core.audit import AuditEvent
from civicvoice.core.clock import utcnow
from civicvoice.core.settings import Settings
from exports.figure_imports import IMPORT_SOURCE
from feedback.scorecard.entries import ENTERED_SLUGS
from feedback.scorecard.models import EnteredFigure
from feedback.scorecard.rollups import month_start, previous_month
from surveys.models import Service
from tests.integration.support import TestDatabase
from tests.integration.test_keys_and_cli import env_for
from tests.integration.test_staff_login import csrf_from, make_user, sign_in
from tests.unit.exports.test_imports import LAUGHS, with_sheet

Client = AsyncTestClient[Litestar]
MONTH = previous_month(month_start(utcnow()))
M = f"{MONTH:%Y-%m}"


def figures_csv() -> bytes:
    rows = [
        "Month,Service,Measure,Team,Value",
        f"{M},council-tax,utilisation,Team A,81.5",  # 2: stored
        f"{M},Council Tax,Days lost to sickness absence,Team A,4",  # 3: by names, stored
        f"{M},parking,utilisation,Permits,70",  # 4: not this manager's service
        f"{M},council-tax,customer-satisfaction,,90",  # 5: computed, never entered
        f"{M},council-tax,utilisation,Team B,120",  # 6: over 100 percent
        "2026-13,council-tax,utilisation,Team C,50",  # 7: no such month
        f"{M},council-tax,utilisation,Team D,lots",  # 8: not a number
        f"{M},council-tax,utilisation,Team A,81.5",  # 9: repeats row 2
        f"{M},no-such-service,utilisation,,50",  # 10
        f"{M},council-tax,staff-leaving,Team A,1.5",  # 11: a count is whole
        f"{M},council-tax,sickness-absence-days,Jo Bloggs <jo@example.org>,3",  # 12: a team, not a person
    ]
    return ("\r\n".join(rows) + "\r\n").encode()


def figures_xlsx(rows: list[list[object]]) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.append(["Month", "Service", "Measure", "Team", "Value"])
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


async def figures(db: TestDatabase) -> list[tuple[str, str, str, float, str]]:
    async with db.sessions() as session:
        rows = (await session.scalars(select(EnteredFigure))).all()
        services = {s.id: s.slug for s in (await session.scalars(select(Service))).all()}
    return sorted((services[r.service_id], r.measure, r.team, r.value, r.source) for r in rows)


async def test_a_service_manager_imports_figures_in_the_staff_pages(client: Client, db: TestDatabase) -> None:
    manager = await make_user(db, "service_manager", service_scope=["council-tax"])
    await sign_in(client, "service_manager@council.gov.uk")
    form = await client.get("/staff/imports/figures")
    assert form.status_code == 200 and 'enctype="multipart/form-data"' in form.text
    assert "council-tax" in form.text and ">parking<" not in form.text  # the codes of their own services
    token = csrf_from(form.text)

    async def upload(content: bytes, name: str = "figures.csv") -> Any:
        return await client.post(
            "/staff/imports/figures", data={"csrf_token": token}, files={"file": (name, content, "text/csv")}
        )

    first = await upload(figures_csv())
    assert first.status_code == 200, first.text
    page = first.text
    assert 'id="rows">11<' in page and 'id="stored">2<' in page and 'id="unchanged">0<' in page
    assert 'id="rejected">9<' in page
    for row, reason in (
        (4, "your own services"),
        (5, "not a measure entered from another system"),
        (6, "0 to 100"),
        (7, "YYYY-MM"),
        (8, "as a number"),
        (9, "Repeats row 2"),
        (10, "No service is called"),
        (11, "whole number"),
        (12, "team name"),
    ):
        assert f'govuk-table__cell--numeric">{row}</td>' in page, row
        assert reason in page, reason
    stored = [
        ("council-tax", "sickness-absence-days", "Team A", 4.0, IMPORT_SOURCE),
        ("council-tax", "utilisation", "Team A", 0.815, IMPORT_SOURCE),
    ]
    assert await figures(db) == stored
    async with db.sessions() as session:
        assert {r.entered_by for r in (await session.scalars(select(EnteredFigure))).all()} == {str(manager.id)}

    # The same file again changes no figure; a corrected value is a correction.
    again = await upload(figures_csv())
    assert 'id="stored">0<' in again.text and 'id="unchanged">2<' in again.text and 'id="updated">0<' in again.text
    assert await figures(db) == stored
    corrected = await upload(figures_xlsx([[MONTH, "council-tax", "utilisation", "Team A", 83]]), "fix.xlsx")
    assert 'id="updated">1<' in corrected.text and 'id="rejected">0<' in corrected.text
    assert (await figures(db))[1][3] == 0.83

    # The figure shows on the dashboard with its source.
    dashboard = await client.get(f"/staff/scorecard?month={M}&service=council-tax")
    assert dashboard.status_code == 200 and IMPORT_SOURCE in dashboard.text and "83.0%" in dashboard.text
    assert 'href="/staff/imports/figures"' in dashboard.text
    entries = await client.get(f"/staff/scorecard/entries?month={M}")
    assert entries.status_code == 200 and 'href="/staff/imports/figures"' in entries.text

    # Files that cannot be read: a clear error on the form, and nothing changed.
    before = await figures(db)
    for content, name, status, message in (
        (b"\x89PNG\r\n\x1a\n" + bytes(200), "photo.png", 415, "not a spreadsheet"),
        (with_sheet(figures_xlsx([]), LAUGHS), "attack.xlsx", 422, "not allowed"),
        (b"PK\x03\x04" + bytes(300), "broken.xlsx", 422, "damaged"),
        (b"Month,Service,Shoe size\r\n2026-01,parking,9\r\n", "odd.csv", 422, "Unknown column: Shoe size"),
        (b"Month,Service,Team\r\n2026-01,parking,A\r\n", "short.csv", 422, "needs a column for: measure, value"),
        (b'Month,Service\r\n"2026-01,parking\r\n', "broken.csv", 422, "malformed"),
    ):
        refused = await upload(content, name)
        assert refused.status_code == status, (name, refused.text[:400])
        assert message in refused.text and "There is a problem" in refused.text, name
    no_file = await client.post("/staff/imports/figures", data={"csrf_token": token})
    assert no_file.status_code == 422 and "Choose an XLSX or CSV file" in no_file.text
    too_large = await upload(b"Month\r\n" + b"x" * (11 * 1024 * 1024))
    assert too_large.status_code == 413
    assert await figures(db) == before
    async with db.sessions() as session:
        audit = (
            await session.scalars(
                select(AuditEvent).where(AuditEvent.action == "imports.figures").order_by(AuditEvent.occurred_at)
            )
        ).all()
        entered = (
            await session.scalars(select(AuditEvent).where(AuditEvent.action == "scorecard.figure_entered"))
        ).all()
    assert [(a.detail["stored"], a.detail["unchanged"], a.detail["updated"], a.detail["rejected"]) for a in audit] == [
        (2, 0, 0, 9),
        (0, 2, 0, 9),
        (0, 0, 1, 0),
    ]
    assert {a.actor_id for a in audit} == {str(manager.id)} and len(entered) == 5


async def test_the_template_workbook_filled_in_imports(client: Client, db: TestDatabase) -> None:
    await make_user(db, "admin")
    await sign_in(client, "admin@council.gov.uk")
    token = csrf_from((await client.get("/staff/imports/figures")).text)
    template = await client.get("/staff/imports/figures/template.xlsx")
    assert template.status_code == 200 and "attachment" in template.headers["content-disposition"]
    book = load_workbook(io.BytesIO(template.content))
    sheet = book.worksheets[0]
    assert [c.value for c in sheet[1]] == ["Month", "Service", "Measure", "Team", "Value"]
    assert [row[2].value for row in sheet.iter_rows(min_row=2)] == list(ENTERED_SLUGS)
    assert "parking" in " ".join(str(c.value) for row in book.worksheets[1].iter_rows() for c in row)
    for row in sheet.iter_rows(min_row=2):
        row[1].value, row[4].value = "parking", 3  # an admin imports for any service
    filled = io.BytesIO()
    book.save(filled)
    done = await client.post(
        "/staff/imports/figures",
        data={"csrf_token": token},
        files={"file": ("figures.xlsx", filled.getvalue(), "application/octet-stream")},
    )
    assert done.status_code == 200, done.text
    assert f'id="stored">{len(ENTERED_SLUGS)}<' in done.text and 'id="rejected">0<' in done.text
    assert {(service, measure) for service, measure, *_ in await figures(db)} == {
        ("parking", slug) for slug in ENTERED_SLUGS
    }


async def test_importing_figures_from_the_command_line(
    settings: Settings, db: TestDatabase, catalogue: None, tmp_path: Path
) -> None:
    runner = CliRunner()
    env = env_for(settings)
    await make_user(db, "service_manager", service_scope=["parking"])
    await make_user(db, "agent")
    workbook = tmp_path / "figures.xlsx"
    workbook.write_bytes(
        figures_xlsx(
            [
                [datetime(MONTH.year, MONTH.month, 1), "parking", "utilisation", "Permits", 80],
                [M, "parking", "ICT reliability", "", "99.5%"],
                [M, "council-tax", "utilisation", "Team A", 70],
            ]
        )
    )

    async def run(*args: str) -> tuple[int, str]:
        result = await asyncio.to_thread(runner.invoke, cli, ["import", "figures", *args], env=env)
        return result.exit_code, result.output

    code, out = await run(str(workbook), "--as", "service_manager@council.gov.uk", "--json")
    assert code == 0, out
    report = json.loads(out)
    assert (report["rows"], report["stored"], report["unchanged"]) == (3, 2, 0), report
    assert [(r["row"], r["field"]) for r in report["rejected"]] == [(4, "service")]
    assert "your own services" in report["rejected"][0]["reason"]
    code, out = await run(str(workbook), "--as", "service_manager@council.gov.uk")
    assert code == 0 and "0 stored, 0 corrected, 2 unchanged, 1 rejected" in out and "row 4:" in out

    scorecard = await asyncio.to_thread(
        runner.invoke, cli, ["scorecard", "--month", M, "--service", "parking", "--json"], env=env
    )
    assert scorecard.exit_code == 0, scorecard.output
    shown = {f["measure"]: f for f in json.loads(scorecard.output)["figures"]}
    assert shown["utilisation"]["value"] == 0.8 and shown["utilisation"]["entered_from"] == [IMPORT_SOURCE]
    assert shown["ict-reliability"]["value"] == 0.995

    # Refused as a whole: an agent, an unknown person, a zip bomb, a missing file; nothing changed.
    before = await figures(db)
    bomb = tmp_path / "bomb.xlsx"
    buffer = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(workbook.read_bytes())) as source, zipfile.ZipFile(buffer, "w") as z:
        for item in source.infolist():
            z.writestr(item, source.read(item), zipfile.ZIP_DEFLATED)
        z.writestr("xl/media/padding.bin", bytes(8 * 1024 * 1024), zipfile.ZIP_DEFLATED)
    bomb.write_bytes(buffer.getvalue())
    for args, message in (
        ((str(workbook), "--as", "agent@council.gov.uk"), "Only service managers and administrators"),
        ((str(workbook), "--as", "nobody@council.gov.uk"), "No active staff user"),
        ((str(bomb),), "zip bomb"),
        ((str(tmp_path / "missing.csv"),), "does not exist"),
    ):
        code, out = await run(*args)
        assert code != 0 and message in out, out
    assert await figures(db) == before

    # The operator without --as imports for every service.
    code, out = await run(str(workbook), "--json")
    assert code == 0 and json.loads(out)["stored"] == 1 and json.loads(out)["rejected"] == []
    assert ("council-tax", "utilisation", "Team A", 0.7, IMPORT_SOURCE) in await figures(db)
