"""The measure registry holds every measure of the council's four perspectives, each fully described."""

from __future__ import annotations

import pytest

from feedback.scorecard.measures import (
    MEASURES,
    Aggregation,
    Direction,
    Perspective,
    Source,
    Unit,
    UnknownMeasure,
    in_perspective,
    measure,
)

# Issue 12's table, plus the figures civicvoice computes from its own data.
EXPECTED = {
    Perspective.customers: {
        "channel-use",
        "channel-shift",
        "forecast-accuracy",
        "value-demand",
        "excess-demand",
        "failure-demand",
        "preventable-demand",
        "co-dependent-demand",
        "customer-satisfaction",
        "response-rate",
        "sentiment-trend",
    },
    Perspective.quality: {
        "service-level",
        "average-speed-of-answer",
        "average-wait",
        "average-handling-time",
        "first-contact-resolution",
        "service-request-fulfilment",
        "contact-quality-score",
        "compliments",
    },
    Perspective.processes: {
        "transfers-out",
        "utilisation",
        "ict-reliability",
        "service-requests-within-service-level",
        "service-delivered",
        "callbacks-on-time",
    },
    Perspective.learning: {
        "complaints-generating-improvements",
        "staff-training-hours",
        "staff-performing-to-expectation",
        "contacts-evaluated",
        "sickness-absence-days",
        "staff-leaving",
    },
}

# "Measures from other systems" in the issue: entered monthly, never computed.
ENTERED = {
    "utilisation",
    "ict-reliability",
    "service-request-fulfilment",
    "service-requests-within-service-level",
    "service-delivered",
    "staff-training-hours",
    "staff-performing-to-expectation",
    "sickness-absence-days",
    "staff-leaving",
}


@pytest.mark.parametrize("perspective", list(Perspective))
def test_each_perspective_holds_the_measures_of_the_strategy(perspective: Perspective) -> None:
    assert {m.slug for m in in_perspective(perspective)} == EXPECTED[perspective]


def test_every_measure_is_in_exactly_one_perspective() -> None:
    assert sum(len(slugs) for slugs in EXPECTED.values()) == len(MEASURES)


def test_entered_measures_are_the_ones_other_systems_hold() -> None:
    assert {slug for slug, m in MEASURES.items() if m.source is Source.entered} == ENTERED


def test_every_measure_is_fully_described() -> None:
    for slug, m in MEASURES.items():
        assert m.slug == slug
        assert m.name and m.name[0].isupper()
        assert m.description.endswith(".")
        assert isinstance(m.unit, Unit) and isinstance(m.direction, Direction)
        assert isinstance(m.aggregation, Aggregation)


def test_units_and_directions_read_as_a_manager_expects() -> None:
    assert measure("average-handling-time").unit is Unit.seconds
    assert measure("average-handling-time").direction is Direction.lower_is_better
    assert measure("customer-satisfaction").aggregation is Aggregation.share
    assert measure("channel-shift").unit is Unit.percentage_points
    assert measure("sickness-absence-days").unit is Unit.days
    assert measure("staff-training-hours").unit is Unit.hours
    assert measure("forecast-accuracy").direction is Direction.lower_is_better


def test_perspectives_have_their_strategy_names() -> None:
    assert [p.label for p in Perspective] == [
        "Customers",
        "Quality",
        "Processes and systems",
        "Learning and development",
    ]


def test_an_unknown_measure_is_a_clear_not_found() -> None:
    with pytest.raises(UnknownMeasure, match="customer-happiness") as caught:
        measure("customer-happiness")
    assert caught.value.status == 404
    assert caught.value.field == "measure"
