"""ICO time limits for subject requests, and the working-day calendar complaint cases share with them.

Pure: dates in, dates out. Bank holidays come from the maintained ``holidays`` package (data, no I/O); a
council's own closure days are passed in by the caller, who reads them from the ``closure_day`` table.
"""

from __future__ import annotations

import calendar as _calendar
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from functools import cache

import holidays

from civicvoice.core.clock import LONDON
from civicvoice.core.errors import Conflict, InvalidInput

# An extension adds at most this many months to the original deadline (UK GDPR Art. 12(3)).
MAX_EXTENSION_MONTHS = 2


class Region(StrEnum):
    """Which nation's bank holidays count; one council is in one of them (Wales shares England's)."""

    ENGLAND_AND_WALES = "ENG"
    SCOTLAND = "SCT"
    NORTHERN_IRELAND = "NIR"

    @classmethod
    def from_setting(cls, raw: str) -> Region:
        """Read a setting or command-line value: a code (``ENG``) or a name (``england-and-wales``)."""
        key = raw.strip().lower().replace("_", "-").replace(" ", "-")
        for region in cls:
            if key in (region.value.lower(), region.name.lower().replace("_", "-")):
                return region
        if key in ("england", "wales", "wls"):
            return cls.ENGLAND_AND_WALES
        names = ", ".join(r.name.lower().replace("_", "-") for r in cls)
        raise InvalidInput(f"Unknown bank-holiday region {raw!r}: use one of {names}.", field="region")


class InvalidTimeline(InvalidInput):
    """The dates given for a request cannot have happened in that order."""

    slug = "invalid-request-timeline"
    title = "Invalid request timeline"


class ExtensionRefused(Conflict):
    """An extension that the rules do not allow: too late, too long, already extended or without a reason."""

    slug = "extension-refused"
    title = "Extension refused"


@cache
def _bank_holidays(region: Region) -> holidays.HolidayBase:
    # One instance per region: the package fills in each year the first time a date of that year is asked.
    return holidays.country_holidays("GB", subdiv=region.value)


@dataclass(frozen=True)
class WorkingHours:
    """Opening hours on a working day, London time; due times of complaint stages count only these."""

    opens: time = time(9, 0)
    closes: time = time(17, 0)

    def __post_init__(self) -> None:
        if not self.opens < self.closes:
            raise InvalidInput("Working hours must open before they close.", field="working_hours")

    @property
    def length(self) -> timedelta:
        return datetime.combine(date.min, self.closes) - datetime.combine(date.min, self.opens)


@dataclass(frozen=True)
class WorkingCalendar:
    """Working days: Monday to Friday, minus the region's bank holidays and the council's closure days."""

    region: Region = Region.ENGLAND_AND_WALES
    closure_days: frozenset[date] = field(default_factory=frozenset)

    @classmethod
    def of(cls, region: Region = Region.ENGLAND_AND_WALES, closure_days: Iterable[date] = ()) -> WorkingCalendar:
        return cls(region=region, closure_days=frozenset(closure_days))

    def is_working_day(self, day: date) -> bool:
        return day.weekday() < 5 and day not in self.closure_days and day not in _bank_holidays(self.region)

    def why_closed(self, day: date) -> str | None:
        """Why ``day`` is not a working day (for a person reading a deadline), or None when it is one."""
        if day.weekday() >= 5:
            return day.strftime("%A")
        if (name := _bank_holidays(self.region).get(day)) is not None:
            return f"bank holiday: {name}"
        if day in self.closure_days:
            return "council closure day"
        return None

    def next_working_day(self, day: date) -> date:
        """``day`` itself when it is a working day, else the first working day after it."""
        while not self.is_working_day(day):
            day += timedelta(days=1)
        return day

    def add_working_days(self, day: date, count: int) -> date:
        """The ``count``-th working day after ``day`` (``day`` itself is not counted; 0 gives the next working day
        on or after it), as in "respond within 10 working days of receipt"."""
        if count < 0:
            raise ValueError("count must not be negative")
        if count == 0:
            return self.next_working_day(day)
        while count:
            day += timedelta(days=1)
            if self.is_working_day(day):
                count -= 1
        return day

    def working_days_between(self, start: date, end: date) -> int:
        """Working days after ``start`` up to and including ``end``; negative when ``end`` is before ``start``."""
        if end < start:
            return -self.working_days_between(end, start)
        return sum(1 for n in range(1, (end - start).days + 1) if self.is_working_day(start + timedelta(days=n)))

    def due_after_working_hours(
        self, start: datetime, hours: float, working_hours: WorkingHours | None = None
    ) -> datetime:
        """When ``hours`` of opening time have passed after ``start`` (aware). Returned in London time.

        Time outside opening hours does not count: a complaint logged on Friday evening with a 4-hour target
        is due at 13:00 on Monday (or the next working day).
        """
        if start.tzinfo is None:
            raise ValueError("naive datetime: give an aware datetime")
        if hours < 0:
            raise ValueError("hours must not be negative")
        hours_of = working_hours or WorkingHours()
        moment = start.astimezone(LONDON)
        remaining = timedelta(hours=hours)
        day = moment.date()
        # Wall-clock arithmetic within one day: opening hours never straddle a clock change (01:00-02:00).
        clock = moment.time().replace(tzinfo=None)
        while True:
            if self.is_working_day(day) and clock < hours_of.closes:
                begin = max(clock, hours_of.opens)
                available = datetime.combine(day, hours_of.closes) - datetime.combine(day, begin)
                if remaining <= available:
                    return datetime.combine(day, begin, tzinfo=LONDON) + remaining
                remaining -= available
            day += timedelta(days=1)
            clock = time.min


