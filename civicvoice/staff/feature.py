"""The staff-access feature as the app factory sees it: sign-in pages, user pages and the login throttle."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from civicvoice.core.features import Feature
from civicvoice.staff.controllers import ROUTES
from civicvoice.staff.job_pages import JOB_PAGES
from civicvoice.staff.jobs import JOBS
from civicvoice.staff.throttle import LoginThrottler


def _services(built: Mapping[str, Any]) -> Mapping[str, Any]:
    # Its own key, derived from the token key, so throttle hashes share nothing with survey-link signatures.
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"civicvoice staff login throttle").derive(
        built["keyring"].token
    )
    return {"login_throttler": LoginThrottler(key)}


FEATURE = Feature(name="staff", routes=[*ROUTES, *JOB_PAGES], jobs=JOBS, build_services=_services)
