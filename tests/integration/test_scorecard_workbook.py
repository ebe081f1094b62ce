"""The scorecard workbook: every figure equals ``civicvoice scorecard --month M --json`` for the same data, its
charts point at the right cells, its cells keep their types and its text is escaped; the command line refuses
bad months and paths; staff download it from the dashboard, recorded and audited like any export."""

from __future__ import annotations

import asyncio
import io
import json
import math
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result
from openpyxl import load_workbook
from openpyxl.worksheet.worksheet import Worksheet
from sqlalchemy import select, update

from civicvoice.cli import cli
from civicvoice.core.audit import Actor, AuditEvent
from civicvoice.core.clock import utcnow
from civicvoice.core.db import unit_of_work
from exports.models import ExportRun
from exports.scorecard_workbook import (
    ABOUT_SHEET,
    COLUMN,
    SUMMARY_SHEET,
    TABLE_HEADER_ROW,
    TREND_SHEET,
)
from feedback.scorecard.charts import STATUS_TEXT
from feedback.scorecard.entries import enter_figure, set_target
from feedback.scorecard.formulas import ServiceLevelThresholds, Status
from feedback.scorecard.measures import Direction
from feedback.scorecard.rollups import month_start, next_month, previous_month
from feedback.scorecard.upkeep import rebuild_month, set_repeat_flags
from surveys.models import Service, ServiceGroup
from tests.integration.scorecard_data import Builder, ContactSpec
from tests.integration.support import TestDatabase
from tests.integration.test_keys_and_cli import env_for
from tests.integration.test_scorecard import at, hand_example, months_ago
from tests.integration.test_staff_login import make_user, sign_in

HOSTILE_GROUP = '=HYPERLINK("http://evil.example","Home")'


async def scorecard_data(db: TestDatabase) -> date:
    """Two months of data in two service groups, a council target and a service-group name that is a formula."""
    month = months_ago(1)
    before = previous_month(month)
    builder = Builder()
    async with unit_of_work(db.sessions) as session:
        await builder.add(session, hand_example(month))
        await builder.add(
            session,
            [
                ContactSpec(
                    "council-tax",
                    "phone",
                    at(before, 6),
                    person=7,
                    wait=12,
                    handling=90,
                    reported_fcr=True,
                    invited=True,
                    answered=True,
                    satisfaction=5,
                    resolved="yes",
                ),
                ContactSpec(
                    "parking",
                    "face_to_face",
                    at(before, 8),
                    person=8,
                    handling=60,
                    invited=True,
                    answered=True,
                    satisfaction=1,
                    resolved="no",
                    compliment=True,
                ),
            ],
        )
        await set_repeat_flags(session, now=utcnow())
        for m in (before, month):
            await rebuild_month(session, m, thresholds=ServiceLevelThresholds())
        await set_target(
            session,
            slug="customer-satisfaction",
            service_id=None,
            value=80,
            direction=Direction.higher_is_better,
            tolerance=None,
            actor=Actor.cli(),
        )
        parking = await session.scalar(select(Service.id).where(Service.slug == "parking"))
        assert parking is not None
        for when, value in ((before, 80.0), (month, 87.5)):  # an entered figure, with its change
            await enter_figure(
                session,
                month=when,
                service_id=parking,
                team="Permits",
                slug="utilisation",
                value=value,
                source="workforce system",
                entered_by="test",
                actor=Actor.cli(),
            )
        await session.execute(
            update(ServiceGroup).where(ServiceGroup.slug == "home-and-money").values(name=HOSTILE_GROUP)
        )
    return month


async def invoke(settings: Any, *args: str) -> Result:
    return await asyncio.to_thread(CliRunner().invoke, cli, list(args), env=env_for(settings))


async def printed_json(settings: Any, month: date, *scope: str) -> dict[str, Any]:
    done = await invoke(settings, "scorecard", "--month", f"{month:%Y-%m}", *scope, "--json")
    assert done.exit_code == 0, done.output
    found: dict[str, Any] = json.loads(done.output)
    return found


def same(shown: Any, printed: Any) -> bool:
    """The cell holds the printed figure. openpyxl writes a number with 16 significant digits (Excel itself shows
    15), so a float may differ from the printed one in its 17th digit only."""
    numbers = (int, float)
    if isinstance(shown, numbers) and isinstance(printed, numbers) and not isinstance(shown, bool):
        return math.isclose(shown, printed, rel_tol=1e-15, abs_tol=0.0)
    return bool(shown == printed)


