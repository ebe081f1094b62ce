"""The exports feature as the app factory sees it."""

from __future__ import annotations

from pathlib import Path

from civicvoice.core.extensions import STAFF_NAV, StaffNavItem
from civicvoice.core.features import Feature
from civicvoice.core.services import contribute
from exports.cli import export, import_
from exports.jobs import JOBS
from exports.models import EXPORT_FILES
from exports.pages import EXPORT_ROLES, IMPORT_ROLES, PAGES
from exports.report_pages import PAGES as REPORT_PAGES
from exports.report_pages import SUBSCRIPTION_PAGE
from exports.reports import REPORT_ROLES
from exports.scorecard_workbook import SCORECARD_DOWNLOAD
from feedback.scorecard.pages import ENTRY_LINKS, MANAGERS, SCORECARD_LINKS, VIEWERS, ScorecardLink

FEATURE = Feature(
    name="exports",
    routes=[*PAGES, *REPORT_PAGES],
    jobs=JOBS,
    templates=[Path(__file__).parent / "templates"],
    cli=[export, import_],
    models=["exports.models"],
    file_stores=[EXPORT_FILES],
    extensions=[
        contribute(STAFF_NAV, StaffNavItem("Exports", "/staff/exports", roles=EXPORT_ROLES, position=60)),
        contribute(
            STAFF_NAV, StaffNavItem("Import contacts", "/staff/imports/contacts", roles=IMPORT_ROLES, position=61)
        ),
        contribute(
            SCORECARD_LINKS,
            ScorecardLink(
                "Download this month's scorecard as a spreadsheet (XLSX)", SCORECARD_DOWNLOAD, VIEWERS, for_month=True
            ),
        ),
        contribute(
            SCORECARD_LINKS,
            ScorecardLink("Receive the scorecard by email", SUBSCRIPTION_PAGE, REPORT_ROLES),
        ),
        contribute(
            SCORECARD_LINKS,
            ScorecardLink("Import figures from a spreadsheet", "/staff/imports/figures", MANAGERS),
        ),
        contribute(
            ENTRY_LINKS,
            ScorecardLink("Import many figures at once from a spreadsheet", "/staff/imports/figures", MANAGERS),
        ),
    ],
)
