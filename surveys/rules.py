"""Invitation rules: whether, when and on which channel a customer is invited to a survey after a contact.

Pure functions and frozen dataclasses (no I/O, no framework): every decision is reproducible from its facts.
"""

from __future__ import annotations

import bisect
import hashlib
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from types import MappingProxyType
from typing import Any, Final, Self
from uuid import UUID

from civicvoice.core.clock import LONDON

# 2026-12.1: a restriction of processing (Art. 18) stops invitations.
RULES_VERSION: Final = "2026-12.1"


class ContactChannel(StrEnum):
    """How the customer reached the council."""

    phone = "phone"
    web_chat = "web_chat"
    email = "email"
    web_form = "web_form"
    face_to_face = "face_to_face"
    post = "post"
    social = "social"
    sms = "sms"


class InvitationChannel(StrEnum):
    """How an invitation reaches the customer; declaration order is the fallback order of `decide`."""

    email = "email"
    sms = "sms"
    ivr = "ivr"
    chat = "chat"
    kiosk = "kiosk"
    paper = "paper"
    web_link = "web_link"


# Channels that ask while the person is still there (on the call, in the chat window, on the page after an online
# transaction): nothing is sent, and they come before the others for a contact they can reach, since that is the
# channel the person used.
ANSWERED_ON_THE_SPOT: Final = frozenset({InvitationChannel.ivr, InvitationChannel.chat, InvitationChannel.web_link})
# Channels that staff print and post from the print queue (`surveys.letters`): no send job is queued for them.
PRINTED: Final = frozenset({InvitationChannel.paper})


# The contact channel that an answer given without a contact measures (a kiosk stands in a face-to-face centre):
# the scorecard counts such answers with that channel's contacts.
MEASURED_CHANNEL: Final = MappingProxyType({InvitationChannel.kiosk.value: ContactChannel.face_to_face.value})


class ContactPreference(StrEnum):
    """The customer's recorded contact preference; `none` means "do not contact me"."""

    email = "email"
    sms = "sms"
    phone = "phone"
    post = "post"
    none = "none"


class Reason(StrEnum):
    """Why a decision came out as it did; values are stored, so never rename one."""

    invited = "invited"
    opted_out = "opted_out"
    suppressed = "suppressed"
    do_not_survey = "do_not_survey"
    excluded_service = "excluded_service"
    open_complaint = "open_complaint"
    no_contact_details = "no_contact_details"
    no_enabled_channel = "no_enabled_channel"
    contact_preference_none = "contact_preference_none"
    frequency_cap = "frequency_cap"
    not_sampled = "not_sampled"
    too_old = "too_old"
    # The person's processing is restricted (UK GDPR Art. 18) while a restriction stands.
    restricted = "restricted"
    # Decided outside the pure rules: the contact qualified but no post-contact survey is published.
    no_published_survey = "no_published_survey"


def _require_aware(moment: datetime, name: str) -> None:
    # A naive time is a programming error; guessing its zone would shift quiet hours and caps silently.
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, got a naive one")


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


# ----------------------------------------------------------------------------------------------------
# Quiet hours