def figure_rows(sheet: Worksheet) -> dict[str, int]:
    rows = {}
    for row in range(TABLE_HEADER_ROW + 1, sheet.max_row + 1):
        code = sheet.cell(row=row, column=COLUMN["Measure code"]).value
        if code is None:
            break
        rows[code] = row
    return rows


def assert_sheet_matches(sheet: Worksheet, printed: dict[str, Any]) -> None:
    """Every figure of the sheet is the printed one: value, previous, change, target, status, count."""
    rows = figure_rows(sheet)
    assert list(rows) == [f["measure"] for f in printed["figures"]]
    for figure in printed["figures"]:
        row = rows[figure["measure"]]

        def cell(name: str, row: int = row) -> Any:
            return sheet.cell(row=row, column=COLUMN[name]).value

        assert cell("Measure") == figure["name"]
        if figure["by_category"] is None:
            assert same(cell("Figure"), figure["value"]), figure["measure"]
        else:
            assert figure["value"] is None and cell("Figure") == "By channel, below"
        assert same(cell("Previous month"), figure["previous"]), figure["measure"]
        assert same(cell("Change on previous month"), figure["change"]), figure["measure"]
        assert cell("Records behind the figure") == figure["count"]
        assert cell("Status") == STATUS_TEXT[Status(figure["status"])]
        assert cell("Source") == figure["source"].capitalize()
        target = figure["target"]
        assert same(cell("Target"), None if target is None else target["value"])
        if figure["unit"] == "percent" and figure["value"] is not None:
            assert sheet.cell(row=row, column=COLUMN["Figure"]).number_format == "0.0%"
    by_measure = {f["measure"]: f for f in printed["figures"]}
    use, shift = by_measure["channel-use"]["by_category"] or {}, by_measure["channel-shift"]["by_category"] or {}
    top = channel_table_row_for(sheet, len(printed["figures"]))
    shown = {}
    for row in range(top + 1, top + 1 + len(set(use) | set(shift))):
        shown[sheet.cell(row=row, column=1).value] = (
            sheet.cell(row=row, column=2).value,
            sheet.cell(row=row, column=3).value,
        )
    expected = {c.replace("_", " "): (use.get(c), shift.get(c)) for c in set(use) | set(shift)}
    assert set(shown) == set(expected)
    for channel, (share, moved) in expected.items():
        assert same(shown[channel][0], share) and same(shown[channel][1], moved), channel


def channel_table_row_for(sheet: Worksheet, figures: int) -> int:
    top = TABLE_HEADER_ROW + figures + 2
    assert sheet.cell(row=top, column=1).value == "Channel"
    return top


