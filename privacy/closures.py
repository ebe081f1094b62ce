"""A council's own closure days (beyond bank holidays), kept as data so they change without a release.

The working calendar of ICO deadlines and complaint targets skips them. Functions take a session and return
plain structs, so the CLI (with ``--json``) and later a staff page call the same code.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import date, datetime

import msgspec
from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import Date, String, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from civicvoice.core.audit import Actor, record
from civicvoice.core.clock import utcnow
from civicvoice.core.datamap import DataMapEntry
from civicvoice.core.db import Base
from civicvoice.core.errors import Conflict, InvalidInput, NotFound
from civicvoice.core.settings import Settings
from privacy.deadlines import Region, WorkingCalendar

MAX_REASON = 200


class ClosureDay(Base):
    """One day the council is closed although it is neither a weekend nor a bank holiday."""

    __tablename__ = "closure_day"
    __datamap__ = DataMapEntry.no_personal_data("Council closure days that deadlines and targets skip")

    day: Mapped[date] = mapped_column(Date, unique=True)
    reason: Mapped[str] = mapped_column(String(MAX_REASON))
    updated_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True), default=utcnow)


class Closure(msgspec.Struct, frozen=True):
    """A closure day as read and written by callers: the day, and why (shown to staff beside a deadline)."""

    day: date
    reason: str


def parse_day(raw: str, *, field: str = "day") -> date:
    try:
        return date.fromisoformat(raw.strip())
    except ValueError:
        raise InvalidInput(f"Give a date as YYYY-MM-DD, not {raw.strip()!r}.", field=field) from None


def closure(day: date | str, reason: str) -> Closure:
    """A checked closure: a real day and a reason of 1 to 200 characters."""
    when = parse_day(day) if isinstance(day, str) else day
    text = " ".join(reason.split())
    if not text:
        raise InvalidInput(f"Say why the council is closed on {when.isoformat()}.", field="reason")
    if len(text) > MAX_REASON:
        raise InvalidInput(f"A closure reason has at most {MAX_REASON} characters.", field="reason")
    return Closure(day=when, reason=text)


def parse_closures(text: str) -> list[Closure]:
    """Closures from a CSV file (``day,reason`` per line; a header line and blank lines are fine).

    Every line is checked first: one bad line refuses the whole file with its line number, so a file is
    never half imported.
    """
    closures: dict[date, Closure] = {}
    problems: list[str] = []
    for number, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        if not row or not "".join(row).strip():
            continue
        if number == 1 and row[0].strip().lower() in ("day", "date"):
            continue
        if len(row) < 2:
            problems.append(f"line {number}: expected a date and a reason")
            continue
        try:
            entry = closure(row[0], ",".join(row[1:]))
        except InvalidInput as error:
            problems.append(f"line {number}: {error.detail}")
            continue
        if entry.day in closures:
            problems.append(f"line {number}: {entry.day.isoformat()} is listed twice")
        closures[entry.day] = entry
    if problems:
        raise InvalidInput("Nothing was imported. " + "; ".join(problems[:10]), field="file")
    return sorted(closures.values(), key=lambda c: c.day)


async def list_closures(session: AsyncSession, *, start: date | None = None, end: date | None = None) -> list[Closure]:
    stmt = select(ClosureDay.day, ClosureDay.reason).order_by(ClosureDay.day)
    if start is not None:
        stmt = stmt.where(ClosureDay.day >= start)
    if end is not None:
        stmt = stmt.where(ClosureDay.day <= end)
    return [Closure(day=day, reason=reason) for day, reason in (await session.execute(stmt)).all()]


async def save_closures(session: AsyncSession, closures: Sequence[Closure], actor: Actor) -> dict[str, int]:
    """Add closure days, or change the reason of days already listed. Returns counts added and updated."""
    wanted = {c.day: c for c in closures}
    existing = {
        row.day: row
        for row in (await session.scalars(select(ClosureDay).where(ClosureDay.day.in_(list(wanted))))).all()
    }
    added = updated = 0
    for day, entry in sorted(wanted.items()):
        row = existing.get(day)
        if row is None:
            session.add(ClosureDay(day=day, reason=entry.reason, updated_at=utcnow()))
            added += 1
        elif row.reason != entry.reason:
            row.reason, row.updated_at = entry.reason, utcnow()
            updated += 1
    try:
        await session.flush()
    except IntegrityError:
        raise Conflict("Someone else changed the closure days at the same time; try again.") from None
    if added or updated:
        record(
            session,
            actor,
            "privacy.closure_days.saved",
            detail={"added": added, "updated": updated, "days": [d.isoformat() for d in sorted(wanted)]},
        )
    return {"added": added, "updated": updated}


async def remove_closures(session: AsyncSession, days: Iterable[date], actor: Actor) -> int:
    """Remove closure days; a day that is not listed is refused by name and nothing is removed."""
    wanted = sorted(set(days))
    found = set((await session.scalars(select(ClosureDay.day).where(ClosureDay.day.in_(wanted)))).all())
    missing = [d.isoformat() for d in wanted if d not in found]
    if missing:
        raise NotFound(f"Not a listed closure day: {', '.join(missing)}. Nothing was removed.", field="day")
    await session.execute(delete(ClosureDay).where(ClosureDay.day.in_(wanted)))
    record(session, actor, "privacy.closure_days.removed", detail={"days": [d.isoformat() for d in wanted]})
    return len(wanted)


async def working_calendar(session: AsyncSession, region: Region = Region.ENGLAND_AND_WALES) -> WorkingCalendar:
    """The calendar deadlines are computed on: the region's bank holidays and every stored closure day."""
    days = (await session.scalars(select(ClosureDay.day))).all()
    return WorkingCalendar.of(region, days)


async def council_calendar(session: AsyncSession, settings: Settings) -> WorkingCalendar:
    """The council's working calendar: its nation's bank holidays (CIVICVOICE_BANK_HOLIDAY_REGION) and its own
    closure days; every deadline, privacy's and the complaint cases', is counted on it."""
    return await working_calendar(session, Region.from_setting(settings.bank_holiday_region))
