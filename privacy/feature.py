"""The privacy feature as the app factory sees it."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.ext.asyncio import async_sessionmaker

from civicvoice.core.extensions import SECRET_PATHS, STAFF_NAV, StaffNavItem
from civicvoice.core.features import Feature
from civicvoice.core.mail import Mailer
from civicvoice.core.services import Extensions, Services, contribute
from civicvoice.core.settings import Settings
from privacy.access import PACKAGE_STORE
from privacy.api import API_ROUTES, API_SCOPES
from privacy.audit_chain import HEAD_FILE_STORE
from privacy.cli import audit, keys, privacy
from privacy.erasure import LEDGER_FILE_STORE
from privacy.holds import DPO_HOLDS, LEGAL_HOLDS
from privacy.jobs import JOBS
from privacy.key_rotation import KeyringWatcher
from privacy.keyring import Keyring
from privacy.pages import PAGES
from privacy.public_pages import PUBLIC_PAGES, PUBLIC_REQUEST_PATHS
from privacy.public_requests import PublicRequests
from privacy.search_pages import PAGES as SEARCH_PAGES
from privacy.vault import Vault


def _services(services: Services, _extensions: Extensions) -> None:
    vault = services.provide(Vault(services.get(Keyring)))
    services.provide(KeyringWatcher(services.get(Settings), vault.keyring, on_reload=[vault.use_keyring]))
    settings = services.get(Settings)
    # Codes for the public request page go out through the kernel's mailer, like every other email.
    mailer = services.find(Mailer) or Mailer(settings)
    services.provide(PublicRequests(vault, services.get(Keyring), mailer, settings))


async def _watch_keys(services: Services) -> None:
    """Reload the key file when a rotation changes it, and report which key versions this process holds."""
    await services.get(KeyringWatcher).run(services.get(async_sessionmaker))


FEATURE = Feature(
    name="privacy",
    routes=[*PAGES, *SEARCH_PAGES, *PUBLIC_PAGES, *API_ROUTES],
    api_scopes=API_SCOPES,
    templates=[Path(__file__).parent / "templates"],
    jobs=JOBS,
    cli=[audit, keys, privacy],
    models=[
        "privacy.models",
        "privacy.audit_chain",
        "privacy.key_rotation",
        "privacy.erasure",
        "privacy.retention",
        "privacy.closures",
        "privacy.requests",
        "privacy.access",
        "privacy.holds",
        "privacy.mentions",
        "privacy.index_rotation",
        "privacy.restriction",
        "privacy.public_requests",
    ],
    file_stores=[HEAD_FILE_STORE, LEDGER_FILE_STORE, PACKAGE_STORE],
    build_services=_services,
    process_tasks=[_watch_keys],
    extensions=[
        *(contribute(SECRET_PATHS, pattern) for pattern in PUBLIC_REQUEST_PATHS),
        contribute(STAFF_NAV, StaffNavItem("Subject requests", "/staff/privacy/requests", roles=("dpo",), position=40)),
        contribute(STAFF_NAV, StaffNavItem("Retention", "/staff/privacy/retention", roles=("dpo",), position=41)),
        contribute(STAFF_NAV, StaffNavItem("Find a person", "/staff/privacy/search", roles=("dpo",), position=42)),
        contribute(STAFF_NAV, StaffNavItem("Legal holds", "/staff/privacy/holds", roles=("dpo",), position=43)),
        contribute(LEGAL_HOLDS, DPO_HOLDS),
    ],
)
