"""Scorecard formulas: mergeable rollups of raw facts, and the figures people read from them.

Every rollup is a monoid: ``merge(a, b)`` is associative, ``empty()`` is its identity, and the rollup of any
split of the data merged together equals the rollup of the whole. So a month's figure is the merge of its
days, a service group's the merge of its services, and a rebuild from raw rows must land on the same numbers.
Rollups hold integers only (sentiment in thousandths, forecasts in whole contacts) so merging is exact and
never drifts as rows are added.

Shares and rates are fractions in [0, 1]; a change between two shares is in percentage points. Pure: no I/O.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from functools import reduce
from itertools import pairwise
from types import MappingProxyType
from typing import Final, Protocol, Self, TypeVar

from civicvoice.core.clock import LONDON, as_utc
from feedback.scorecard.measures import Direction

# Two-sided 95%: the 0.975 quantile of the standard normal distribution.
Z95: Final = 1.959963984540054

# Satisfied or very satisfied on the 1-5 satisfaction scale of surveys.catalogue.
SATISFIED_AT_LEAST: Final = 4

# Sentiment scores in [-1, 1] are rolled up in thousandths so sums stay exact integers.
SENTIMENT_SCALE: Final = 1000


class Rollup(Protocol):
    def merge(self, other: Self, /) -> Self: ...


R = TypeVar("R", bound=Rollup)


def merge(first: R, second: R) -> R:
    return first.merge(second)


def merge_all(parts: Iterable[R], empty: R) -> R:
    """Fold rollups (of days, services, channels) into one; ``empty`` is returned for no parts."""
    return reduce(merge, parts, empty)


# --- primitive rollups ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Tally:
    """``hits`` out of ``total``: the rollup behind every share (satisfied of answered, answered in time...)."""

    hits: int = 0
    total: int = 0

    def __post_init__(self) -> None:
        if not 0 <= self.hits <= self.total:
            raise ValueError(f"a tally needs 0 <= hits <= total, got {self.hits} of {self.total}")

    @classmethod
    def of(cls, outcomes: Iterable[bool]) -> Tally:
        hits = total = 0
        for outcome in outcomes:
            total += 1
            hits += bool(outcome)
        return cls(hits, total)

    def merge(self, other: Tally, /) -> Tally:
        return Tally(self.hits + other.hits, self.total + other.total)

    @property
    def share(self) -> float | None:
        return self.hits / self.total if self.total else None

    def proportion(self, z: float = Z95) -> Proportion | None:
        return proportion(self.hits, self.total, z=z)


@dataclass(frozen=True, slots=True)
class Moments:
    """Count, sum and sum of squares of integer observations: enough for a mean and its spread."""

    count: int = 0
    total: int = 0
    squares: int = 0

    @classmethod
    def of(cls, values: Iterable[int]) -> Moments:
        count = total = squares = 0
        for value in values:
            count += 1
            total += value
            squares += value * value
        return cls(count, total, squares)

    def merge(self, other: Moments, /) -> Moments:
        return Moments(self.count + other.count, self.total + other.total, self.squares + other.squares)

    @property
    def mean(self) -> float | None:
        return self.total / self.count if self.count else None

    @property
    def standard_deviation(self) -> float | None:
        """Sample standard deviation (n - 1), from exact integer sums; None below two observations."""
        if self.count < 2:
            return None
        spread = self.count * self.squares - self.total * self.total  # n^2 times the biased variance, exact
        return math.sqrt(max(spread, 0) / (self.count * (self.count - 1)))


@dataclass(frozen=True, slots=True)
class Counts:
    """Counts per category (channel, demand type), kept sorted and without zeros so equal data compares equal."""

    entries: tuple[tuple[str, int], ...] = ()

    def __post_init__(self) -> None:
        for key, count in self.entries:
            if count < 0:
                raise ValueError(f"a count cannot be negative, got {count} for {key!r}")
        canonical = tuple(sorted((key, count) for key, count in self.entries if count))
        if len({key for key, _ in canonical}) != len(canonical):
            raise ValueError("each category may appear once")
        object.__setattr__(self, "entries", canonical)

    @classmethod
    def of(cls, categories: Iterable[str]) -> Counts:
        return cls.from_mapping(Counter(categories))

    @classmethod
    def from_mapping(cls, counts: Mapping[str, int]) -> Counts:
        return cls(tuple(counts.items()))

    def merge(self, other: Counts, /) -> Counts:
        combined = Counter(dict(self.entries))
        combined.update(dict(other.entries))
        return Counts.from_mapping(combined)

    def as_dict(self) -> dict[str, int]:
        return dict(self.entries)

    @property
    def total(self) -> int:
        return sum(count for _, count in self.entries)

    def shares(self) -> dict[str, float]:
        """Each category's share of the total; empty when there is nothing to share."""
        total = self.total
        return {key: count / total for key, count in self.entries} if total else {}


