"""The exports feature as the app factory sees it."""

from __future__ import annotations

from civicvoice.core.features import Feature
from exports.cli import export

FEATURE = Feature(name="exports", cli=[export])