async def test_every_figure_of_the_workbook_equals_scorecard_json(
    db: TestDatabase, catalogue: None, settings: Any, tmp_path: Path
) -> None:
    month = await scorecard_data(db)
    output = tmp_path / "scorecard.xlsx"
    done = await invoke(settings, "export", "scorecard", "--month", f"{month:%Y-%m}", "--output", str(output))
    assert done.exit_code == 0, done.output
    assert json.loads(done.output)["output"] == str(output)
    book = load_workbook(output)

    everything = await printed_json(settings, month)
    summary = book[SUMMARY_SHEET]
    assert summary["A2"].value == f"All services, {month:%B %Y}"
    assert summary.freeze_panes == f"C{TABLE_HEADER_ROW + 1}"
    assert summary.cell(row=TABLE_HEADER_ROW, column=COLUMN["Change on previous month"]).font.b
    assert_sheet_matches(summary, everything)
    satisfaction = figure_rows(summary)["customer-satisfaction"]
    assert isinstance(summary.cell(row=satisfaction, column=COLUMN["Figure"]).value, float)
    assert summary.cell(row=satisfaction, column=COLUMN["Status"]).value == "Off target"  # 4 of 6 < 80%
    utilisation = figure_rows(summary)["utilisation"]
    assert [summary.cell(row=utilisation, column=COLUMN[c]).value for c in ("Figure", "Previous month", "Source")] == [
        0.875,
        0.8,
        "Entered",
    ]

    # A sheet per service group with data, each equal to `scorecard --group G --json`; the hostile name is text.
    home = await printed_json(settings, month, "--group", "home-and-money")
    city = await printed_json(settings, month, "--group", "city-and-neighbourhood")
    group_sheets = [name for name in book.sheetnames if name not in (SUMMARY_SHEET, TREND_SHEET, ABOUT_SHEET)]
    assert len(group_sheets) == await db.count(ServiceGroup)  # every group of the catalogue
    by_title = {book[name]["A1"].value: book[name] for name in group_sheets}
    hostile = by_title[f"'{HOSTILE_GROUP}, {month:%B %Y}"]
    assert hostile["A2"].value == f"'{HOSTILE_GROUP}, {month:%B %Y}"
    assert_sheet_matches(hostile, home)
    assert_sheet_matches(by_title[f"City and Neighbourhood, {month:%B %Y}"], city)
    assert home["figures"] != city["figures"]

    # The trend rows of this month and the one before equal those months' printed figures.
    trends = book[TREND_SHEET]
    before = await printed_json(settings, previous_month(month))
    header = [trends.cell(row=TABLE_HEADER_ROW, column=c).value for c in range(1, 10)]
    rows = {trends.cell(row=r, column=1).value.date(): r for r in range(TABLE_HEADER_ROW + 1, TABLE_HEADER_ROW + 14)}
    assert sorted(rows)[-1] == month and len(rows) == 13
    for when, printed in ((month, everything), (previous_month(month), before)):
        figures = {f["measure"]: f for f in printed["figures"]}
        row = {header[c - 1]: trends.cell(row=rows[when], column=c).value for c in range(1, 10)}
        assert same(row["Customer satisfaction"], figures["customer-satisfaction"]["value"])
        assert row["Answers to the satisfaction question"] == figures["customer-satisfaction"]["count"]
        assert same(row["First contact resolution"], figures["first-contact-resolution"]["value"])
        assert row["Compliments"] == figures["compliments"]["value"]
        assert row["Complaints closed"] == figures["complaints-generating-improvements"]["count"]
        assert trends.cell(row=rows[when], column=2).number_format == "0.0%"
    assert trends.cell(row=rows[month], column=1).number_format == "mmm yyyy"

    # Native charts, each series pointing at its column of the trend table (or the channel table).
    last = TABLE_HEADER_ROW + 13
    charts = {chart.title.tx.rich.p[0].r[0].t: chart for chart in trends._charts}
    assert set(charts) == {
        "Customer satisfaction by month",
        "First contact resolution by month",
        "Complaints and compliments by month",
    }

    def refs(chart: Any) -> list[str]:
        return [series.val.numRef.f for series in chart.series]

    assert refs(charts["Customer satisfaction by month"]) == [f"'{TREND_SHEET}'!$B${TABLE_HEADER_ROW + 1}:$B${last}"]
    assert refs(charts["First contact resolution by month"]) == [f"'{TREND_SHEET}'!$D${TABLE_HEADER_ROW + 1}:$D${last}"]
    assert refs(charts["Complaints and compliments by month"]) == [
        f"'{TREND_SHEET}'!${col}${TABLE_HEADER_ROW + 1}:${col}${last}" for col in "FGH"
    ]
    assert (
        charts["Customer satisfaction by month"].series[0].cat.numRef.f
        == f"'{TREND_SHEET}'!$A${TABLE_HEADER_ROW + 1}:$A${last}"
    )
    (channels,) = summary._charts
    top = TABLE_HEADER_ROW + len(everything["figures"]) + 2
    assert channels.title.tx.rich.p[0].r[0].t == f"Channel mix, {month:%B %Y}"
    by_measure = {f["measure"]: f for f in everything["figures"]}
    shown = set(by_measure["channel-use"]["by_category"]) | set(by_measure["channel-shift"]["by_category"])
    assert len(shown) == 3  # phone and web chat this month, face to face the month before
    assert refs(channels) == [f"'{SUMMARY_SHEET}'!$B${top + 1}:$B${top + 3}"]
    assert channels.series[0].cat.numRef.f == f"'{SUMMARY_SHEET}'!$A${top + 1}:$A${top + 3}"

    about = {
        book[ABOUT_SHEET].cell(row=r, column=1).value: book[ABOUT_SHEET].cell(row=r, column=2).value
        for r in range(3, book[ABOUT_SHEET].max_row + 1)
    }
    assert about["Month"] == f"{month:%B %Y}" and about["Created by"] == "command line"

    # Recorded like any export, and audited.
    (run,) = await db.all(ExportRun)
    assert (run.dataset, run.format, run.date_from, run.created_by) == ("scorecard", "xlsx", month, None)
    assert run.date_to == next_month(month) - timedelta(days=1)
    assert any(e.action == "exports.run" and e.target_id == str(run.id) for e in await db.all(AuditEvent))