def london_day(moment: datetime) -> date:
    """The day a moment falls on in London: the day a request was received, for its time limit."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime: give an aware datetime")
    return moment.astimezone(LONDON).date()


def add_calendar_months(start: date, months: int) -> date:
    """The corresponding date ``months`` later, or that month's last day when it has no such date."""
    index = start.month - 1 + months
    year, month = start.year + index // 12, index % 12 + 1
    return date(year, month, min(start.day, _calendar.monthrange(year, month)[1]))


def clock_start(received: date, *, identity_verified: date | None = None, fee_received: date | None = None) -> date:
    """The day the time limit starts: receipt, or the later day identity was verified or a required fee arrived."""
    later = [d for d in (identity_verified, fee_received) if d is not None]
    for day in later:
        if day < received:
            raise InvalidTimeline("Identity or a fee cannot arrive before the request was received.", field="received")
    return max([received, *later])


def response_deadline(started: date, calendar: WorkingCalendar) -> date:
    """One calendar month from the day the clock started, moved to the next working day."""
    return calendar.next_working_day(add_calendar_months(started, 1))


@dataclass(frozen=True)
class ClarificationPause:
    """The clock stops the day the DPO asks for clarification and restarts the day it arrives."""

    asked_on: date
    received_on: date | None = None

    @property
    def is_open(self) -> bool:
        return self.received_on is None

    @property
    def days(self) -> int:
        return 0 if self.received_on is None else (self.received_on - self.asked_on).days


@dataclass(frozen=True)
class Extension:
    """Up to two further months on the original deadline, for a complex or numerous request."""

    months: int
    reason: str
    notified_on: date


@dataclass(frozen=True)
class RequestClock:
    """Everything a subject request's time limit depends on."""

    started: date
    pauses: tuple[ClarificationPause, ...] = ()
    extension: Extension | None = None


@dataclass(frozen=True)
class Deadline:
    """A request's time limit as it stands. ``due`` is None while the clock is stopped for clarification."""

    started: date
    # One calendar month from the start, before pauses and the move to a working day.
    calendar_date: date
    paused_days: int
    is_paused: bool
    # Without any extension: what the requester must be told of an extension by.
    original_due: date | None
    due: date | None
    extended_by_months: int = 0


