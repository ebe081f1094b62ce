"""How a feature package presents itself to the app factory: routes, jobs, API scopes and services."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from civicvoice.core.jobs import JobRegistry

ServiceBuilder = Callable[[Mapping[str, Any]], Mapping[str, Any]]


@dataclass(frozen=True)
class Feature:
    name: str
    routes: Sequence[Any] = ()
    jobs: JobRegistry = field(default_factory=JobRegistry)
    api_scopes: Mapping[str, str] = field(default_factory=dict)
    # Given the services built so far (settings, keyring, vault, ...), returns this feature's own.
    build_services: ServiceBuilder | None = None
