"""The surveys feature as the app factory sees it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from civicvoice.core.features import Feature
from surveys.controllers import API_SCOPES, ROUTES
from surveys.intake import ContactIntake
from surveys.jobs import JOBS


def _services(built: Mapping[str, Any]) -> Mapping[str, Any]:
    # Higher layers add their open-complaint checks to the shared list after this feature is built.
    return {"contact_intake": ContactIntake(built["vault"], open_complaint_checks=built["open_complaint_checks"])}


FEATURE = Feature(name="surveys", routes=ROUTES, jobs=JOBS, api_scopes=API_SCOPES, build_services=_services)
