"""The privacy feature as the app factory sees it."""

from __future__ import annotations

from civicvoice.core.features import Feature
from civicvoice.core.services import Extensions, Services
from privacy.keyring import Keyring
from privacy.vault import Vault


def _services(services: Services, _extensions: Extensions) -> None:
    services.provide(Vault(services.get(Keyring)))


FEATURE = Feature(name="privacy", models=["privacy.models"], build_services=_services)
