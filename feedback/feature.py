"""The feedback feature as the app factory sees it."""

from __future__ import annotations

from pathlib import Path

from civicvoice.core.extensions import STAFF_NAV, StaffNavItem
from civicvoice.core.features import Feature
from civicvoice.core.services import contribute
from feedback.cli import sentiment
from feedback.inbox import ROUTES as INBOX_ROUTES
from feedback.scoring import JOBS, on_responses_submitted
from surveys.extensions import RESPONSE_SUBSCRIBERS

FEATURE = Feature(
    name="feedback",
    routes=INBOX_ROUTES,
    jobs=JOBS,
    templates=[Path(__file__).parent / "templates"],
    cli=[sentiment],
    models=["feedback.models"],
    extensions=[
        # Scores what surveys publishes as "response submitted", in the same transaction.
        contribute(RESPONSE_SUBSCRIBERS, on_responses_submitted),
        contribute(STAFF_NAV, StaffNavItem("Recent feedback", "/staff/feedback", position=10)),
    ],
)
