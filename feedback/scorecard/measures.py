"""Every measure of the balanced scorecard: what it is called, where its figure comes from and how it rolls up.

The four perspectives and their measures follow Sunderland's Customer Service and Access Strategy,
plus the figures civicvoice computes from its own data (response rate, callbacks on time, sentiment trend).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Final

from civicvoice.core.errors import NotFound


class Perspective(StrEnum):
    customers = "customers"
    quality = "quality"
    processes = "processes"
    learning = "learning"

    @property
    def label(self) -> str:
        return _PERSPECTIVE_LABELS[self]


_PERSPECTIVE_LABELS: Final = {
    Perspective.customers: "Customers",
    Perspective.quality: "Quality",
    Perspective.processes: "Processes and systems",
    Perspective.learning: "Learning and development",
}


class Unit(StrEnum):
    percent = "percent"
    # A change between two shares (channel shift) is in percentage points, not percent of the earlier share.
    percentage_points = "percentage_points"
    seconds = "seconds"
    number = "count"  # a member called `count` would hide str.count
    score = "score"
    hours = "hours"
    days = "days"


class Source(StrEnum):
    """Computed from civicvoice's own records, or entered (by hand, spreadsheet or API) from another system."""

    computed = "computed"
    entered = "entered"


class Direction(StrEnum):
    """Which way is better; the default a manager may change when setting the target."""

    higher_is_better = "higher"
    lower_is_better = "lower"


class Aggregation(StrEnum):
    """How figures for smaller scopes or shorter periods combine into a larger one.

    share: numerators and denominators are summed, then divided (never an average of percentages).
    mean: sums and counts are summed, then divided.
    total: values are summed.
    shares: counts per category (channel, demand type) are summed, then each divided by the total.
    wape: absolute forecast errors and actual counts are summed, then divided.
    entered_mean: a figure entered per team and month; larger scopes show the mean of the entries, since
        another system's percentage comes without the denominator behind it.
    """

    share = "share"
    mean = "mean"
    total = "total"
    shares = "shares"
    wape = "wape"
    entered_mean = "entered_mean"


@dataclass(frozen=True, slots=True)
class Measure:
    slug: str
    name: str
    perspective: Perspective
    unit: Unit
    source: Source
    direction: Direction
    aggregation: Aggregation
    description: str


def _measure(
    slug: str,
    name: str,
    perspective: Perspective,
    unit: Unit,
    source: Source,
    direction: Direction,
    aggregation: Aggregation,
    description: str,
) -> Measure:
    return Measure(slug, name, perspective, unit, source, direction, aggregation, description)


_C, _Q, _P, _L = Perspective.customers, Perspective.quality, Perspective.processes, Perspective.learning
_COMPUTED, _ENTERED = Source.computed, Source.entered
_UP, _DOWN = Direction.higher_is_better, Direction.lower_is_better

