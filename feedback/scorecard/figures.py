"""Every computed scorecard figure of one scope and month, read from its rollups, and assessed against a target.

A scope's month is one `ScopeRollup`; larger scopes and periods are merges of smaller ones, so the dashboard,
the ``--json`` output and a rebuild from raw rows read the same numbers through the same function. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final

from feedback.scorecard.formulas import (
    Change,
    ContactRollup,
    Counts,
    DemandType,
    ForecastError,
    Moments,
    Proportion,
    Status,
    SurveyRollup,
    Tally,
    Target,
    change_on_previous,
    channel_shift,
    demand_shares,
    proportion,
    rag,
)
from feedback.scorecard.measures import MEASURES, Source


@dataclass(frozen=True, slots=True)
class QualityRollup:
    """What the quality workspace records for a scope and month (keyed by the contact's or complaint's month)."""

    compliments: int = 0
    complaints_improving: Tally = field(
        default_factory=Tally
    )  # closed complaints linked to an improvement action, of closed ones
    evaluated: int = 0  # contacts a reviewer scored; a share of the scope's contacts
    quality_score: Moments = field(default_factory=Moments)
    callbacks_on_time: Tally = field(default_factory=Tally)
    demand: Counts = field(default_factory=Counts)  # classified contacts per DemandType value

    def merge(self, other: QualityRollup, /) -> QualityRollup:
        return QualityRollup(
            self.compliments + other.compliments,
            self.complaints_improving.merge(other.complaints_improving),
            self.evaluated + other.evaluated,
            self.quality_score.merge(other.quality_score),
            self.callbacks_on_time.merge(other.callbacks_on_time),
            self.demand.merge(other.demand),
        )


@dataclass(frozen=True, slots=True)
class ScopeRollup:
    """Everything the computed figures of one scope (service, channel, agent) and month are read from."""

    contacts: ContactRollup = field(default_factory=ContactRollup)
    surveys: SurveyRollup = field(default_factory=SurveyRollup)
    quality: QualityRollup = field(default_factory=QualityRollup)
    forecast: ForecastError = field(default_factory=ForecastError)

    @classmethod
    def empty(cls) -> ScopeRollup:
        return cls()

    def merge(self, other: ScopeRollup, /) -> ScopeRollup:
        return ScopeRollup(
            self.contacts.merge(other.contacts),
            self.surveys.merge(other.surveys),
            self.quality.merge(other.quality),
            self.forecast.merge(other.forecast),
        )


@dataclass(frozen=True, slots=True)
class Figure:
    """One measure's figure: a share is a fraction, a change in shares is in percentage points.

    ``count`` is how many records stand behind it (answers, contacts, complaints), so a reader can judge it;
    ``low``/``high`` is the 95% Wilson interval of a share; ``by_category`` holds per-channel figures.
    """

    slug: str
    value: float | None
    count: int
    low: float | None = None
    high: float | None = None
    by_category: Mapping[str, float] | None = None


@dataclass(frozen=True, slots=True)
class Assessment:
    figure: Figure
    target: Target | None
    status: Status
    change: Change | None


COMPUTED_SLUGS: Final = frozenset(slug for slug, measure in MEASURES.items() if measure.source is Source.computed)

_DEMAND_SLUGS: Final = {
    "value-demand": DemandType.value,
    "excess-demand": DemandType.excess,
    "failure-demand": DemandType.failure,
    "preventable-demand": DemandType.preventable,
    "co-dependent-demand": DemandType.co_dependent,
}


def computed_figures(month: ScopeRollup, previous: ScopeRollup | None = None) -> dict[str, Figure]:
    """Every computed measure's figure for ``month``; ``previous`` (the month before) gives the channel shift."""
    contacts, surveys, quality = month.contacts, month.surveys, month.quality
    contact_count = contacts.transfers.total  # every contact counts once towards transfers out
    if quality.evaluated > contact_count:
        raise ValueError("more contacts evaluated than contacts: roll evaluations up by the contact's month")
    figures = [
        _share("customer-satisfaction", surveys.satisfaction, surveys.satisfied),
        _share("response-rate", surveys.response_rate, surveys.responses),
        Figure("sentiment-trend", surveys.mean_sentiment, surveys.sentiment.count),
        _share("service-level", contacts.service_level, contacts.answered_in_time),
        Figure("average-speed-of-answer", contacts.average_speed_of_answer, contacts.answered_wait.count),
        Figure("average-wait", contacts.average_wait, contacts.wait.count),
        Figure("average-handling-time", contacts.average_handling_time, contacts.handling.count),
        _share("first-contact-resolution", contacts.first_contact_resolution, contacts.first_contact),
        _share("transfers-out", contacts.transfers_out, contacts.transfers),
        Figure("contact-quality-score", quality.quality_score.mean, quality.quality_score.count),
        Figure("compliments", float(quality.compliments), quality.compliments),
        _share("callbacks-on-time", quality.callbacks_on_time.proportion(), quality.callbacks_on_time),
        _share(
            "complaints-generating-improvements",
            quality.complaints_improving.proportion(),
            quality.complaints_improving,
        ),
        _share("contacts-evaluated", proportion(quality.evaluated, contact_count), Tally(0, contact_count)),
        Figure("forecast-accuracy", month.forecast.wape, month.forecast.actual),
        Figure(
            "channel-use",
            None,
            contacts.channels.total,
            by_category=MappingProxyType(contacts.channels.shares()),
        ),
        _shift(contacts.channels, previous.contacts.channels if previous is not None else None),
    ]
    shares = demand_shares(quality.demand)
    for slug, kind in _DEMAND_SLUGS.items():
        figures.append(Figure(slug, None if shares is None else shares.by_type[kind], quality.demand.total))
    return {figure.slug: figure for figure in figures}


def assess(figure: Figure, target: Target | None, previous: Figure | None) -> Assessment:
    """The figure's red / amber / green status against its target and its change on the previous month."""
    measure = MEASURES[figure.slug]
    status = Status.no_target if target is None else rag(figure.value, target)
    change = change_on_previous(figure.value, previous.value if previous else None, measure.direction)
    return Assessment(figure, target, status, change)


def _share(slug: str, share: Proportion | None, behind: Tally) -> Figure:
    if share is None:
        return Figure(slug, None, behind.total)
    return Figure(slug, share.value, share.total, share.low, share.high)


def _shift(current: Counts, previous: Counts | None) -> Figure:
    shift = channel_shift(current, previous) if previous is not None else None
    return Figure("channel-shift", None, current.total, by_category=None if shift is None else MappingProxyType(shift))
