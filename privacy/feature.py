"""The privacy feature as the app factory sees it."""

from __future__ import annotations

from civicvoice.core.features import Feature
from civicvoice.core.services import Extensions, Services
from privacy.audit_chain import HEAD_FILE_STORE
from privacy.cli import audit
from privacy.jobs import JOBS
from privacy.keyring import Keyring
from privacy.vault import Vault


def _services(services: Services, _extensions: Extensions) -> None:
    services.provide(Vault(services.get(Keyring)))


FEATURE = Feature(
    name="privacy",
    jobs=JOBS,
    cli=[audit],
    models=["privacy.models", "privacy.audit_chain"],
    file_stores=[HEAD_FILE_STORE],
    build_services=_services,
)