_ALL: Final = (
    # Customers
    _measure(
        "channel-use",
        "Use of each access channel",
        _C,
        Unit.percent,
        _COMPUTED,
        _UP,
        Aggregation.shares,
        "Share of contacts on each channel. Higher is the default because targets are usually set for the "
        "channels the council wants used more; set 'lower' for a channel it wants used less.",
    ),
    _measure(
        "channel-shift",
        "Shift between channels",
        _C,
        Unit.percentage_points,
        _COMPUTED,
        _UP,
        Aggregation.shares,
        "Change in each channel's share of contacts against the previous period, in percentage points.",
    ),
    _measure(
        "forecast-accuracy",
        "Accuracy of the forecast of service demand",
        _C,
        Unit.percent,
        _COMPUTED,
        _DOWN,
        Aggregation.wape,
        "Weighted absolute percentage error (WAPE) of the forecast frozen before the month against the "
        "contacts that arrived: lower is more accurate.",
    ),
    _measure(
        "value-demand",
        "Value demand",
        _C,
        Unit.percent,
        _COMPUTED,
        _UP,
        Aggregation.shares,
        "Share of classified contacts that are value demand: what the council exists to provide.",
    ),
    _measure(
        "excess-demand",
        "Excess demand",
        _C,
        Unit.percent,
        _COMPUTED,
        _DOWN,
        Aggregation.shares,
        "Share of classified contacts that are excess demand (more contact than the need requires).",
    ),
    _measure(
        "failure-demand",
        "Failure demand",
        _C,
        Unit.percent,
        _COMPUTED,
        _DOWN,
        Aggregation.shares,
        "Share of classified contacts caused by a failure to do something, or do it right, the first time.",
    ),
    _measure(
        "preventable-demand",
        "Preventable demand",
        _C,
        Unit.percent,
        _COMPUTED,
        _DOWN,
        Aggregation.shares,
        "Share of classified contacts that better information or self-service would have made unnecessary.",
    ),
    _measure(
        "co-dependent-demand",
        "Co-dependent demand",
        _C,
        Unit.percent,
        _COMPUTED,
        _DOWN,
        Aggregation.shares,
        "Share of classified contacts about another organisation's service.",
    ),
    _measure(
        "customer-satisfaction",
        "Customer satisfaction",
        _C,
        Unit.percent,
        _COMPUTED,
        _UP,
        Aggregation.share,
        "Share of answers 'satisfied' or 'very satisfied' to the survey's satisfaction question, with the "
        "number of answers and a 95% Wilson interval.",
    ),
    _measure(
        "response-rate",
        "Survey response rate",
        _C,
        Unit.percent,
        _COMPUTED,
        _UP,
        Aggregation.share,
        "Share of survey invitations sent that were answered.",
    ),
    _measure(
        "sentiment-trend",
        "Sentiment of comments",
        _C,
        Unit.score,
        _COMPUTED,
        _UP,
        Aggregation.mean,
        "Mean sentiment score of survey comments, from -1 (negative) to 1 (positive), month by month.",
    ),
    # Quality
    _measure(
        "service-level",
        "Service level",
        _Q,
        Unit.percent,
        _COMPUTED,
        _UP,
        Aggregation.share,
        "Share of contacts offered that were answered within the channel's threshold (for example 20 seconds "
        "on the phone); contacts abandoned count as not answered within it.",
    ),
    _measure(
        "average-speed-of-answer",
        "Average speed of answer",
        _Q,
        Unit.seconds,
        _COMPUTED,
        _DOWN,
        Aggregation.mean,
        "Mean wait of the contacts that were answered.",
    ),
    _measure(
        "average-wait",
        "Average wait time",
        _Q,
        Unit.seconds,
        _COMPUTED,
        _DOWN,
        Aggregation.mean,
        "Mean wait of every contact with a recorded wait, answered or abandoned.",
    ),
    _measure(
        "average-handling-time",
        "Average handling time",
        _Q,
        Unit.seconds,
        _COMPUTED,
        _DOWN,
        Aggregation.mean,
        "Mean handling time of answered contacts.",
    ),
    _measure(
        "first-contact-resolution",
        "First contact resolution",
        _Q,
        Unit.percent,
        _COMPUTED,
        _UP,
        Aggregation.share,
        "Share of decided contacts resolved at the first contact: the contact system's answer when it gives "
        "one, otherwise the customer's survey answer and no repeat contact within 7 days.",
    ),
    _measure(
        "service-request-fulfilment",
        "Fulfilment of service requests",
        _Q,
        Unit.percent,
        _ENTERED,
        _UP,
        Aggregation.entered_mean,
        "Share of service requests fulfilled, from the system that holds them.",
    ),
    _measure(
        "contact-quality-score",
        "Average contact quality score",
        _Q,
        Unit.score,
        _COMPUTED,
        _UP,
        Aggregation.mean,
        "Mean score of contacts a reviewer evaluated against the quality form.",
    ),
    _measure(
        "compliments",
        "Number of compliments",
        _Q,
        Unit.number,
        _COMPUTED,
        _UP,
        Aggregation.total,
        "Comments confirmed as compliments by a quality reviewer.",
    ),
    # Processes and systems
    _measure(
        "transfers-out",
        "Contacts transferred out",
        _P,
        Unit.percent,
        _COMPUTED,
        _DOWN,
        Aggregation.share,
        "Share of contacts the contact system reports as transferred to another team or organisation.",
    ),
    _measure(
        "utilisation",
        "Utilisation",
        _P,
        Unit.percent,
        _ENTERED,
        _UP,
        Aggregation.entered_mean,
        "Share of paid staff time spent handling contacts, from the workforce system.",
    ),
    _measure(
        "ict-reliability",
        "ICT reliability",
        _P,
        Unit.percent,
        _ENTERED,
        _UP,
        Aggregation.entered_mean,
        "Share of service hours the contact systems were available.",
    ),
    _measure(
        "service-requests-within-service-level",
        "Service requests fulfilled within the service level",
        _P,
        Unit.percent,
        _ENTERED,
        _UP,
        Aggregation.entered_mean,
        "Share of service requests fulfilled within their agreed time.",
    ),
    _measure(
        "service-delivered",
        "Percentage of service requested delivered",
        _P,
        Unit.percent,
        _ENTERED,
        _UP,
        Aggregation.entered_mean,
        "Share of the services customers requested that were delivered.",
    ),
    _measure(
        "callbacks-on-time",
        "Callbacks on time",
        _P,
        Unit.percent,
        _COMPUTED,
        _UP,
        Aggregation.share,
        "Share of promised callbacks made by the time promised.",
    ),
    # Learning and development
    _measure(
        "complaints-generating-improvements",
        "Complaints generating improvements",
        _L,
        Unit.percent,
        _COMPUTED,
        _UP,
        Aggregation.share,
        "Share of closed complaints linked to at least one improvement action ('you said, we did').",
    ),
    _measure(
        "staff-training-hours",
        "Hours of staff training",
        _L,
        Unit.hours,
        _ENTERED,
        _UP,
        Aggregation.total,
        "Hours of training staff received, entered per team.",
    ),
    _measure(
        "staff-performing-to-expectation",
        "Staff performing to expectation",
        _L,
        Unit.percent,
        _ENTERED,
        _UP,
        Aggregation.entered_mean,
        "Share of staff whose performance review met expectation, entered per team (never per person).",
    ),
    _measure(
        "contacts-evaluated",
        "Percentage of contacts evaluated",
        _L,
        Unit.percent,
        _COMPUTED,
        _UP,
        Aggregation.share,
        "Share of contacts a reviewer scored against the quality form.",
    ),
    _measure(
        "sickness-absence-days",
        "Days lost to sickness absence",
        _L,
        Unit.days,
        _ENTERED,
        _DOWN,
        Aggregation.total,
        "Working days lost to sickness absence, entered per team (never per person).",
    ),
    _measure(
        "staff-leaving",
        "Staff leaving",
        _L,
        Unit.number,
        _ENTERED,
        _DOWN,
        Aggregation.total,
        "Staff who left, entered per team.",
    ),
)

MEASURES: Final[Mapping[str, Measure]] = MappingProxyType({measure.slug: measure for measure in _ALL})


class UnknownMeasure(NotFound):
    """A slug that names no scorecard measure."""

    slug = "unknown-measure"
    title = "Unknown scorecard measure"


def measure(slug: str) -> Measure:
    try:
        return MEASURES[slug]
    except KeyError:
        raise UnknownMeasure(f"No scorecard measure is called {slug!r}.", field="measure") from None


def in_perspective(perspective: Perspective) -> Iterator[Measure]:
    """The perspective's measures in the order the scorecard shows them."""
    return (m for m in _ALL if m.perspective is perspective)