@dataclass(frozen=True, slots=True)
class ForecastError:
    """Absolute errors and actual counts of frozen forecasts, in whole contacts: the rollup behind WAPE."""

    absolute_error: int = 0
    actual: int = 0

    def __post_init__(self) -> None:
        if self.absolute_error < 0 or self.actual < 0:
            raise ValueError("forecast errors and actual counts cannot be negative")

    @classmethod
    def of(cls, pairs: Iterable[tuple[int, float]]) -> ForecastError:
        """From ``(actual, forecast)`` pairs; a forecast is frozen in whole contacts (rounded half up)."""
        error = actual_total = 0
        for actual, forecast in pairs:
            if actual < 0 or not math.isfinite(forecast) or forecast < 0:
                raise ValueError(f"a demand count and its forecast must be non-negative, got {actual}, {forecast}")
            error += abs(actual - whole_contacts(forecast))
            actual_total += actual
        return cls(error, actual_total)

    def merge(self, other: ForecastError, /) -> ForecastError:
        return ForecastError(self.absolute_error + other.absolute_error, self.actual + other.actual)

    @property
    def wape(self) -> float | None:
        """Weighted absolute percentage error, as a fraction (0.08 is 8%); None when nothing arrived.

        Unlike a mean of monthly percentage errors, a quiet month cannot dominate it, and a month with no
        contacts does not divide by zero.
        """
        return self.absolute_error / self.actual if self.actual else None


def whole_contacts(forecast: float) -> int:
    return math.floor(forecast + 0.5)


def wape(actuals: Sequence[int], forecasts: Sequence[float]) -> float | None:
    if len(actuals) != len(forecasts):
        raise ValueError("each actual count needs exactly one forecast")
    return ForecastError.of(zip(actuals, forecasts, strict=True)).wape


# --- shares with a confidence interval -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Proportion:
    """A share with its count and 95% Wilson interval, so a small sample is not over-read."""

    hits: int
    total: int
    value: float
    low: float
    high: float


