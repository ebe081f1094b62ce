"""The monthly balanced scorecard as an Excel workbook: a summary sheet, a sheet per service group, a year of
trends with native Excel charts, and an "About this report" sheet.

Every figure comes from the scorecard service (`feedback.scorecard.service.Scorecard`), the very service the
dashboard and ``civicvoice scorecard --json`` read, so the three cannot drift. Text cells go through the one
escaping function, ``exports.cells.safe_cell``; numbers stay numbers, shares are stored as fractions and shown
as percentages.
"""

from __future__ import annotations

import re
import tempfile
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import IO, Any, Final

from openpyxl import Workbook  # type: ignore[import-untyped]
from openpyxl.chart import BarChart, LineChart, Reference  # type: ignore[import-untyped]
from openpyxl.styles import Alignment, Font  # type: ignore[import-untyped]
from openpyxl.utils import get_column_letter  # type: ignore[import-untyped]
from openpyxl.worksheet.worksheet import Worksheet  # type: ignore[import-untyped]
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from civicvoice.core.audit import Actor, record
from civicvoice.core.clock import LONDON, utcnow
from civicvoice.core.errors import InvalidInput
from exports.cells import safe_cell
from exports.models import ExportRun, ExportState
from feedback.scorecard.charts import STATUS_TEXT
from feedback.scorecard.figures import ScopeRollup, computed_figures
from feedback.scorecard.measures import Direction, Unit
from feedback.scorecard.rollups import month_start, next_month, previous_month
from feedback.scorecard.service import FigureReport, Scorecard, ScorecardReport
from surveys.models import Service, ServiceGroup

TREND_MONTHS: Final = 13
SUMMARY_SHEET: Final = "Summary"
TREND_SHEET: Final = "Trends"
ABOUT_SHEET: Final = "About this report"
# The staff download of the workbook (the dashboard links to it, scheduled reports too).
SCORECARD_DOWNLOAD: Final = "/staff/reports/scorecard"
MEDIA_TYPE: Final = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

# The figures table: where it starts on every scorecard sheet, and its columns in plain English.
TABLE_HEADER_ROW: Final = 4
FIGURE_COLUMNS: Final = (
    ("Perspective", 24),
    ("Measure", 44),
    ("Figure", 14),
    ("Unit", 12),
    ("Previous month", 16),
    ("Change on previous month", 16),
    ("Better or worse", 14),
    ("Target", 12),
    ("Better when the figure is", 14),
    ("Status", 16),
    ("Records behind the figure", 14),
    ("Source", 12),
    ("Measure code", 30),
)
# 1-based column numbers of the figures table, for the writer and the tests.
COLUMN: Final = {name: number for number, (name, _) in enumerate(FIGURE_COLUMNS, start=1)}
TREND_COLUMNS: Final = (
    "Month",
    "Customer satisfaction",
    "Answers to the satisfaction question",
    "First contact resolution",
    "Contacts decided for first contact resolution",
    "Complaints closed",
    "Complaints closed that generated an improvement",
    "Compliments",
    "Contacts",
)

UNIT_WORDS: Final = {
    Unit.percent: "percent",
    Unit.percentage_points: "percentage points",
    Unit.seconds: "seconds",
    Unit.number: "number",
    Unit.score: "score",
    Unit.hours: "hours",
    Unit.days: "days",
}
VALUE_FORMATS: Final = {
    Unit.percent: "0.0%",
    Unit.percentage_points: '+0.0" pp";-0.0" pp";0.0" pp"',
    Unit.seconds: "#,##0.0",
    Unit.number: "#,##0",
    Unit.score: "0.00",
    Unit.hours: "#,##0.0",
    Unit.days: "#,##0.0",
}
# A change in a share is in percentage points; shown with a percent sign, as a difference of two percentages.
CHANGE_FORMATS: Final = {
    Unit.percent: "+0.0%;-0.0%;0.0%",
    Unit.percentage_points: '+0.0" pp";-0.0" pp";0.0" pp"',
    Unit.number: "+#,##0;-#,##0;0",
    Unit.score: "+0.00;-0.00;0.00",
}
TREND_WORDS: Final = {"better": "Better", "worse": "Worse", "unchanged": "No change"}
_SHEET_FORBIDDEN: Final = re.compile(r"[\[\]:*?/\\]")
_BOLD: Final = Font(bold=True)