@dataclass(frozen=True)
class QuietHours:
    """A daily period, in Europe/London wall-clock time, when a channel must not send: [start, end).

    ``start > end`` wraps midnight (20:00-09:00 is quiet from 20:00 until 09:00 the next morning). Because the
    period follows the wall clock, its length in real time changes on the days the clocks change.
    """

    start: time
    end: time

    def __post_init__(self) -> None:
        for name, value in (("start", self.start), ("end", self.end)):
            if not isinstance(value, time):
                raise ValueError(f"quiet hours {name} must be a time, got {type(value).__name__}")
            if value.tzinfo is not None:
                raise ValueError(f"quiet hours {name} is Europe/London wall-clock time and takes no tzinfo")
            if value.second or value.microsecond:
                raise ValueError(f"quiet hours {name} must be a whole minute (HH:MM), got {value}")
        if self.start == self.end:
            raise ValueError(
                f"quiet hours start and end are both {self.start:%H:%M}: an empty or all-day period is ambiguous"
            )

    @property
    def wraps_midnight(self) -> bool:
        return self.start > self.end

    def _contains_wall(self, wall: time) -> bool:
        if self.wraps_midnight:
            return wall >= self.start or wall < self.end
        return self.start <= wall < self.end

    def contains(self, moment: datetime) -> bool:
        """True if ``moment`` (aware, any zone) falls inside the quiet period in London."""
        _require_aware(moment, "moment")
        return self._contains_wall(moment.astimezone(LONDON).time())

    def next_allowed(self, moment: datetime) -> datetime:
        """``moment`` unchanged when outside quiet hours, else the instant the quiet period ends (UTC)."""
        _require_aware(moment, "moment")
        candidate = moment
        # Each pass moves to the end of one quiet period. A second pass is needed only when a clock change
        # swallows the whole allowed window of a day (e.g. quiet 02:00-01:30 on the spring-forward night).
        for _ in range(4):
            if not self.contains(candidate):
                return candidate
            candidate = self._end_of_period(candidate)
        raise AssertionError("quiet hours never end")  # pragma: no cover - start != end guarantees an end

    def _end_of_period(self, moment: datetime) -> datetime:
        local = moment.astimezone(LONDON)
        end_day: date = local.date()
        if self.wraps_midnight and local.time() >= self.start:
            end_day += timedelta(days=1)
        end = _first_instant_at_wall(datetime.combine(end_day, self.end), not_before=_utc(moment))
        # When the clocks go back the wall clock can fall below ``start`` and leave the period early.
        change = _clock_change(_utc(moment), end)
        if change is not None and not self.contains(change):
            return change
        return end


def _clock_change(after: datetime, until: datetime) -> datetime | None:
    """The first instant in (after, until] on London's other UTC offset, if the clocks change in between.

    Assumes at most one change in the span (London changes twice a year; spans here are about a day). Offsets
    are a step function, so bisect to the microsecond.
    """
    offset_before = after.astimezone(LONDON).utcoffset()
    if until.astimezone(LONDON).utcoffset() == offset_before:
        return None
    low, high = after, until
    while high - low > timedelta(microseconds=1):
        middle = low + (high - low) / 2
        if middle.astimezone(LONDON).utcoffset() == offset_before:
            low = middle
        else:
            high = middle
    return high


def _first_instant_at_wall(wall: datetime, *, not_before: datetime) -> datetime:
    """The first instant from ``not_before`` on when the London clock reads ``wall`` or later (UTC)."""
    readings: list[datetime] = []
    for fold in (0, 1):
        instant = _utc(wall.replace(tzinfo=LONDON, fold=fold))
        # Only a wall time that exists reads back unchanged; in the spring gap neither fold does.
        if instant.astimezone(LONDON).replace(tzinfo=None) == wall:
            readings.append(instant)
    later = sorted(r for r in readings if r >= not_before)
    if later:
        # In the autumn the hour repeats: take the reading still ahead of us.
        return later[0]
    # The clock jumps over ``wall``: it first reads past it at the change, which lies between the two
    # interpretations of the missing time.
    earlier, later_reading = sorted(_utc(wall.replace(tzinfo=LONDON, fold=fold)) for fold in (0, 1))
    change = _clock_change(earlier, later_reading)
    if change is None:  # pragma: no cover - a wall time that does not exist lies in a clock change
        raise AssertionError(f"{wall} neither exists nor falls in a clock change")
    return change


# ----------------------------------------------------------------------------------------------------
# Policy


def _default_quiet_hours() -> Mapping[InvitationChannel, QuietHours]:
    return MappingProxyType({InvitationChannel.sms: QuietHours(time(20, 0), time(9, 0))})


def _empty_sampling() -> Mapping[str, float]:
    return MappingProxyType({})


_SAMPLING_KEY = re.compile(r"^(?P<service>[^/\s]+)/(?P<channel>[^/\s]+)$")
_HH_MM = re.compile(r"^(?P<hour>\d{2}):(?P<minute>\d{2})$")
_WILDCARD = "*"
_CONTACT_CHANNELS: Final = frozenset(c.value for c in ContactChannel)
_INVITATION_CHANNELS: Final = frozenset(c.value for c in InvitationChannel)


