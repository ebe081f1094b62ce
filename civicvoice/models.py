"""Every table of the kernel and of every feature, registered on the metadata for migrations, the data map and
tests. Features declare their model modules in their `Feature`; this module names none of them."""

from __future__ import annotations

import importlib

from civicvoice.core.db import Base

# The kernel's own tables: jobs, API keys and staff users, the audit log.
KERNEL_MODELS = ("civicvoice.core.jobs", "civicvoice.core.auth", "civicvoice.core.audit", "civicvoice.core.ratelimit")


def load_models() -> type[Base]:
    from civicvoice.app import features

    for module in (*KERNEL_MODELS, *(name for feature in features() for name in feature.models)):
        importlib.import_module(module)
    return Base


load_models()

__all__ = ["Base", "load_models"]
