"""The staff-access feature as the app factory sees it: sign-in pages, user pages and the login throttle."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from civicvoice.core.crypto import derive_key
from civicvoice.core.features import Feature
from civicvoice.staff.controllers import ROUTES
from civicvoice.staff.jobs import JOBS
from civicvoice.staff.throttle import LoginThrottler


def _services(built: Mapping[str, Any]) -> Mapping[str, Any]:
    # Its own key, derived from the token key, so throttle hashes share nothing with survey-link signatures.
    key = derive_key(built["keyring"].token, b"civicvoice staff login throttle")
    return {"login_throttler": LoginThrottler(key)}


FEATURE = Feature(name="staff", routes=ROUTES, jobs=JOBS, build_services=_services)
