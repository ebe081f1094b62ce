"""The feedback feature as the app factory sees it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from civicvoice.core.features import Feature
from feedback.inbox import ROUTES as INBOX_ROUTES  # staff access (issue 5): the recent-feedback page
from feedback.scoring import JOBS, on_responses_submitted


def _services(built: Mapping[str, Any]) -> Mapping[str, Any]:
    # Subscribes to "response submitted" published by surveys, a lower layer.
    built["response_subscribers"].append(on_responses_submitted)
    return {}


FEATURE = Feature(name="feedback", routes=INBOX_ROUTES, jobs=JOBS, build_services=_services)
