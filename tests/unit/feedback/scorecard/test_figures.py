"""Every computed figure is read from a scope's rollups, and merging scopes gives the figures of their union."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from feedback.scorecard.figures import COMPUTED_SLUGS, QualityRollup, ScopeRollup, assess, computed_figures
from feedback.scorecard.formulas import (
    Change,
    ContactFacts,
    ContactRollup,
    Counts,
    ForecastError,
    InvitationFacts,
    Moments,
    ServiceLevelThresholds,
    Status,
    SurveyRollup,
    Tally,
    Target,
    Trend,
)
from feedback.scorecard.measures import Direction

THRESHOLDS = ServiceLevelThresholds()


def month_of(contacts: list[ContactFacts], invitations: list[InvitationFacts], quality: QualityRollup) -> ScopeRollup:
    return ScopeRollup(ContactRollup.of(contacts, THRESHOLDS), SurveyRollup.of(invitations), quality)


MAY = month_of(
    [
        ContactFacts("phone", wait_seconds=10, handling_seconds=240, first_contact_resolved=True),
        ContactFacts("phone", wait_seconds=40, handling_seconds=360, transferred=True, first_contact_resolved=False),
        ContactFacts("web_chat", wait_seconds=30, handling_seconds=600, first_contact_resolved=True),
        ContactFacts("email", wait_seconds=7200),
    ],
    [InvitationFacts(answered=True, satisfaction=5, sentiment=0.6), InvitationFacts(), InvitationFacts()],
    QualityRollup(
        compliments=3,
        complaints_improving=Tally(1, 4),
        evaluated=2,
        quality_score=Moments.of([80, 90]),
        callbacks_on_time=Tally(9, 10),
        demand=Counts.from_mapping({"value": 3, "failure": 1}),
    ),
)
APRIL = month_of([ContactFacts("phone"), ContactFacts("phone"), ContactFacts("web_chat")], [], QualityRollup())


def test_every_computed_measure_has_a_figure() -> None:
    assert set(computed_figures(MAY)) == COMPUTED_SLUGS


def test_a_month_of_figures_by_hand() -> None:
    figures = computed_figures(MAY, APRIL)
    assert figures["service-level"].value == 0.75  # 10 s, 30 s and the email in time; 40 s on the phone not
    assert figures["service-level"].count == 4
    assert figures["average-handling-time"].value == 400
    assert figures["first-contact-resolution"].value == pytest.approx(2 / 3)
    assert figures["transfers-out"].value == 0.25
    assert figures["customer-satisfaction"].value == 1.0
    assert figures["customer-satisfaction"].count == 1
    low = figures["customer-satisfaction"].low
    assert low is not None and low < 0.25  # one answer says very little
    assert figures["response-rate"].value == pytest.approx(1 / 3)
    assert figures["sentiment-trend"].value == pytest.approx(0.6)
    assert figures["contacts-evaluated"].value == 0.5
    assert figures["contact-quality-score"].value == 85
    assert figures["compliments"].value == 3
    assert figures["callbacks-on-time"].value == 0.9
    assert figures["complaints-generating-improvements"].value == 0.25
    assert figures["value-demand"].value == 0.75
    assert figures["failure-demand"].value == 0.25
    assert figures["excess-demand"].value == 0.0
    assert figures["channel-use"].by_category == {"email": 0.25, "phone": 0.5, "web_chat": 0.25}
    shift = figures["channel-shift"].by_category
    assert shift is not None
    assert shift["email"] == pytest.approx(25.0)
    assert shift["phone"] == pytest.approx(50 - 200 / 3)


def test_an_empty_scope_has_no_figures_but_no_compliments_is_a_figure() -> None:
    figures = computed_figures(ScopeRollup.empty())
    assert figures["compliments"].value == 0
    assert figures["customer-satisfaction"].value is None
    assert figures["forecast-accuracy"].value is None
    assert figures["channel-shift"].by_category is None
    assert figures["value-demand"].value is None


def test_evaluations_rolled_up_against_the_wrong_month_are_refused() -> None:
    with pytest.raises(ValueError, match="more contacts evaluated than contacts"):
        computed_figures(ScopeRollup(quality=QualityRollup(evaluated=1)))


def test_a_figure_is_assessed_against_its_target_and_last_month() -> None:
    may, april = computed_figures(MAY), computed_figures(APRIL)
    handling = assess(may["average-handling-time"], Target(420, Direction.lower_is_better), None)
    assert (handling.status, handling.change) == (Status.green, None)
    level = assess(may["service-level"], Target(0.8, Direction.higher_is_better), april["service-level"])
    assert level.status is Status.red  # 75% misses 80% by more than the 4-point band
    assert level.change is None  # April recorded no waits
    compliments = assess(may["compliments"], None, april["compliments"])
    assert compliments.status is Status.no_target
    assert compliments.change == Change(3.0, Trend.better)
    empty = assess(april["customer-satisfaction"], Target(0.8, Direction.higher_is_better), None)
    assert empty.status is Status.no_data


contact_facts = st.builds(
    ContactFacts,
    channel=st.sampled_from(["phone", "web_chat", "email"]),
    wait_seconds=st.none() | st.integers(0, 3600),
    handling_seconds=st.none() | st.integers(0, 3600),
    transferred=st.booleans(),
    first_contact_resolved=st.none() | st.booleans(),
)
service_months = st.lists(
    st.tuples(
        st.lists(contact_facts, max_size=10),
        st.integers(0, 5),
        st.lists(st.tuples(st.integers(0, 500), st.floats(0, 600)), max_size=3),
    ),
    max_size=6,
)


@given(service_months)
def test_a_service_group_figures_are_those_of_all_its_records_together(
    services: list[tuple[list[ContactFacts], int, list[tuple[int, float]]]],
) -> None:
    def scope(contacts: list[ContactFacts], compliments: int, forecasts: list[tuple[int, float]]) -> ScopeRollup:
        return ScopeRollup(
            ContactRollup.of(contacts, THRESHOLDS),
            quality=QualityRollup(compliments=compliments),
            forecast=ForecastError.of(forecasts),
        )

    group = ScopeRollup.empty()
    for service in services:
        group = group.merge(scope(*service))
    together = scope(
        [contact for contacts, _, _ in services for contact in contacts],
        sum(compliments for _, compliments, _ in services),
        [pair for _, _, forecasts in services for pair in forecasts],
    )
    assert computed_figures(group) == computed_figures(together)