class MonthInFuture(InvalidInput):
    slug = "scorecard-month-in-future"
    title = "That month has not started"


@dataclass(frozen=True, slots=True)
class TrendMonth:
    """One month of the trend charts, read from the same rollups and formulas as the month's report."""

    month: date
    satisfaction: float | None
    answers: int
    first_contact_resolution: float | None
    decided: int
    complaints_closed: int
    complaints_improving: int
    compliments: int
    contacts: int

    @classmethod
    def of(cls, month: date, rollup: ScopeRollup) -> TrendMonth:
        figures = computed_figures(rollup)
        improving = rollup.quality.complaints_improving
        return cls(
            month,
            figures["customer-satisfaction"].value,
            figures["customer-satisfaction"].count,
            figures["first-contact-resolution"].value,
            figures["first-contact-resolution"].count,
            improving.total,
            improving.hits,
            rollup.quality.compliments,
            rollup.contacts.transfers.total,
        )


@dataclass(frozen=True, slots=True)
class ScorecardBook:
    """Everything the workbook shows, gathered in one read; writing it needs no database."""

    month: date
    summary: ScorecardReport
    groups: tuple[tuple[str, ScorecardReport], ...]
    trend: tuple[TrendMonth, ...]
    created_by: str
    created_at: datetime

    @property
    def file_name(self) -> str:
        return f"scorecard-{self.month:%Y-%m}.xlsx"


def check_month(month: date, now: datetime) -> date:
    """A month whose figures can be reported: one that has started (London time)."""
    if month > month_start(now):
        raise MonthInFuture(
            f"{month:%B %Y} has not started yet; choose {month_start(now):%Y-%m} or an earlier month.", field="month"
        )
    return month


async def gather(
    session: AsyncSession,
    card: Scorecard,
    month: date,
    *,
    within: list[uuid.UUID] | None,
    agent_ref: str | None = None,
    created_by: str,
    created_at: datetime,
) -> ScorecardBook:
    """The figures of ``month`` for the services ``within`` (None: every service), each service group wholly
    inside them, and the trend over the year to ``month``."""
    check_month(month, created_at)
    scope = await card.scope(session, agent_ref=agent_ref, within=within)
    summary = await card.report(session, month, scope)
    groups: list[tuple[str, ScorecardReport]] = []
    if agent_ref is None:
        visible = set(within) if within is not None else None
        members: dict[uuid.UUID, set[uuid.UUID]] = {}
        for group_id, service_id in (await session.execute(select(Service.group_id, Service.id))).tuples():
            if group_id is not None:
                members.setdefault(group_id, set()).add(service_id)
        for group in (
            await session.scalars(select(ServiceGroup).order_by(ServiceGroup.position, ServiceGroup.name))
        ).all():
            ids = members.get(group.id, set())
            if not ids or (visible is not None and not ids <= visible):
                continue
            group_scope = await card.scope(session, group=group.slug)
            groups.append((group.name, await card.report(session, month, group_scope)))
    months = [month]
    while len(months) < TREND_MONTHS:
        months.insert(0, previous_month(months[0]))
    history = await card.history(session, months, scope)
    trend = tuple(TrendMonth.of(m, history.get(m, ScopeRollup.empty())) for m in months)
    return ScorecardBook(month, summary, tuple(groups), trend, created_by, created_at)


def record_scorecard_export(session: AsyncSession, actor: Actor, book: ScorecardBook, *, how: str) -> ExportRun:
    """Every scorecard workbook is recorded like any export (who, which month, how many figures) and audited."""
    run = ExportRun(
        dataset="scorecard",
        format="xlsx",
        identified=False,
        date_from=book.month,
        date_to=next_month(book.month) - timedelta(days=1),
        created_by=actor.id if actor.kind == "staff" else None,
        created_at=book.created_at,
        state=ExportState.streamed,
        rows=len(book.summary.figures) + sum(len(report.figures) for _, report in book.groups),
        finished_at=utcnow(),
    )
    session.add(run)
    detail = {
        "export": str(run.id),
        "dataset": "scorecard",
        "format": "xlsx",
        "month": f"{book.month:%Y-%m}",
        "scope": book.summary.scope.label,
        "rows": run.rows,
        "how": how,
    }
    record(session, actor, "exports.run", target_kind="export", target_id=run.id, detail=detail)
    return run