async def test_the_command_line_refuses_bad_months_and_paths_and_writes_nothing(
    db: TestDatabase, catalogue: None, settings: Any, tmp_path: Path
) -> None:
    output = tmp_path / "out.xlsx"
    bad = await invoke(settings, "export", "scorecard", "--month", "2026-13", "--output", str(output))
    assert bad.exit_code == 2 and "YYYY-MM" in bad.output and "Traceback" not in bad.output
    future = next_month(month_start(utcnow()))
    later = await invoke(settings, "export", "scorecard", "--month", f"{future:%Y-%m}", "--output", str(output))
    assert later.exit_code == 2 and "has not started" in later.output
    missing = await invoke(settings, "export", "scorecard", "--output", str(output))
    assert missing.exit_code == 2 and "--month" in missing.output
    a_file = tmp_path / "a-file"
    a_file.write_text("not a folder")
    for path in (tmp_path / "no-such-folder" / "out.xlsx", a_file / "out.xlsx"):
        refused = await invoke(
            settings, "export", "scorecard", "--month", f"{months_ago(1):%Y-%m}", "--output", str(path)
        )
        assert refused.exit_code == 1 and "Cannot write" in refused.output, refused.output
    mixed = await invoke(
        settings,
        "export",
        "scorecard",
        "--month",
        f"{months_ago(1):%Y-%m}",
        "--service",
        "parking",
        "--output",
        str(output),
    )
    assert mixed.exit_code == 2 and "--month and --output only" in mixed.output
    assert not output.exists() and a_file.read_text() == "not a folder"
    assert await db.count(ExportRun) == 0


async def test_staff_download_the_workbook_from_the_dashboard_with_their_own_figures(
    db: TestDatabase, catalogue: None, client: Any, settings: Any
) -> None:
    month = await scorecard_data(db)
    manager = await make_user(db, "service_manager", service_scope=["parking"])
    await sign_in(client, "service_manager@council.gov.uk")
    dashboard = await client.get(f"/staff/scorecard?month={month:%Y-%m}")
    assert f'href="/staff/reports/scorecard?month={month:%Y-%m}"' in dashboard.text
    got = await client.get(f"/staff/reports/scorecard?month={month:%Y-%m}")
    assert got.status_code == 200, got.text
    assert got.headers["content-type"].startswith("application/vnd.openxmlformats-officedocument.spreadsheetml")
    assert got.headers["content-disposition"] == f'attachment; filename="scorecard-{month:%Y-%m}.xlsx"'
    book = load_workbook(io.BytesIO(got.content))
    # Their services only: parking's figures, no group sheet (their one service is not a whole group).
    assert book.sheetnames == [SUMMARY_SHEET, TREND_SHEET, ABOUT_SHEET]
    assert book[SUMMARY_SHEET]["A2"].value == f"Your services, {month:%B %Y}"
    parking = await printed_json(settings, month, "--service", "parking")
    for figure in parking["figures"]:
        figure_row = figure_rows(book[SUMMARY_SHEET])[figure["measure"]]
        if figure["by_category"] is None:
            assert same(book[SUMMARY_SHEET].cell(row=figure_row, column=COLUMN["Figure"]).value, figure["value"])
    (run,) = await db.all(ExportRun)
    assert run.created_by == str(manager.id) and run.dataset == "scorecard"
    assert any(e.action == "exports.run" and e.actor_id == str(manager.id) for e in await db.all(AuditEvent))

    bad = await client.get("/staff/reports/scorecard?month=2026-99")
    assert bad.status_code == 422 and "YYYY-MM" in bad.text
    future = next_month(month_start(utcnow()))
    later = await client.get(f"/staff/reports/scorecard?month={future:%Y-%m}")
    assert later.status_code == 422 and "has not started" in later.text
    assert await db.count(ExportRun) == 1

    # A reviewer's download shows among their recent exports, and has no export page of its own.
    await make_user(db, "quality_reviewer")
    await sign_in(client, "quality_reviewer@council.gov.uk")
    assert (await client.get(f"/staff/reports/scorecard?month={month:%Y-%m}")).status_code == 200
    (mine,) = [run for run in await db.all(ExportRun) if run.created_by != str(manager.id)]
    assert "Scorecard (XLSX)" in (await client.get("/staff/exports")).text
    assert (await client.get(f"/staff/exports/{mine.id}")).status_code == 404
    assert (await client.get(f"/staff/exports/{mine.id}/download")).status_code == 410
