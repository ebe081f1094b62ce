"""The feedback feature as the app factory sees it."""

from __future__ import annotations

from pathlib import Path

from civicvoice.core.extensions import STAFF_NAV, StaffNavItem
from civicvoice.core.features import Feature
from civicvoice.core.jobs import JobRegistry
from civicvoice.core.services import Extensions, Services, contribute
from civicvoice.core.settings import Settings
from feedback.action_pages import ACTION_ROLES
from feedback.action_pages import ROUTES as ACTION_ROUTES
from feedback.callback_pages import ROUTES as CALLBACK_ROUTES
from feedback.callbacks import JOBS as CALLBACK_JOBS
from feedback.case_pages import CASE_ROLES
from feedback.case_pages import ROUTES as CASE_ROUTES
from feedback.cases import OPEN_CASES_HOLD, with_open_complaints
from feedback.cli import feedback_commands, sentiment
from feedback.demand_pages import ROUTES as DEMAND_ROUTES
from feedback.inbox import REVIEWERS
from feedback.inbox import ROUTES as INBOX_ROUTES
from feedback.original_pages import ROUTES as ORIGINAL_ROUTES
from feedback.quality import QualityForm, quality_form
from feedback.quality_pages import ROUTES as QUALITY_ROUTES
from feedback.quality_pages import SCORE_ROLES
from feedback.scorecard.api import API_SCOPES as SCORECARD_SCOPES
from feedback.scorecard.api import ROUTES as SCORECARD_API_ROUTES
from feedback.scorecard.cli import scorecard
from feedback.scorecard.jobs import JOBS as SCORECARD_JOBS
from feedback.scorecard.pages import ROUTES as SCORECARD_ROUTES
from feedback.scorecard.pages import VIEWERS as SCORECARD_VIEWERS
from feedback.scorecard.service import Scorecard
from feedback.scoring import JOBS, on_responses_submitted
from privacy.holds import LEGAL_HOLDS
from surveys.extensions import OPEN_COMPLAINT_CHECKS, RESPONSE_SUBSCRIBERS


def jobs() -> JobRegistry:
    registry = JobRegistry()
    registry.merge(JOBS)
    registry.merge(CALLBACK_JOBS)
    registry.merge(SCORECARD_JOBS)
    return registry


def _services(services: Services, extensions: Extensions) -> None:
    # The council's quality form, checked once: a bad CIVICVOICE_QUALITY_FORM stops the start with its reason.
    services.provide(QualityForm(quality_form(services.get(Settings).quality_form_json)))
    # The scorecard's figures, for its pages, its command and the exports workbook.
    services.provide(Scorecard())


FEATURE = Feature(
    name="feedback",
    routes=[
        *INBOX_ROUTES,
        *DEMAND_ROUTES,
        *ORIGINAL_ROUTES,
        *CASE_ROUTES,
        *ACTION_ROUTES,
        *CALLBACK_ROUTES,
        *QUALITY_ROUTES,
        *SCORECARD_ROUTES,
        *SCORECARD_API_ROUTES,
    ],
    jobs=jobs(),
    api_scopes=SCORECARD_SCOPES,
    templates=[Path(__file__).parent / "templates"],
    cli=[sentiment, feedback_commands, scorecard],
    models=[
        "feedback.models",
        "feedback.cases",
        "feedback.actions",
        "feedback.callbacks",
        "feedback.quality",
        "feedback.demand",
        "feedback.originals",
        "feedback.scorecard.models",
    ],
    build_services=_services,
    extensions=[
        # Scores what surveys publishes as "response submitted", in the same transaction.
        contribute(RESPONSE_SUBSCRIBERS, on_responses_submitted),
        # An open complaint case: its complainant is not surveyed, and their records are held, until it closes.
        contribute(OPEN_COMPLAINT_CHECKS, with_open_complaints),
        contribute(LEGAL_HOLDS, OPEN_CASES_HOLD),
        contribute(STAFF_NAV, StaffNavItem("Complaint cases", "/staff/cases", roles=CASE_ROLES, position=20)),
        contribute(STAFF_NAV, StaffNavItem("Callbacks", "/staff/callbacks", roles=CASE_ROLES, position=18)),
        contribute(STAFF_NAV, StaffNavItem("Contact quality", "/staff/quality", roles=REVIEWERS, position=30)),
        contribute(
            STAFF_NAV,
            StaffNavItem("Quality scores", "/staff/quality/scores", roles=SCORE_ROLES, position=30),
        ),
        contribute(STAFF_NAV, StaffNavItem("Recent feedback", "/staff/feedback", position=10)),
        contribute(STAFF_NAV, StaffNavItem("Scorecard", "/staff/scorecard", roles=SCORECARD_VIEWERS, position=12)),
        contribute(STAFF_NAV, StaffNavItem("Improvement actions", "/staff/actions", roles=ACTION_ROLES, position=25)),
        contribute(
            STAFF_NAV,
            StaffNavItem("Classifier", "/staff/feedback/classifier", roles=REVIEWERS, position=15),
        ),
    ],
)