# --- writing -----------------------------------------------------------------------------------------------


def _text(value: str) -> Any:
    return safe_cell(value)


def _sheet_title(name: str, taken: set[str]) -> str:
    base = _SHEET_FORBIDDEN.sub(" ", name).strip().strip("'")[:28] or "Service group"
    title, number = base, 2
    while title.lower() in taken:
        title = f"{base[:25]} ({number})"
        number += 1
    taken.add(title.lower())
    return title


def _heading(sheet: Worksheet, title: str, subtitle: str) -> None:
    sheet["A1"] = _text(title)
    sheet["A1"].font = Font(bold=True, size=14)
    sheet["A2"] = _text(subtitle)


def _header_row(sheet: Worksheet, row: int, headers: Sequence[str]) -> None:
    for number, header in enumerate(headers, start=1):
        cell = sheet.cell(row=row, column=number, value=_text(header))
        cell.font = _BOLD
        cell.alignment = Alignment(wrap_text=True, vertical="top")


def _number(sheet: Worksheet, row: int, column: int, value: float | int | datetime | None, number_format: str) -> None:
    cell = sheet.cell(row=row, column=column, value=value)
    if value is not None:
        cell.number_format = number_format


def _figure_row(sheet: Worksheet, row: int, figure: FigureReport) -> None:
    unit = figure.unit
    value_format = VALUE_FORMATS[unit]
    change_format = CHANGE_FORMATS.get(unit, "+#,##0.0;-#,##0.0;0.0")
    sheet.cell(row=row, column=COLUMN["Perspective"], value=_text(figure.perspective.label))
    sheet.cell(row=row, column=COLUMN["Measure"], value=_text(figure.name))
    if figure.by_category is None:
        _number(sheet, row, COLUMN["Figure"], figure.value, value_format)
    else:
        sheet.cell(row=row, column=COLUMN["Figure"], value=_text("By channel, below"))
    sheet.cell(row=row, column=COLUMN["Unit"], value=_text(UNIT_WORDS[unit]))
    _number(sheet, row, COLUMN["Previous month"], figure.previous, value_format)
    _number(sheet, row, COLUMN["Change on previous month"], figure.change, change_format)
    if figure.trend is not None:
        sheet.cell(row=row, column=COLUMN["Better or worse"], value=_text(TREND_WORDS[figure.trend]))
    if figure.target is not None:
        _number(sheet, row, COLUMN["Target"], figure.target.value, value_format)
        better = "Higher" if figure.target.direction is Direction.higher_is_better else "Lower"
        sheet.cell(row=row, column=COLUMN["Better when the figure is"], value=_text(better))
    sheet.cell(row=row, column=COLUMN["Status"], value=_text(STATUS_TEXT[figure.status]))
    _number(sheet, row, COLUMN["Records behind the figure"], figure.count, "#,##0")
    sheet.cell(row=row, column=COLUMN["Source"], value=_text(figure.source.value.capitalize()))
    sheet.cell(row=row, column=COLUMN["Measure code"], value=_text(figure.slug))


def channel_table_row(report: ScorecardReport) -> int:
    """The row of the channel table's header: two rows below the figures."""
    return TABLE_HEADER_ROW + len(report.figures) + 2


