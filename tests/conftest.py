"""Shared fixtures: settings with fresh keys, a migrated database (SQLite always, PostgreSQL when configured)."""

from __future__ import annotations

import os

from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings

hypothesis_settings.register_profile(
    "civicvoice", deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
hypothesis_settings.load_profile("civicvoice")

PG_URL = os.environ.get("CIVICVOICE_TEST_DATABASE_URL", "").strip()
BACKENDS = ["sqlite", *(["postgresql"] if PG_URL else [])]


def pytest_report_header() -> str:
    return f"civicvoice database backends: {', '.join(BACKENDS)}"
