"""The staff package as the app factory sees it: sign-in, staff accounts, the login throttle, the password pool and
the staff page layout.

It sits above the features (composition root): features reach the signed-in user and the layout only through the
kernel's extension points (STAFF_GUARD, STAFF_AREA, STAFF_NAV and `staff_template`).
"""

from __future__ import annotations

from civicvoice.core.auth import STAFF_GUARD
from civicvoice.core.crypto import derive_key
from civicvoice.core.extensions import STAFF_AREA, STAFF_NAV, StaffArea, StaffNavItem
from civicvoice.core.features import Feature
from civicvoice.core.services import Extensions, Services, contribute
from civicvoice.staff.controllers import ROUTES
from civicvoice.staff.job_pages import JOB_PAGES
from civicvoice.staff.jobs import JOBS
from civicvoice.staff.jobs_cli import jobs_group
from civicvoice.staff.passwords import PasswordWorkers
from civicvoice.staff.throttle import LoginThrottler
from civicvoice.staff.web import EXCEPTION_HANDLERS, HOME_PATH, staff_guard
from privacy.keyring import Keyring


def _services(services: Services, _extensions: Extensions) -> None:
    # Its own key, derived from the token key, so throttle hashes share nothing with survey-link signatures.
    services.provide(LoginThrottler(derive_key(services.get(Keyring).token, b"civicvoice staff login throttle")))
    # Password hashing off the event loop, in a bounded pool (closed with the app through its aclose).
    services.provide(PasswordWorkers())


FEATURE = Feature(
    name="staff",
    routes=[*ROUTES, *JOB_PAGES],
    jobs=JOBS,
    cli=[jobs_group],  # civicvoice jobs list / retry
    exception_handlers=EXCEPTION_HANDLERS,
    models=["civicvoice.staff.models"],
    extensions=[
        contribute(STAFF_GUARD, staff_guard),
        contribute(STAFF_AREA, StaffArea(prefix="/staff", home=HOME_PATH)),
        contribute(STAFF_NAV, StaffNavItem("Staff users", "/staff/users", roles=("admin",), position=90)),
        contribute(STAFF_NAV, StaffNavItem("Background jobs", "/staff/jobs", roles=("admin",), position=95)),
    ],
    build_services=_services,
)
