"""Monthly figures of the measures other systems hold (utilisation, ICT reliability, sickness days and the like),
imported from a spreadsheet (XLSX or CSV) with the columns Month, Service, Measure, Team and Value.

The file is read by the contact import's reader (`exports.imports.read_table`: size, zip-bomb and XML checks,
defusedxml) and read and mapped in full before anything is written, so a file that cannot be read changes
nothing. Every good row is stored by the function the entered-figures API and the staff entry page use,
`feedback.scorecard.entries.enter_figure`, so the measure codes, the value rules and the per-team aggregate
rule cannot drift; a service manager imports for their own services only (the entry page's own check). A figure
for a month, service, measure and team that is already there is corrected, as the API corrects it; the same
value again is reported as unchanged, so importing a file twice changes no figure.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from civicvoice.core.audit import Actor, record
from civicvoice.core.auth import StaffUser
from civicvoice.core.clock import utcnow
from civicvoice.core.errors import CivicVoiceError, PermissionDenied
from exports.imports import FileTooLarge, RejectedRow, map_headers, read_table
from exports.spreadsheet import AboutExport, Column, write_xlsx
from feedback.scorecard.entries import ENTERED_SLUGS, enter_figure, parse_month, require_within
from feedback.scorecard.measures import MEASURES, Unit
from feedback.scorecard.models import EnteredFigure
from feedback.scorecard.pages import MANAGERS, viewer_services
from feedback.scorecard.rollups import month_start, previous_month
from surveys.models import Service

# The source every imported figure is shown with on the scorecard (beside who imported it).
IMPORT_SOURCE: Final = "spreadsheet import"

# Header (as people write it, normalised) -> the figure's field.
FIGURE_HEADERS: Final = {
    "month": "month",
    "service": "service",
    "measure": "measure",
    "team": "team",
    "value": "value",
    "figure": "value",
}
FIGURE_REQUIRED: Final = ("month", "service", "measure", "value")
_COLUMNS: Final = "Month, Service, Measure, Value, and optionally Team"
# A month's figures are a few hundred rows; each is stored (and audited) on its own, so a file is kept to a size
# one request stores in seconds.
MAX_FIGURE_ROWS: Final = 5_000
_NUMBER: Final = re.compile(r"^[0-9]+(\.[0-9]+)?$")


@dataclass
class FigureImportReport:
    rows: int = 0
    stored: int = 0  # new figures
    updated: int = 0  # figures corrected to a different value
    unchanged: int = 0  # figures already there with this value
    rejected: list[RejectedRow] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "stored": self.stored,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "rejected": [{"row": r.row, "field": r.field, "reason": r.reason} for r in self.rejected],
        }


@dataclass(frozen=True)
class FigureRow:
    row: int
    month: date
    service: str
    measure: str
    team: str
    value: float


class _RowProblem(Exception):
    def __init__(self, reason: str, at: str) -> None:
        super().__init__(reason)
        self.reason, self.at = reason, at


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _month(value: object) -> date:
    # Excel turns a typed "2026-11" into a date; a month is its first day either way.
    if isinstance(value, datetime | date):
        return date(value.year, value.month, 1)
    text = _text(value)
    if not text:
        raise _RowProblem("Give the month as YYYY-MM, for example 2026-11.", "month")
    try:
        return parse_month(text)
    except CivicVoiceError as exc:
        raise _RowProblem(exc.detail, "month") from None


def _number(value: object) -> float:
    if isinstance(value, bool):
        raise _RowProblem("Give the figure as a number, for example 92.5.", "value")
    if isinstance(value, int | float):
        return float(value)
    text = _text(value).replace(",", "").removesuffix("%").strip()
    if not _NUMBER.match(text):
        raise _RowProblem("Give the figure as a number, zero or more, for example 92.5.", "value")
    return float(text)


def _measure(value: object) -> str:
    """A measure by its code (utilisation) or its name as the scorecard shows it (Utilisation)."""
    text = _text(value)
    if not text:
        raise _RowProblem("Name the measure, for example utilisation.", "measure")
    by_name = {MEASURES[slug].name.lower(): slug for slug in ENTERED_SLUGS}
    return by_name.get(text.lower(), text.lower())


def parse_figures(content: bytes) -> tuple[list[FigureRow], list[RejectedRow]]:
    """Every row of a file as a figure to store, or a rejected row; ImportRefused when the file cannot be read."""
    (_, header), *rows = read_table(content)
    if len(rows) > MAX_FIGURE_ROWS:
        raise FileTooLarge(f"The file has more than {MAX_FIGURE_ROWS:,} figures; split it into smaller files.")
    fields = map_headers(header, headers=FIGURE_HEADERS, required=FIGURE_REQUIRED, columns=_COLUMNS)
    figures: list[FigureRow] = []
    rejected: list[RejectedRow] = []
    first_seen: dict[tuple[date, str, str, str], int] = {}
    for number, cells in rows:
        found = {target: cell for target, cell in zip(fields, cells, strict=False) if target is not None}
        try:
            service = _text(found.get("service"))
            if not service:
                raise _RowProblem("Name the service, for example council-tax.", "service")
            figure = FigureRow(
                number,
                _month(found.get("month")),
                service,
                _measure(found.get("measure")),
                _text(found.get("team"))[:200],
                _number(found.get("value")),
            )
        except _RowProblem as problem:
            rejected.append(RejectedRow(number, problem.reason, problem.at))
            continue
        key = (figure.month, figure.service.lower(), figure.measure, figure.team.lower())
        if key in first_seen:
            rejected.append(
                RejectedRow(number, f"Repeats row {first_seen[key]}: the same month, service, measure and team.", "row")
            )
            continue
        first_seen[key] = number
        figures.append(figure)
    return figures, rejected


async def import_figures(
    session: AsyncSession,
    content: bytes,
    *,
    importer: StaffUser | None,
    actor: Actor,
) -> FigureImportReport:
    """Import a file's figures in the caller's transaction, as ``importer`` (None: the command line's operator,
    every service). Each rejected row is in the report; the audit entry is left in the session for the caller's
    commit."""
    if importer is not None and importer.role not in MANAGERS:
        raise PermissionDenied("Only service managers and administrators enter scorecard figures.")
    figures, rejected = parse_figures(content)
    report = FigureImportReport(rows=len(figures) + len(rejected), rejected=rejected)
    within = await viewer_services(session, importer) if importer is not None else None
    services: dict[str, Service] = {}
    for found in (await session.scalars(select(Service))).all():
        services[found.slug.lower()] = found
        services.setdefault(found.name.lower(), found)
    months = sorted({figure.month for figure in figures})
    before = {
        (row.month, row.service_id, row.measure, row.team): row.value
        for row in (await session.scalars(select(EnteredFigure).where(EnteredFigure.month.in_(months)))).all()
    }
    entered_by = str(importer.id) if importer is not None else actor.id
    for figure in figures:
        service = services.get(figure.service.lower())
        try:
            if service is None:
                raise _RowProblem(f"No service is called {figure.service[:64]!r}.", "service")
            require_within(service, within)
            # The entry function checks the measure, team and value before it writes anything, so a refused row
            # leaves the transaction as it was.
            row = await enter_figure(
                session,
                month=figure.month,
                service_id=service.id,
                team=figure.team,
                slug=figure.measure,
                value=figure.value,
                source=IMPORT_SOURCE,
                entered_by=entered_by,
                actor=actor,
            )
        except _RowProblem as problem:
            report.rejected.append(RejectedRow(figure.row, problem.reason, problem.at))
            continue
        except CivicVoiceError as exc:
            report.rejected.append(RejectedRow(figure.row, exc.detail, exc.field))
            continue
        previous = before.get((figure.month, service.id, row.measure, row.team))
        if previous is None:
            report.stored += 1
        elif previous == row.value:
            report.unchanged += 1
        else:
            report.updated += 1
    report.rejected.sort(key=lambda r: r.row)
    record(
        session,
        actor,
        "imports.figures",
        detail={
            "rows": report.rows,
            "stored": report.stored,
            "updated": report.updated,
            "unchanged": report.unchanged,
            "rejected": len(report.rejected),
        },
    )
    return report


_UNIT_HINT: Final = {
    Unit.percent: "a percentage, 0 to 100",
    Unit.hours: "hours",
    Unit.days: "days",
    Unit.number: "a whole number",
}


def template_workbook(services: Sequence[tuple[str, str]], *, created_by: str) -> bytes:
    """A workbook to fill in: the columns, one row per measure for last month (Service and Value left for the
    person), and on its second sheet the service codes and what each measure's value is."""
    month = f"{previous_month(month_start(utcnow())):%Y-%m}"
    notes = [
        "Fill in Service and Value on each row you have a figure for, and delete the others.",
        "Month: YYYY-MM. Team: leave blank for the whole service. Staff figures are per team, never per person.",
        *(
            f"Measure {slug} ({MEASURES[slug].name}): {_UNIT_HINT.get(MEASURES[slug].unit, MEASURES[slug].unit.value)}."
            for slug in ENTERED_SLUGS
        ),
        *(f"Service {slug}: {name}." for slug, name in services),
    ]
    out = io.BytesIO()
    write_xlsx(
        out,
        [Column("Month", 10), Column("Service", 24), Column("Measure", 40), Column("Team", 20), Column("Value", 10)],
        [(month, "", slug, "", None) for slug in ENTERED_SLUGS],
        AboutExport("Scorecard figures to import", created_by, utcnow(), notes=tuple(notes)),
        sheet_title="Figures",
    )
    return out.getvalue()


__all__ = ["IMPORT_SOURCE", "FigureImportReport", "import_figures", "parse_figures", "template_workbook"]
