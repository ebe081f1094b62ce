"""The privacy feature as the app factory sees it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from civicvoice.core.features import Feature
from privacy.vault import Vault


def _services(built: Mapping[str, Any]) -> Mapping[str, Any]:
    return {"vault": Vault(built["keyring"])}


FEATURE = Feature(name="privacy", build_services=_services)