def _scorecard_sheet(sheet: Worksheet, title: str, report: ScorecardReport) -> None:
    _heading(sheet, title, f"{report.scope.label}, {report.month:%B %Y}")
    _header_row(sheet, TABLE_HEADER_ROW, [name for name, _ in FIGURE_COLUMNS])
    for number, (_, width) in enumerate(FIGURE_COLUMNS, start=1):
        sheet.column_dimensions[get_column_letter(number)].width = width
    for row, figure in enumerate(report.figures, start=TABLE_HEADER_ROW + 1):
        _figure_row(sheet, row, figure)
    sheet.freeze_panes = sheet.cell(row=TABLE_HEADER_ROW + 1, column=3)
    sheet.auto_filter.ref = (
        f"A{TABLE_HEADER_ROW}:{get_column_letter(len(FIGURE_COLUMNS))}{TABLE_HEADER_ROW + len(report.figures)}"
    )
    # Channel use (a share per channel) and channel shift (a change per channel, in percentage points).
    top = channel_table_row(report)
    use = _by_category(report, "channel-use")
    shift = _by_category(report, "channel-shift")
    _header_row(sheet, top, ["Channel", "Share of contacts", "Shift on previous month"])
    for row, channel in enumerate(sorted(set(use) | set(shift)), start=top + 1):
        sheet.cell(row=row, column=1, value=_text(channel.replace("_", " ")))
        _number(sheet, row, 2, use.get(channel), VALUE_FORMATS[Unit.percent])
        _number(sheet, row, 3, shift.get(channel), VALUE_FORMATS[Unit.percentage_points])


def _by_category(report: ScorecardReport, slug: str) -> dict[str, float]:
    found = [f for f in report.figures if f.slug == slug]
    return dict(found[0].by_category or {}) if found else {}


def _trend_sheet(sheet: Worksheet, book: ScorecardBook) -> None:
    _heading(sheet, "Trends over the year", f"{book.summary.scope.label}, to {book.month:%B %Y}")
    _header_row(sheet, TABLE_HEADER_ROW, TREND_COLUMNS)
    for number, width in enumerate((12, 14, 16, 14, 18, 12, 18, 12, 12), start=1):
        sheet.column_dimensions[get_column_letter(number)].width = width
    for row, month in enumerate(book.trend, start=TABLE_HEADER_ROW + 1):
        _number(sheet, row, 1, datetime(month.month.year, month.month.month, 1), "mmm yyyy")
        _number(sheet, row, 2, month.satisfaction, VALUE_FORMATS[Unit.percent])
        _number(sheet, row, 3, month.answers, "#,##0")
        _number(sheet, row, 4, month.first_contact_resolution, VALUE_FORMATS[Unit.percent])
        _number(sheet, row, 5, month.decided, "#,##0")
        _number(sheet, row, 6, month.complaints_closed, "#,##0")
        _number(sheet, row, 7, month.complaints_improving, "#,##0")
        _number(sheet, row, 8, month.compliments, "#,##0")
        _number(sheet, row, 9, month.contacts, "#,##0")
    sheet.freeze_panes = sheet.cell(row=TABLE_HEADER_ROW + 1, column=2)
    first, last = TABLE_HEADER_ROW + 1, TABLE_HEADER_ROW + len(book.trend)
    months = Reference(sheet, min_col=1, min_row=first, max_row=last)
    anchor_row = last + 3

    def line(title: str, column: int, y_title: str) -> LineChart:
        chart = LineChart()
        chart.title = title
        chart.y_axis.title = y_title
        chart.y_axis.number_format = "0%"
        chart.y_axis.scaling.min = 0
        chart.y_axis.scaling.max = 1
        chart.x_axis.number_format = "mmm yyyy"
        chart.add_data(Reference(sheet, min_col=column, min_row=TABLE_HEADER_ROW, max_row=last), titles_from_data=True)
        chart.set_categories(months)
        chart.height, chart.width = 7.5, 16
        return chart

    sheet.add_chart(line("Customer satisfaction by month", 2, "Satisfied"), f"A{anchor_row}")
    sheet.add_chart(line("First contact resolution by month", 4, "Resolved first time"), f"F{anchor_row}")
    complaints = BarChart()
    complaints.type = "col"
    complaints.title = "Complaints and compliments by month"
    complaints.y_axis.title = "Number"
    complaints.add_data(
        Reference(sheet, min_col=6, max_col=8, min_row=TABLE_HEADER_ROW, max_row=last), titles_from_data=True
    )
    complaints.set_categories(months)
    complaints.height, complaints.width = 7.5, 16
    sheet.add_chart(complaints, f"A{anchor_row + 16}")