def wilson_interval(hits: int, total: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval for ``hits`` of ``total`` (Wilson 1927; no continuity correction).

    Unlike the normal ("Wald") interval it never leaves [0, 1] and stays honest at 0 or all hits and small n.
    """
    if total <= 0 or not 0 <= hits <= total:
        raise ValueError(f"a Wilson interval needs 0 <= hits <= total and total > 0, got {hits} of {total}")
    p = hits / total
    z2 = z * z
    denominator = 1 + z2 / total
    centre = (p + z2 / (2 * total)) / denominator
    half_width = (z / denominator) * math.sqrt(p * (1 - p) / total + z2 / (4 * total * total))
    # At 0 or all hits the exact ends are 0 and 1; rounding must not move them off the point estimate.
    low = 0.0 if hits == 0 else max(0.0, min(p, centre - half_width))
    high = 1.0 if hits == total else min(1.0, max(p, centre + half_width))
    return low, high


def proportion(hits: int, total: int, z: float = Z95) -> Proportion | None:
    if total == 0:
        return None
    low, high = wilson_interval(hits, total, z)
    return Proportion(hits, total, hits / total, low, high)


# --- contacts: service level, speed of answer, wait, handling, transfers, FCR, channel use ---------------------

DEFAULT_SERVICE_LEVEL_SECONDS: Final[Mapping[str, int]] = MappingProxyType(
    {
        "phone": 20,
        "web_chat": 60,
        "face_to_face": 15 * 60,
        "sms": 24 * 3600,
        "social": 24 * 3600,
        "email": 2 * 24 * 3600,
        "web_form": 2 * 24 * 3600,
        "post": 5 * 24 * 3600,
    }
)


@dataclass(frozen=True, slots=True)
class ServiceLevelThresholds:
    """The wait within which a contact counts as answered in time, per channel (configurable)."""

    seconds: Mapping[str, int] = field(default_factory=lambda: DEFAULT_SERVICE_LEVEL_SECONDS)
    otherwise: int = 24 * 3600

    def for_channel(self, channel: str) -> int:
        return self.seconds.get(channel, self.otherwise)


@dataclass(frozen=True, slots=True)
class ContactFacts:
    """What one contact event contributes to the scorecard.

    ``abandoned``: the customer gave up before being answered. The contact API reports finished contacts
    only today, so every contact counts as answered and the speed of answer equals the average wait until a
    contact system reports abandoned contacts.
    ``first_contact_resolved``: the decided outcome from `first_contact_resolved`, None while undecided.
    """

    channel: str
    wait_seconds: int | None = None
    handling_seconds: int | None = None
    transferred: bool = False
    abandoned: bool = False
    first_contact_resolved: bool | None = None


@dataclass(frozen=True, slots=True)
class ContactRollup:
    channels: Counts = Counts()
    answered_in_time: Tally = Tally()  # answered within the channel's threshold, of contacts with a wait
    answered_wait: Moments = Moments()
    wait: Moments = Moments()
    handling: Moments = Moments()
    transfers: Tally = Tally()
    first_contact: Tally = Tally()  # resolved, of decided contacts

    @classmethod
    def empty(cls) -> ContactRollup:
        return cls()

    @classmethod
    def of(cls, contacts: Iterable[ContactFacts], thresholds: ServiceLevelThresholds) -> ContactRollup:
        """The thresholds are applied here: changing one means rebuilding the rollups it affects."""
        channels: Counter[str] = Counter()
        in_time = offered = 0
        transferred = contacts_seen = 0
        resolved = decided = 0
        waits: list[int] = []
        answered_waits: list[int] = []
        handling: list[int] = []
        for contact in contacts:
            contacts_seen += 1
            channels[contact.channel] += 1
            transferred += contact.transferred
            if contact.wait_seconds is not None:
                offered += 1
                waits.append(contact.wait_seconds)
                if not contact.abandoned:
                    answered_waits.append(contact.wait_seconds)
                    in_time += contact.wait_seconds <= thresholds.for_channel(contact.channel)
            if contact.handling_seconds is not None and not contact.abandoned:
                handling.append(contact.handling_seconds)
            if contact.first_contact_resolved is not None:
                decided += 1
                resolved += contact.first_contact_resolved
        return cls(
            channels=Counts.from_mapping(channels),
            answered_in_time=Tally(in_time, offered),
            answered_wait=Moments.of(answered_waits),
            wait=Moments.of(waits),
            handling=Moments.of(handling),
            transfers=Tally(transferred, contacts_seen),
            first_contact=Tally(resolved, decided),
        )

    def merge(self, other: ContactRollup, /) -> ContactRollup:
        return ContactRollup(
            channels=self.channels.merge(other.channels),
            answered_in_time=self.answered_in_time.merge(other.answered_in_time),
            answered_wait=self.answered_wait.merge(other.answered_wait),
            wait=self.wait.merge(other.wait),
            handling=self.handling.merge(other.handling),
            transfers=self.transfers.merge(other.transfers),
            first_contact=self.first_contact.merge(other.first_contact),
        )

    @property
    def service_level(self) -> Proportion | None:
        """Share of contacts offered (with a recorded wait) answered within their channel's threshold."""
        return self.answered_in_time.proportion()

    @property
    def average_speed_of_answer(self) -> float | None:
        return self.answered_wait.mean

    @property
    def average_wait(self) -> float | None:
        return self.wait.mean

    @property
    def average_handling_time(self) -> float | None:
        return self.handling.mean

    @property
    def transfers_out(self) -> Proportion | None:
        return self.transfers.proportion()

    @property
    def first_contact_resolution(self) -> Proportion | None:
        return self.first_contact.proportion()


# --- survey responses: satisfaction, response rate, sentiment ----------------------------------------------------


def is_satisfied(satisfaction: int) -> bool:
    """'Satisfied' or 'very satisfied' on the 1-5 scale."""
    if not 1 <= satisfaction <= 5:
        raise ValueError(f"a satisfaction answer is 1 to 5, got {satisfaction}")
    return satisfaction >= SATISFIED_AT_LEAST


def sentiment_units(score: float) -> int:
    if not -1.0 <= score <= 1.0:
        raise ValueError(f"a sentiment score lies in [-1, 1], got {score}")
    return round(score * SENTIMENT_SCALE)


@dataclass(frozen=True, slots=True)
class InvitationFacts:
    """One invitation that was sent, whether it was answered, and what the answer held."""

    answered: bool = False
    satisfaction: int | None = None  # 1-5, when the satisfaction question was answered
    sentiment: float | None = None  # of the comment, when there was one


@dataclass(frozen=True, slots=True)
class SurveyRollup:
    responses: Tally = Tally()  # answered, of invitations sent
    satisfied: Tally = Tally()  # satisfied or very satisfied, of answers to the satisfaction question
    sentiment: Moments = Moments()  # in thousandths

    @classmethod
    def empty(cls) -> SurveyRollup:
        return cls()

    @classmethod
    def of(cls, invitations: Iterable[InvitationFacts]) -> SurveyRollup:
        answered = sent = satisfied = rated = 0
        sentiments: list[int] = []
        for invitation in invitations:
            sent += 1
            if not invitation.answered:
                if invitation.satisfaction is not None or invitation.sentiment is not None:
                    raise ValueError("an unanswered invitation has no satisfaction or sentiment")
                continue
            answered += 1
            if invitation.satisfaction is not None:
                rated += 1
                satisfied += is_satisfied(invitation.satisfaction)
            if invitation.sentiment is not None:
                sentiments.append(sentiment_units(invitation.sentiment))
        return cls(Tally(answered, sent), Tally(satisfied, rated), Moments.of(sentiments))

    def merge(self, other: SurveyRollup, /) -> SurveyRollup:
        return SurveyRollup(
            self.responses.merge(other.responses),
            self.satisfied.merge(other.satisfied),
            self.sentiment.merge(other.sentiment),
        )

    @property
    def satisfaction(self) -> Proportion | None:
        return self.satisfied.proportion()

    @property
    def response_rate(self) -> Proportion | None:
        return self.responses.proportion()

    @property
    def mean_sentiment(self) -> float | None:
        mean = self.sentiment.mean
        return None if mean is None else mean / SENTIMENT_SCALE


# --- first contact resolution ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RepeatPolicy:
    """A contact is repeated when the same person contacts again within ``window`` (elapsed time, default
    7 days); with ``same_service`` only a contact about the same service counts."""

    window: timedelta = timedelta(days=7)
    same_service: bool = False

    def __post_init__(self) -> None:
        if self.window <= timedelta(0):
            raise ValueError("the repeat-contact window must be positive")


@dataclass(frozen=True, slots=True)
class PersonContact:
    occurred_at: datetime
    service: str | None = None


def repeat_flags(
    contacts: Sequence[PersonContact], *, now: datetime, policy: RepeatPolicy = RepeatPolicy()
) -> list[bool | None]:
    """Each contact's repeat flag, for one person's contacts in time order.

    True as soon as a later contact falls inside the window (final: nothing can undo it); False once the
    window has closed with none; None while it is still open. The flag is meant to be stored on the contact
    when it becomes final, so a later erasure or retention run does not change a past month's figure. The
    window runs in elapsed time from each contact, so a contact on 29 January is repeated by one on
    3 February: the figure belongs to January and is final once the window closes in February.
    """
    moments = [as_utc(contact.occurred_at) for contact in contacts]
    now = as_utc(now)
    if any(later < earlier for earlier, later in pairwise(moments)):
        raise ValueError("a person's contacts must be given in time order")
    flags: list[bool | None] = [None] * len(contacts)
    next_by_key: dict[str | None, datetime] = {}  # the next contact after the one being looked at
    for index in range(len(contacts) - 1, -1, -1):
        key = contacts[index].service if policy.same_service else None
        moment = moments[index]
        following = next_by_key.get(key)
        if following is not None and following - moment <= policy.window:
            flags[index] = True
        elif now - moment >= policy.window:
            flags[index] = False
        next_by_key[key] = moment
    return flags


def first_contact_resolved(
    *,
    reported: bool | None,
    survey_resolved: bool | None,
    repeat: bool | None,
    require_survey: bool = False,
) -> bool | None:
    """Whether a contact was resolved first time; None while it cannot be decided yet.

    The contact system's own flag wins when it gives one. Otherwise a repeat contact or a customer saying
    "not resolved" decides no; yes needs the repeat window closed without a repeat and, unless the survey
    is not required, the customer saying it was resolved.
    """
    if reported is not None:
        return reported
    if repeat is True or survey_resolved is False:
        return False
    if repeat is None:
        return None
    if survey_resolved is None:
        return None if require_survey else True
    return True


def london_month(moment: datetime) -> date:
    """The first day of the calendar month (in Europe/London) a moment belongs to: the scorecard's month."""
    local = as_utc(moment).astimezone(LONDON)
    return date(local.year, local.month, 1)


# --- channel shift and demand types ----------------------------------------------------------------------------


def channel_shift(current: Counts, previous: Counts) -> dict[str, float] | None:
    """Change in each channel's share against the previous period, in percentage points.

    A channel missing from one period has a share of 0 there. None when either period had no contacts.
    """
    now, before = current.shares(), previous.shares()
    if not now or not before:
        return None
    return {channel: 100 * (now.get(channel, 0.0) - before.get(channel, 0.0)) for channel in sorted(now | before)}


class DemandType(StrEnum):
    """Value demand is what the council exists to provide; the other four are non-value (Seddon)."""

    value = "value"
    excess = "excess"
    failure = "failure"
    preventable = "preventable"
    co_dependent = "co_dependent"


NON_VALUE_DEMAND: Final = frozenset(DemandType) - {DemandType.value}


@dataclass(frozen=True, slots=True)
class DemandShares:
    classified: int
    value: float
    non_value: float
    by_type: Mapping[DemandType, float]


def demand_shares(counts: Counts) -> DemandShares | None:
    """Value and non-value shares of classified contacts (unclassified contacts are not in ``counts``)."""
    raw = counts.as_dict()
    unknown = set(raw) - {kind.value for kind in DemandType}
    if unknown:
        raise ValueError(f"unknown demand types: {', '.join(sorted(unknown))}")
    total = counts.total
    if not total:
        return None
    by_type = {kind: raw.get(kind.value, 0) / total for kind in DemandType}
    non_value = sum(raw.get(kind.value, 0) for kind in NON_VALUE_DEMAND) / total
    return DemandShares(total, by_type[DemandType.value], non_value, MappingProxyType(by_type))


# --- targets: red / amber / green and the change on the previous month -----------------------------------------

# Amber covers a miss of up to this share of the target, unless a measure's target sets its own tolerance.
DEFAULT_AMBER_TOLERANCE: Final = 0.05


class Status(StrEnum):
    green = "green"
    amber = "amber"
    red = "red"
    no_data = "no_data"
    no_target = "no_target"  # a figure no manager has set a target for yet


@dataclass(frozen=True, slots=True)
class Target:
    """A manager's target for a measure.

    Green: the figure meets or beats ``value`` in ``direction``. Amber: it misses by no more than the
    tolerance, in the measure's own unit (``tolerance``, or by default 5% of the target's size: a target of
    80% has an amber band down to 76%, a target of 120 seconds up to 126 seconds). Red: it misses by more.
    Both boundaries belong to the better colour.
    """

    value: float
    direction: Direction
    tolerance: float | None = None

    def __post_init__(self) -> None:
        if not math.isfinite(self.value):
            raise ValueError("a target must be a finite number")
        if self.tolerance is not None and not (math.isfinite(self.tolerance) and self.tolerance >= 0):
            raise ValueError("an amber tolerance must be a finite number, zero or more")

    @property
    def amber_band(self) -> float:
        return self.tolerance if self.tolerance is not None else DEFAULT_AMBER_TOLERANCE * abs(self.value)


def rag(figure: float | None, target: Target) -> Status:
    if figure is None:
        return Status.no_data
    shortfall = target.value - figure if target.direction is Direction.higher_is_better else figure - target.value
    # Figures computed in floating point (0.8 - 0.04) must still land on an inclusive boundary.
    slack = 1e-9 * max(1.0, abs(target.value))
    if shortfall <= slack:
        return Status.green
    if shortfall <= target.amber_band + slack:
        return Status.amber
    return Status.red


class Trend(StrEnum):
    better = "better"
    worse = "worse"
    unchanged = "unchanged"


@dataclass(frozen=True, slots=True)
class Change:
    """The change on the previous month, in the figure's own unit."""

    delta: float
    trend: Trend


def change_on_previous(current: float | None, previous: float | None, direction: Direction) -> Change | None:
    if current is None or previous is None:
        return None
    delta = current - previous
    if math.isclose(delta, 0.0, abs_tol=1e-12):
        return Change(0.0, Trend.unchanged)
    improved = delta > 0 if direction is Direction.higher_is_better else delta < 0
    return Change(delta, Trend.better if improved else Trend.worse)
