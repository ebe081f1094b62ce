"""Background jobs of the surveys feature."""

from __future__ import annotations

from civicvoice.core.jobs import JobRegistry

JOBS = JobRegistry()