def _check_pauses(clock: RequestClock, calendar: WorkingCalendar) -> int:
    paused = 0
    base = add_calendar_months(clock.started, 1)
    previous_end = clock.started
    for number, pause in enumerate(clock.pauses, start=1):
        if pause.asked_on < previous_end:
            raise InvalidTimeline(
                f"Clarification request {number} starts before the clock had restarted.", field="pauses"
            )
        if pause.received_on is not None and pause.received_on < pause.asked_on:
            raise InvalidTimeline(f"Clarification {number} arrived before it was asked for.", field="pauses")
        if pause.is_open and number != len(clock.pauses):
            raise InvalidTimeline(
                f"Clarification {number} is still awaited, so no later one can exist.", field="pauses"
            )
        # A clock that has already run out cannot be stopped: that would hide an overdue request.
        if pause.asked_on > calendar.next_working_day(base + timedelta(days=paused)):
            raise InvalidTimeline(
                f"Clarification request {number} was made after the deadline had passed.", field="pauses"
            )
        paused += pause.days
        previous_end = pause.received_on or pause.asked_on
    return paused


def deadline(clock: RequestClock, calendar: WorkingCalendar) -> Deadline:
    """The time limit of a request: one calendar month, plus every paused day, plus any extension's months
    added to the original calendar date, then moved to the next working day."""
    paused = _check_pauses(clock, calendar)
    base = add_calendar_months(clock.started, 1)
    is_paused = bool(clock.pauses) and clock.pauses[-1].is_open
    months = clock.extension.months if clock.extension else 0
    if is_paused:
        return Deadline(clock.started, base, paused, True, None, None, months)
    original_due = calendar.next_working_day(base + timedelta(days=paused))
    # Paused days are added last, so they count exactly whether or not the deadline was extended.
    due = calendar.next_working_day(add_calendar_months(base, months) + timedelta(days=paused))
    return Deadline(clock.started, base, paused, False, original_due, due, months)


def extension_allowed(clock: RequestClock, calendar: WorkingCalendar, on: date) -> bool:
    """Whether the requester can still be told of an extension on ``on``: only once, and within the first month
    (by the original deadline, which a clock stopped for clarification has not reached)."""
    if clock.extension is not None or on < clock.started:
        return False
    current = deadline(clock, calendar)
    return current.original_due is None or on <= current.original_due


def extend(
    clock: RequestClock, calendar: WorkingCalendar, *, months: int, reason: str, notified_on: date
) -> RequestClock:
    """The clock with an extension recorded; refused with the rule it breaks."""
    if not 1 <= months <= MAX_EXTENSION_MONTHS:
        raise ExtensionRefused(f"An extension adds 1 or {MAX_EXTENSION_MONTHS} months, not {months}.", field="months")
    if not reason.strip():
        raise ExtensionRefused("An extension needs a reason to record and tell the requester.", field="reason")
    if clock.extension is not None:
        raise ExtensionRefused("This request has already been extended.", field="months")
    if not extension_allowed(clock, calendar, notified_on):
        raise ExtensionRefused(
            "Too late to extend: the requester must be told within the first month, by the original deadline.",
            field="notified_on",
        )
    return replace(clock, extension=Extension(months=months, reason=reason.strip(), notified_on=notified_on))


def days_left(due: date, today: date) -> int:
    """Calendar days until the deadline: 0 on the day itself, negative once overdue."""
    return (due - today).days


def is_overdue(due: date, today: date) -> bool:
    return today > due


def queue_label(current: Deadline, today: date) -> str:
    """What the DPO's queue says about a request's time limit, in words."""
    if current.due is None:
        return "Clock stopped: waiting for clarification"
    left = days_left(current.due, today)
    if left < 0:
        return f"Overdue by {-left} day{'' if left == -1 else 's'}"
    if left == 0:
        return "Due today"
    return f"{left} day{'' if left == 1 else 's'} left"


# A data-protection complaint is acknowledged "within the period of 30 days beginning with the day on which the
# complaint is received" (DPA 2018 s. 164A, inserted by the Data (Use and Access) Act 2025): day 1 is receipt.
COMPLAINT_ACKNOWLEDGEMENT_DAYS = 30


def complaint_acknowledgement_due(received: date) -> date:
    """The last day to acknowledge a data-protection complaint received on ``received`` (calendar days)."""
    return received + timedelta(days=COMPLAINT_ACKNOWLEDGEMENT_DAYS - 1)
