"""Time: timezone-aware UTC in storage, Europe/London for people and for statutory deadlines."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

LONDON = ZoneInfo("Europe/London")


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(moment: datetime) -> datetime:
    """Normalise an aware datetime to UTC; a naive one is a programming error, not input to guess at."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime: civicvoice stores timezone-aware UTC only")
    return moment.astimezone(UTC)
