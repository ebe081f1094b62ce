"""How a feature package presents itself to the app: everything it brings, declared in one `Feature`.

The app factory and the CLI read these declarations and name no feature's internals. Features meet each other
only through typed services and extension points (`civicvoice.core.services`).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from civicvoice.core.datamap import FileStore
from civicvoice.core.jobs import JobRegistry
from civicvoice.core.services import Contribution, Extensions, Services

ServiceBuilder = Callable[[Services, Extensions], None]
# A task every service process (web or worker) runs for its whole life, e.g. reloading a changed key file.
ProcessTask = Callable[[Services], Coroutine[Any, Any, None]]


@dataclass(frozen=True)
class Feature:
    """All a feature package brings. Features are listed lower layer first; services are built in that order."""

    name: str
    routes: Sequence[Any] = ()
    jobs: JobRegistry = field(default_factory=JobRegistry)
    api_scopes: Mapping[str, str] = field(default_factory=dict)
    # Template folders (searched after the composition root's own, in feature order).
    templates: Sequence[Path] = ()
    # Click groups and commands added to the `civicvoice` command.
    cli: Sequence[click.Command] = ()
    exception_handlers: Mapping[type[Exception], Callable[..., Any]] = field(default_factory=dict)
    # Modules that define the feature's tables: imported for migrations, the data map and tests.
    models: Sequence[str] = ()
    # Stores outside the database that hold personal data (mail files, packages, exports): the data map's other half.
    file_stores: Sequence[FileStore] = ()
    extensions: Sequence[Contribution[Any]] = ()
    # Adds this feature's services, given the services of the layers below and every contribution.
    build_services: ServiceBuilder | None = None
    process_tasks: Sequence[ProcessTask] = ()