def _channel_chart(summary_sheet: Worksheet, report: ScorecardReport) -> None:
    top = channel_table_row(report)
    count = len(set(_by_category(report, "channel-use")) | set(_by_category(report, "channel-shift")))
    chart = BarChart()
    chart.type = "bar"
    chart.title = f"Channel mix, {report.month:%B %Y}"
    chart.y_axis.title = "Share of contacts"
    chart.y_axis.number_format = "0%"
    chart.add_data(Reference(summary_sheet, min_col=2, min_row=top, max_row=top + max(count, 1)), titles_from_data=True)
    chart.set_categories(Reference(summary_sheet, min_col=1, min_row=top + 1, max_row=top + max(count, 1)))
    chart.height, chart.width = 7.5, 16
    summary_sheet.add_chart(chart, f"E{top}")


def _about_sheet(sheet: Worksheet, book: ScorecardBook, group_sheets: Sequence[tuple[str, str]]) -> None:
    sheet.column_dimensions["A"].width = 26
    sheet.column_dimensions["B"].width = 100
    sheet["A1"] = _text(ABOUT_SHEET)
    sheet["A1"].font = Font(bold=True, size=14)
    created = book.created_at.astimezone(LONDON).replace(microsecond=0, tzinfo=None)
    lines: list[tuple[str, Any]] = [
        ("Report", "Balanced scorecard"),
        ("Month", f"{book.month:%B %Y}"),
        ("Covers", book.summary.scope.label),
        ("Created (London time)", created),
        ("Created by", book.created_by),
        (
            "Summary sheet",
            "Every measure for the services covered, its change on the previous month, target and status.",
        ),
    ]
    for title, name in group_sheets:
        lines.append(("Service group sheet", f"{title}: every measure for the {name} service group."))
    lines += [
        (
            "Trends sheet",
            "The twelve months before this one and this month, with charts of customer satisfaction, "
            "first contact resolution, and complaints and compliments.",
        ),
        (
            "Percentages",
            "Shares are stored as fractions and shown as percentages. A change in a percentage is a "
            "difference in percentage points.",
        ),
        (
            "Where the figures come from",
            "The same monthly totals the scorecard pages and the command "
            "'civicvoice scorecard --month YYYY-MM --json' read, so the figures agree with them.",
        ),
        (
            "Formulas",
            "Text that begins with =, +, -, @, a tab or a carriage return has a ' added in front, so "
            "that spreadsheet programs show it as written instead of running it as a formula.",
        ),
    ]
    for row, (label, value) in enumerate(lines, start=3):
        sheet.cell(row=row, column=1, value=_text(label)).font = _BOLD
        cell = sheet.cell(row=row, column=2, value=_text(value) if isinstance(value, str) else value)
        cell.alignment = Alignment(wrap_text=True, vertical="top", horizontal="left")
        if isinstance(value, datetime):
            cell.number_format = "d mmmm yyyy, hh:mm"


def write_scorecard_workbook(target: str | Path | IO[bytes], book: ScorecardBook) -> None:
    """Write ``book`` as an XLSX workbook into ``target`` (a path or a binary file)."""
    workbook = Workbook()
    summary = workbook.active
    summary.title = SUMMARY_SHEET
    _scorecard_sheet(summary, f"Balanced scorecard, {book.month:%B %Y}", book.summary)
    _channel_chart(summary, book.summary)
    taken = {SUMMARY_SHEET.lower(), TREND_SHEET.lower(), ABOUT_SHEET.lower()}
    group_sheets: list[tuple[str, str]] = []
    for name, report in book.groups:
        title = _sheet_title(name, taken)
        _scorecard_sheet(workbook.create_sheet(title), f"{name}, {book.month:%B %Y}", report)
        group_sheets.append((title, name))
    _trend_sheet(workbook.create_sheet(TREND_SHEET), book)
    _about_sheet(workbook.create_sheet(ABOUT_SHEET), book, group_sheets)
    workbook.save(target)


def workbook_bytes(book: ScorecardBook) -> bytes:
    """The workbook as bytes, for a download or an attachment (it is small: figures, not rows)."""
    with tempfile.TemporaryFile(prefix="civicvoice-scorecard-") as spool:
        write_scorecard_workbook(spool, book)
        spool.seek(0)
        return spool.read()


__all__ = [
    "COLUMN",
    "MEDIA_TYPE",
    "MonthInFuture",
    "ScorecardBook",
    "TrendMonth",
    "check_month",
    "gather",
    "write_scorecard_workbook",
]