def _check_rate(rate: object, what: str) -> float:
    if isinstance(rate, bool) or not isinstance(rate, int | float):
        raise ValueError(f"{what} must be a number between 0 and 1, got {rate!r}")
    if math.isnan(rate) or not 0.0 <= rate <= 1.0:
        raise ValueError(f"{what} must be between 0 and 1, got {rate!r}")
    return float(rate)


def _check_duration(value: object, name: str, *, allow_zero: bool) -> None:
    if not isinstance(value, timedelta):
        raise ValueError(f"{name} must be a timedelta, got {type(value).__name__}")
    if value < timedelta(0) or (value == timedelta(0) and not allow_zero):
        least = "zero or more" if allow_zero else "more than zero"
        raise ValueError(f"{name} must be {least}, got {value}")
    if value.microseconds:
        raise ValueError(f"{name} must be a whole number of seconds, got {value}")


@dataclass(frozen=True)
class InvitationPolicy:
    """The organisation's invitation settings, validated on construction and stored as JSON by admins.

    ``sampling`` is keyed ``"service/channel"``, ``"service/*"`` or ``"*/channel"`` where channel is a
    `ContactChannel` (the channel the customer used: coverage targets are about contacts); the most specific
    key wins, then ``default_sampling_rate``. Channels missing from ``quiet_hours`` have none.
    """

    cap_count: int = 1
    cap_window: timedelta = timedelta(days=30)
    delay: timedelta = timedelta(hours=1)
    expiry: timedelta = timedelta(days=7)
    reminder_after: timedelta | None = timedelta(days=3)
    quiet_hours: Mapping[InvitationChannel, QuietHours] = field(default_factory=_default_quiet_hours, hash=False)
    sampling: Mapping[str, float] = field(default_factory=_empty_sampling, hash=False)
    default_sampling_rate: float = 1.0
    # Enabled by the council; the deployment narrows this to the channels it can send on (SMS needs GOV.UK Notify).
    enabled_channels: frozenset[InvitationChannel] = frozenset({InvitationChannel.email, InvitationChannel.sms})

    def __post_init__(self) -> None:
        if isinstance(self.cap_count, bool) or not isinstance(self.cap_count, int) or self.cap_count < 1:
            raise ValueError(f"cap_count must be a whole number of at least 1, got {self.cap_count!r}")
        _check_duration(self.cap_window, "cap_window", allow_zero=False)
        _check_duration(self.delay, "delay", allow_zero=True)
        _check_duration(self.expiry, "expiry", allow_zero=False)
        if self.reminder_after is not None:
            _check_duration(self.reminder_after, "reminder_after", allow_zero=False)
            if self.reminder_after >= self.expiry:
                raise ValueError(
                    f"reminder_after ({self.reminder_after}) must be shorter than expiry ({self.expiry}), "
                    "or the reminder would arrive after the invitation has expired"
                )
        # Copy into read-only mappings so a caller's later edits cannot change a policy already in use.
        object.__setattr__(self, "quiet_hours", MappingProxyType(self._checked_quiet_hours()))
        object.__setattr__(self, "sampling", MappingProxyType(self._checked_sampling()))
        object.__setattr__(
            self, "default_sampling_rate", _check_rate(self.default_sampling_rate, "default_sampling_rate")
        )
        object.__setattr__(self, "enabled_channels", self._checked_channels())

    def _checked_quiet_hours(self) -> dict[InvitationChannel, QuietHours]:
        if not isinstance(self.quiet_hours, Mapping):
            raise ValueError("quiet_hours must be a mapping of invitation channel to QuietHours")
        checked: dict[InvitationChannel, QuietHours] = {}
        for key, hours in self.quiet_hours.items():
            channel = _invitation_channel(key, "quiet_hours")
            if not isinstance(hours, QuietHours):
                raise ValueError(f"quiet_hours[{channel}] must be QuietHours, got {type(hours).__name__}")
            checked[channel] = hours
        return checked

    def _checked_sampling(self) -> dict[str, float]:
        if not isinstance(self.sampling, Mapping):
            raise ValueError("sampling must be a mapping of 'service/channel' to a rate")
        checked: dict[str, float] = {}
        for key, rate in self.sampling.items():
            match = _SAMPLING_KEY.match(key) if isinstance(key, str) else None
            if match is None:
                raise ValueError(f"sampling key {key!r} must look like 'service/channel', 'service/*' or '*/channel'")
            service, channel = match["service"], match["channel"]
            if service == _WILDCARD and channel == _WILDCARD:
                raise ValueError("sampling key '*/*' is not allowed: set default_sampling_rate instead")
            if channel != _WILDCARD and channel not in _CONTACT_CHANNELS:
                raise ValueError(
                    f"sampling key {key!r} names unknown contact channel {channel!r}; "
                    f"expected '*' or one of {', '.join(ContactChannel)}"
                )
            checked[key] = _check_rate(rate, f"sampling rate for {key!r}")
        return checked

    def _checked_channels(self) -> frozenset[InvitationChannel]:
        if isinstance(self.enabled_channels, str) or not isinstance(self.enabled_channels, Iterable):
            raise ValueError("enabled_channels must be a set of invitation channels")
        return frozenset(_invitation_channel(c, "enabled_channels") for c in self.enabled_channels)

    def sampling_rate(self, service_slug: str, channel: ContactChannel) -> float:
        """The share of contacts to invite for this service and contact channel (most specific key wins)."""
        for key in (f"{service_slug}/{channel}", f"{service_slug}/{_WILDCARD}", f"{_WILDCARD}/{channel}"):
            if key in self.sampling:
                return self.sampling[key]
        return self.default_sampling_rate

    @classmethod
    def demo(cls) -> Self:
        """For a demonstration: every contact is invited at once, day or night (the cap still applies)."""
        return cls(delay=timedelta(0), default_sampling_rate=1.0, quiet_hours={})

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly form: durations in whole seconds, times as "HH:MM"; `from_dict` reverses it."""
        return {
            "cap_count": self.cap_count,
            "cap_window_seconds": _seconds(self.cap_window),
            "delay_seconds": _seconds(self.delay),
            "expiry_seconds": _seconds(self.expiry),
            "reminder_after_seconds": None if self.reminder_after is None else _seconds(self.reminder_after),
            "quiet_hours": {
                str(channel): {"start": f"{hours.start:%H:%M}", "end": f"{hours.end:%H:%M}"}
                for channel, hours in sorted(self.quiet_hours.items(), key=lambda item: item[0])
            },
            "sampling": dict(sorted(self.sampling.items())),
            "default_sampling_rate": self.default_sampling_rate,
            "enabled_channels": sorted(str(c) for c in self.enabled_channels),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """Build a policy from `to_dict` output. Missing keys take the defaults; unknown keys are refused."""
        if not isinstance(data, Mapping):
            raise ValueError(f"an invitation policy must be a JSON object, got {type(data).__name__}")
        unknown = sorted(set(data) - _POLICY_KEYS)
        if unknown:
            raise ValueError(
                f"unknown invitation policy setting(s): {', '.join(map(str, unknown))}; "
                f"expected some of {', '.join(sorted(_POLICY_KEYS))}"
            )
        values: dict[str, Any] = {}
        if "cap_count" in data:
            values["cap_count"] = _whole_number(data["cap_count"], "cap_count")
        for name in ("cap_window", "delay", "expiry"):
            if f"{name}_seconds" in data:
                values[name] = timedelta(seconds=_whole_number(data[f"{name}_seconds"], f"{name}_seconds"))
        if "reminder_after_seconds" in data:
            raw = data["reminder_after_seconds"]
            values["reminder_after"] = (
                None if raw is None else timedelta(seconds=_whole_number(raw, "reminder_after_seconds"))
            )
        if "quiet_hours" in data:
            values["quiet_hours"] = _quiet_hours_from_json(data["quiet_hours"])
        if "sampling" in data:
            if not isinstance(data["sampling"], Mapping):
                raise ValueError("sampling must be an object of 'service/channel' to rate")
            values["sampling"] = dict(data["sampling"])
        if "default_sampling_rate" in data:
            values["default_sampling_rate"] = data["default_sampling_rate"]
        if "enabled_channels" in data:
            raw = data["enabled_channels"]
            if isinstance(raw, str) or not isinstance(raw, Sequence):
                raise ValueError("enabled_channels must be a list of channel names")
            values["enabled_channels"] = frozenset(_invitation_channel(c, "enabled_channels") for c in raw)
        return cls(**values)


def _seconds(duration: timedelta) -> int:
    return duration.days * 86_400 + duration.seconds


def _whole_number(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be a whole number, got {value!r}")
    return value


def _invitation_channel(value: object, where: str) -> InvitationChannel:
    if isinstance(value, str) and value in _INVITATION_CHANNELS:
        return InvitationChannel(value)
    raise ValueError(f"{where}: unknown invitation channel {value!r}; expected one of {', '.join(InvitationChannel)}")


def _time_from_json(value: object, name: str) -> time:
    match = _HH_MM.match(value) if isinstance(value, str) else None
    if match is None or int(match["hour"]) > 23 or int(match["minute"]) > 59:
        raise ValueError(f"{name} must be a time written HH:MM (00:00 to 23:59), got {value!r}")
    return time(int(match["hour"]), int(match["minute"]))


def _quiet_hours_from_json(raw: object) -> dict[InvitationChannel, QuietHours]:
    if not isinstance(raw, Mapping):
        raise ValueError('quiet_hours must be an object like {"sms": {"start": "20:00", "end": "09:00"}}')
    result: dict[InvitationChannel, QuietHours] = {}
    for key, period in raw.items():
        channel = _invitation_channel(key, "quiet_hours")
        if not isinstance(period, Mapping) or set(period) != {"start", "end"}:
            raise ValueError(f'quiet_hours.{channel} must be an object with exactly "start" and "end"')
        result[channel] = QuietHours(
            _time_from_json(period["start"], f"quiet_hours.{channel}.start"),
            _time_from_json(period["end"], f"quiet_hours.{channel}.end"),
        )
    return result


# Every key `to_dict` writes, so `from_dict` can refuse a misspelt setting instead of ignoring it.
_POLICY_KEYS: Final = frozenset(InvitationPolicy().to_dict())


# ----------------------------------------------------------------------------------------------------
# Facts and decisions


@dataclass(frozen=True)
class ContactFacts:
    """What the rules need to know about one reported contact.

    ``reachable`` holds the invitation channels we have details for (an email address gives `email`).
    """

    contact_id: UUID
    service_slug: str
    service_excluded: bool
    channel: ContactChannel
    occurred_at: datetime
    do_not_survey: bool
    has_open_complaint: bool
    reachable: frozenset[InvitationChannel]
    preference: ContactPreference | None

    def __post_init__(self) -> None:
        _require_aware(self.occurred_at, "occurred_at")
        object.__setattr__(self, "reachable", frozenset(self.reachable))


@dataclass(frozen=True)
class PersonFacts:
    """What the rules need to know about the person behind a contact.

    A contact with no identifiable person has no PersonFacts: pass ``None`` to `decide`.
    ``invitation_times`` are the due times of the person's existing, non-cancelled invitations on any channel;
    pass at least those within ``cap_window`` either side of the new invitation's due time (a wider range is
    harmless, a narrower one can let the cap be exceeded).
    """

    opted_out: bool
    suppressed: bool
    invitation_times: Sequence[datetime] = ()
    restricted: bool = False  # a restriction of processing stands (privacy.restriction)

    def __post_init__(self) -> None:
        times = tuple(self.invitation_times)
        for moment in times:
            _require_aware(moment, "invitation_times")
        object.__setattr__(self, "invitation_times", times)


@dataclass(frozen=True)
class Decision:
    """The outcome for one contact, stored with its reason and `rules_version`.

    When ``invite`` is true, channel, due_at and expires_at are set (UTC); otherwise they are all None.
    ``detail`` is a sentence for staff and never carries personal data.
    """

    invite: bool
    reason: Reason
    detail: str
    channel: InvitationChannel | None = None
    due_at: datetime | None = None
    expires_at: datetime | None = None
    reminder_at: datetime | None = None
    rules_version: str = RULES_VERSION

    def __post_init__(self) -> None:
        if self.invite != (self.reason is Reason.invited):
            raise ValueError(f"a decision with reason {self.reason} must have invite={not self.invite}")
        scheduled = (self.channel, self.due_at, self.expires_at)
        if self.invite and any(value is None for value in scheduled):
            raise ValueError("an invitation needs a channel, due_at and expires_at")
        if not self.invite and any(value is not None for value in (*scheduled, self.reminder_at)):
            raise ValueError("a decision not to invite has no channel or times")


def _describe(duration: timedelta) -> str:
    for unit, seconds in (("day", 86_400), ("hour", 3_600), ("minute", 60)):
        count, rest = divmod(_seconds(duration), seconds)
        if not rest:
            return f"{count} {unit}{'' if count == 1 else 's'}"
    return f"{_seconds(duration)} seconds"


def _no(reason: Reason, detail: str) -> Decision:
    return Decision(invite=False, reason=reason, detail=detail)


# ----------------------------------------------------------------------------------------------------
# Rules


def sampled(contact_id: UUID, rate: float) -> bool:
    """Deterministic sampling: SHA-256 of the id's 16 bytes; the first 8 bytes, read big-endian and divided
    by 2**64, give a number in [0, 1) that is sampled when below ``rate``.

    The same contact always gets the same answer, and raising a rate only ever adds contacts.
    """
    rate = _check_rate(rate, "sampling rate")
    digest = hashlib.sha256(contact_id.bytes).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < rate


def within_cap(existing: Sequence[datetime], candidate: datetime, policy: InvitationPolicy) -> bool:
    """True iff adding ``candidate`` leaves every half-open window [s, s + cap_window) that contains it
    with at most ``cap_count`` invitations.

    Invitations may be scheduled out of order, so windows on both sides of the candidate count. The fullest
    such window starts at an invitation, so checking windows starting at each existing time in
    (candidate - cap_window, candidate] and at the candidate is enough. Windows not containing the candidate
    are unchanged by it and not judged here (after a cap is lowered, old invitations do not block forever).
    """
    _require_aware(candidate, "candidate")
    window = policy.cap_window
    candidate = _utc(candidate)
    times = sorted([*(_utc(t) for t in existing), candidate])
    starts = {t for t in times if candidate - window < t <= candidate}
    return all(
        bisect.bisect_left(times, start + window) - bisect.bisect_left(times, start) <= policy.cap_count
        for start in starts
    )


# Only preferences naming an invitation channel steer the choice; "phone" and "post" fall back to the order.
_PREFERRED_CHANNEL: Final[Mapping[ContactPreference, InvitationChannel]] = MappingProxyType(
    {ContactPreference.email: InvitationChannel.email, ContactPreference.sms: InvitationChannel.sms}
)


# Iterating an Enum class builds every member anew each time (slow on the intake's hot path): the order, once.
_CHANNEL_ORDER: Final = tuple(InvitationChannel)


def _choose_channel(contact: ContactFacts, policy: InvitationPolicy) -> InvitationChannel | None:
    usable = contact.reachable & policy.enabled_channels
    preferred = _PREFERRED_CHANNEL.get(contact.preference) if contact.preference is not None else None
    if preferred in usable:
        return preferred
    on_the_spot = usable & ANSWERED_ON_THE_SPOT
    if on_the_spot:
        return next(channel for channel in _CHANNEL_ORDER if channel in on_the_spot)
    return next((channel for channel in _CHANNEL_ORDER if channel in usable), None)


def decide(contact: ContactFacts, person: PersonFacts | None, policy: InvitationPolicy, *, now: datetime) -> Decision:
    """Decide whether to invite the customer after ``contact``; the first rule that applies gives the reason.

    Precedence: no identifiable person or no contact details -> opted out (sticky) -> suppressed ->
    restricted -> "do not survey" on the contact -> excluded service -> open complaint -> too old
    (``now - occurred_at >= expiry``) -> contact preference "none" -> no channel both enabled and reachable
    -> not sampled -> frequency cap -> invited.

    The channel is the preferred one when it is enabled and reachable, else the first enabled and reachable
    one in `InvitationChannel` order (email, then sms, ...). The invitation is due at
    ``max(occurred_at + delay, now)`` moved out of that channel's quiet hours; the reminder, likewise moved,
    is dropped if it would not come before expiry.
    """
    _require_aware(now, "now")
    if person is None:
        return _no(Reason.no_contact_details, "The contact could not be matched to an identifiable person.")
    if not contact.reachable:
        return _no(Reason.no_contact_details, "We hold no contact details on which to send a survey.")
    if person.opted_out:
        return _no(Reason.opted_out, "The person has opted out of surveys.")
    if person.suppressed:
        return _no(Reason.suppressed, "The person is on the suppression list (objection or do-not-survey request).")
    if person.restricted:
        return _no(Reason.restricted, "Processing of the person's data is restricted (Article 18) while it stands.")
    if contact.do_not_survey:
        return _no(Reason.do_not_survey, "The contact was marked 'do not survey' by the contact system.")
    if contact.service_excluded:
        return _no(Reason.excluded_service, f"Service '{contact.service_slug}' is excluded from surveys.")
    if contact.has_open_complaint:
        return _no(Reason.open_complaint, "The contact has an open complaint; no survey until it is closed.")
    if now - contact.occurred_at >= policy.expiry:
        return _no(Reason.too_old, f"The contact is older than the invitation expiry, {_describe(policy.expiry)}.")
    if contact.preference is ContactPreference.none:
        return _no(Reason.contact_preference_none, "The person's contact preference is 'none'.")

    channel = _choose_channel(contact, policy)
    if channel is None:
        return _no(
            Reason.no_enabled_channel,
            "None of the channels we hold details for is enabled for invitations "
            f"(enabled: {', '.join(sorted(policy.enabled_channels)) or 'none'}).",
        )

    rate = policy.sampling_rate(contact.service_slug, contact.channel)
    if not sampled(contact.contact_id, rate):
        return _no(
            Reason.not_sampled,
            f"Not selected by sampling ({rate:.0%} of {contact.service_slug} contacts by {contact.channel}).",
        )

    quiet = policy.quiet_hours.get(channel)
    due_at = max(contact.occurred_at + policy.delay, now)
    if quiet is not None:
        due_at = quiet.next_allowed(due_at)
    due_at = _utc(due_at)

    if not within_cap(person.invitation_times, due_at, policy):
        return _no(
            Reason.frequency_cap,
            f"The person would receive more than {policy.cap_count} invitation(s) within "
            f"{_describe(policy.cap_window)} across all channels.",
        )

    expires_at = due_at + policy.expiry
    reminder_at: datetime | None = None
    if policy.reminder_after is not None:
        reminder_at = due_at + policy.reminder_after
        if quiet is not None:
            # A fixed delay can land in quiet hours across a clock change; a reminder that cannot be sent
            # before expiry is dropped.
            reminder_at = _utc(quiet.next_allowed(reminder_at))
        if reminder_at >= expires_at:
            reminder_at = None
    return Decision(
        invite=True,
        reason=Reason.invited,
        detail=f"Invited by {channel}.",
        channel=channel,
        due_at=due_at,
        expires_at=expires_at,
        reminder_at=reminder_at,
    )


def reminder_due(
    *,
    sent_at: datetime | None,
    responded: bool,
    reminders_sent: int,
    expires_at: datetime,
    policy: InvitationPolicy,
    now: datetime,
    channel: InvitationChannel | None = None,
) -> bool:
    """True when the one reminder should go now: sent, unanswered, not yet reminded, not expired, and
    ``reminder_after`` has passed since sending. With ``channel``, never inside that channel's quiet hours.
    """
    quiet = policy.quiet_hours.get(channel) if channel is not None else None
    return one_reminder_due(
        sent_at=sent_at,
        responded=responded,
        reminders_sent=reminders_sent,
        expires_at=expires_at,
        after=policy.reminder_after,
        now=now,
        quiet=quiet,
    )


def one_reminder_due(
    *,
    sent_at: datetime | None,
    responded: bool,
    reminders_sent: int,
    expires_at: datetime,
    after: timedelta | None,
    now: datetime,
    quiet: QuietHours | None = None,
) -> bool:
    """The reminder rule for any channel: at most one, only once ``after`` has passed since sending (none when
    ``after`` is None), never once answered or expired, never in ``quiet`` hours. A printed reminder letter
    (paper, whose wait is its own setting) follows it as the email and SMS reminders do."""
    _require_aware(now, "now")
    _require_aware(expires_at, "expires_at")
    if sent_at is not None:
        _require_aware(sent_at, "sent_at")
    if after is None or sent_at is None or responded or reminders_sent >= 1:
        return False
    if now >= expires_at or now < sent_at + after:
        return False
    return quiet is None or not quiet.contains(now)
