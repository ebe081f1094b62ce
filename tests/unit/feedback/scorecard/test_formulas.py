"""Scorecard formulas on hand-computed examples, and the rollup properties dashboards and rebuilds rely on."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from random import Random
from typing import TypeVar

import pytest
from hypothesis import given
from hypothesis import strategies as st

from feedback.scorecard.formulas import (
    Change,
    ContactFacts,
    ContactRollup,
    Counts,
    DemandType,
    ForecastError,
    InvitationFacts,
    Moments,
    PersonContact,
    RepeatPolicy,
    Rollup,
    ServiceLevelThresholds,
    Status,
    SurveyRollup,
    Tally,
    Target,
    Trend,
    change_on_previous,
    channel_shift,
    demand_shares,
    first_contact_resolved,
    london_month,
    merge,
    merge_all,
    proportion,
    rag,
    repeat_flags,
    wape,
    wilson_interval,
)
from feedback.scorecard.measures import Direction

THRESHOLDS = ServiceLevelThresholds()
HIGHER, LOWER = Direction.higher_is_better, Direction.lower_is_better


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# --- Wilson intervals ---------------------------------------------------------------------------------------------


# Newcombe (1998), "Two-sided confidence intervals for the single proportion", Table I, method 3 (Wilson).
@pytest.mark.parametrize(
    ("hits", "total", "low", "high"),
    [
        (81, 263, 0.2553, 0.3662),
        (15, 148, 0.0624, 0.1605),
        (0, 20, 0.0, 0.1611),
        (1, 29, 0.0061, 0.1718),
    ],
)
def test_wilson_interval_matches_published_values(hits: int, total: int, low: float, high: float) -> None:
    computed = wilson_interval(hits, total)
    assert computed == pytest.approx((low, high), abs=5e-5)


def test_all_satisfied_in_a_small_sample_is_not_read_as_certainly_all() -> None:
    low, high = wilson_interval(10, 10)
    assert high == 1.0
    assert low == pytest.approx(0.7225, abs=5e-5)


def test_no_answers_has_no_share() -> None:
    assert proportion(0, 0) is None
    assert Tally().share is None
    with pytest.raises(ValueError, match="total > 0"):
        wilson_interval(0, 0)


@given(total=st.integers(1, 100_000), data=st.data(), z=st.sampled_from([1.0, 1.644854, 1.959964, 2.575829]))
def test_wilson_interval_holds_its_estimate_inside_zero_to_one(total: int, data: st.DataObject, z: float) -> None:
    hits = data.draw(st.integers(0, total))
    low, high = wilson_interval(hits, total, z)
    assert 0.0 <= low <= hits / total <= high <= 1.0


# --- contacts: service level, speed of answer, wait, handling, transfers ---------------------------------------------

CONTACTS = [
    ContactFacts("phone", wait_seconds=5, handling_seconds=300),
    ContactFacts("phone", wait_seconds=20, handling_seconds=200, transferred=True),  # on the threshold: in time
    ContactFacts("phone", wait_seconds=21, handling_seconds=400),
    ContactFacts("phone", wait_seconds=10, handling_seconds=90, abandoned=True),  # offered, never answered
    ContactFacts("phone"),  # no wait recorded: not offered to the service level
    ContactFacts("web_chat", wait_seconds=45, handling_seconds=600),
    ContactFacts("web_chat", wait_seconds=61, handling_seconds=500, transferred=True),
    ContactFacts("email", wait_seconds=3600),  # within two days
]


def test_service_level_counts_answered_in_time_of_all_offered() -> None:
    rollup = ContactRollup.of(CONTACTS, THRESHOLDS)
    level = rollup.service_level
    assert level is not None
    assert (level.hits, level.total) == (4, 7)  # 5 s, 20 s, 45 s, 3600 s; not 21 s, 61 s or the abandoned call
    assert level.value == pytest.approx(4 / 7)
    assert level.low < level.value < level.high


def test_service_level_thresholds_are_set_per_channel() -> None:
    stricter = ServiceLevelThresholds({"phone": 10, "web_chat": 60}, otherwise=60)
    level = ContactRollup.of(CONTACTS, stricter).service_level
    assert level is not None
    assert level.hits == 2  # phone 5 s and chat 45 s; the email (3600 s) now misses its 60 s threshold


def test_speed_of_answer_wait_and_handling_are_means_of_the_right_contacts() -> None:
    rollup = ContactRollup.of(CONTACTS, THRESHOLDS)
    assert rollup.average_speed_of_answer == pytest.approx((5 + 20 + 21 + 45 + 61 + 3600) / 6)
    assert rollup.average_wait == pytest.approx((5 + 20 + 21 + 10 + 45 + 61 + 3600) / 7)
    assert rollup.average_handling_time == pytest.approx((300 + 200 + 400 + 600 + 500) / 5)
    transfers = rollup.transfers_out
    assert transfers is not None
    assert (transfers.hits, transfers.total) == (2, 8)
    assert rollup.channels.as_dict() == {"phone": 5, "web_chat": 2, "email": 1}


def test_an_empty_month_has_no_figures() -> None:
    rollup = ContactRollup.empty()
    assert rollup.service_level is None
    assert rollup.average_speed_of_answer is None
    assert rollup.average_handling_time is None
    assert rollup.first_contact_resolution is None


def test_moments_give_an_exact_mean_and_sample_spread() -> None:
    moments = Moments.of([2, 4, 4, 4, 5, 5, 7, 9])
    assert moments.mean == 5
    assert moments.standard_deviation == pytest.approx(math.sqrt(32 / 7))
    assert Moments.of([3]).standard_deviation is None


def test_counts_compare_equal_whatever_the_order_or_zeros() -> None:
    assert Counts((("web_chat", 1), ("phone", 0), ("email", 2))) == Counts.of(["email", "web_chat", "email"])
    with pytest.raises(ValueError, match="negative"):
        Counts((("phone", -1),))


def test_a_tally_cannot_have_more_hits_than_total() -> None:
    with pytest.raises(ValueError, match="hits <= total"):
        Tally(3, 2)


# --- satisfaction, response rate, sentiment ------------------------------------------------------------------------


def test_satisfaction_is_satisfied_or_very_satisfied_of_those_who_answered_it() -> None:
    invitations = [
        InvitationFacts(answered=True, satisfaction=5, sentiment=0.5),
        InvitationFacts(answered=True, satisfaction=4),
        InvitationFacts(answered=True, satisfaction=3, sentiment=-0.25),
        InvitationFacts(answered=True, satisfaction=2),
        InvitationFacts(answered=True, satisfaction=5),
        InvitationFacts(answered=True),  # skipped the satisfaction question
        *[InvitationFacts() for _ in range(4)],
    ]
    rollup = SurveyRollup.of(invitations)
    satisfaction, response_rate = rollup.satisfaction, rollup.response_rate
    assert satisfaction is not None and response_rate is not None
    assert (satisfaction.hits, satisfaction.total) == (3, 5)
    assert (response_rate.hits, response_rate.total) == (6, 10)
    assert rollup.mean_sentiment == pytest.approx(0.125)


def test_survey_facts_out_of_range_are_refused() -> None:
    with pytest.raises(ValueError, match="1 to 5"):
        SurveyRollup.of([InvitationFacts(answered=True, satisfaction=6)])
    with pytest.raises(ValueError, match=r"\[-1, 1\]"):
        SurveyRollup.of([InvitationFacts(answered=True, sentiment=1.5)])
    with pytest.raises(ValueError, match="unanswered"):
        SurveyRollup.of([InvitationFacts(satisfaction=4)])


# --- first contact resolution -----------------------------------------------------------------------------------------


def test_a_repeat_contact_in_february_marks_a_january_contact_across_the_month_end() -> None:
    contacts = [
        PersonContact(at("2026-01-29T10:00")),
        PersonContact(at("2026-02-05T09:59")),  # 6 days 23:59 later: a repeat of the first
        PersonContact(at("2026-02-20T12:00")),  # 15 days later: the second stands alone
    ]
    flags = repeat_flags(contacts, now=at("2026-03-01T00:00"))
    assert flags == [True, False, False]
    assert london_month(contacts[0].occurred_at).isoformat() == "2026-01-01"
    january = Tally.of(
        outcome
        for contact, flag in zip(contacts, flags, strict=True)
        if london_month(contact.occurred_at).month == 1
        and (outcome := first_contact_resolved(reported=None, survey_resolved=True, repeat=flag)) is not None
    )
    assert (january.hits, january.total) == (0, 1)  # the customer said resolved, but came back: not resolved


def test_the_flag_waits_for_the_window_to_close_and_a_repeat_is_final_at_once() -> None:
    contacts = [PersonContact(at("2026-01-31T23:00")), PersonContact(at("2026-02-01T08:00"))]
    # On 3 February the first contact is already known repeated; the second's window is still open.
    assert repeat_flags(contacts, now=at("2026-02-03T00:00")) == [True, None]
    # Exactly seven days later the window has closed without a repeat.
    assert repeat_flags(contacts, now=at("2026-02-08T08:00")) == [True, False]


def test_a_contact_exactly_seven_days_later_is_a_repeat_and_one_second_more_is_not() -> None:
    first = PersonContact(at("2026-03-25T12:00"))
    assert repeat_flags([first, PersonContact(at("2026-04-01T12:00"))], now=at("2026-05-01T00:00"))[0] is True
    assert repeat_flags([first, PersonContact(at("2026-04-01T12:00:01"))], now=at("2026-05-01T00:00"))[0] is False


def test_a_contact_late_on_31_march_belongs_to_april_in_london() -> None:
    assert london_month(at("2026-03-31T23:30")).isoformat() == "2026-04-01"  # 00:30 BST on 1 April
    assert london_month(at("2026-12-31T23:30")).isoformat() == "2026-12-01"  # GMT: still December


def test_the_window_and_service_are_configurable() -> None:
    contacts = [PersonContact(at("2026-05-01T09:00"), "bins"), PersonContact(at("2026-05-03T09:00"), "parking")]
    now = at("2026-06-01T00:00")
    assert repeat_flags(contacts, now=now) == [True, False]
    assert repeat_flags(contacts, now=now, policy=RepeatPolicy(same_service=True)) == [False, False]
    assert repeat_flags(contacts, now=now, policy=RepeatPolicy(window=timedelta(days=1))) == [False, False]
    with pytest.raises(ValueError, match="positive"):
        RepeatPolicy(window=timedelta(0))


def test_contacts_out_of_order_or_without_a_time_zone_are_refused() -> None:
    with pytest.raises(ValueError, match="time order"):
        repeat_flags(
            [PersonContact(at("2026-05-02T00:00")), PersonContact(at("2026-05-01T00:00"))], now=at("2026-06-01T00:00")
        )
    with pytest.raises(ValueError, match="naive"):
        repeat_flags([PersonContact(datetime(2026, 5, 1))], now=at("2026-06-01T00:00"))


@pytest.mark.parametrize(
    ("reported", "survey", "repeat", "require_survey", "expected"),
    [
        (True, False, True, False, True),  # the contact system's answer wins
        (False, True, False, False, False),
        (None, True, False, False, True),
        (None, True, True, False, False),  # came back within the window
        (None, False, False, False, False),  # said not resolved
        (None, False, None, False, False),  # said not resolved: decided before the window closes
        (None, True, None, False, None),  # window still open
        (None, None, False, False, True),  # no survey answer: no repeat decides
        (None, None, False, True, None),  # ...unless the survey answer is required
        (None, None, True, True, False),
    ],
)
def test_first_contact_resolution_combines_the_system_the_survey_and_repeats(
    reported: bool | None, survey: bool | None, repeat: bool | None, require_survey: bool, expected: bool | None
) -> None:
    decided = first_contact_resolved(
        reported=reported, survey_resolved=survey, repeat=repeat, require_survey=require_survey
    )
    assert decided is expected


def test_first_contact_resolution_counts_decided_contacts_only() -> None:
    contacts = [
        ContactFacts("phone", first_contact_resolved=True),
        ContactFacts("phone", first_contact_resolved=True),
        ContactFacts("phone", first_contact_resolved=False),
        ContactFacts("email"),  # undecided: window still open
    ]
    fcr = ContactRollup.of(contacts, THRESHOLDS).first_contact_resolution
    assert fcr is not None
    assert (fcr.hits, fcr.total) == (2, 3)


def brute_force_flags(moments: Sequence[datetime], now: datetime, window: timedelta) -> list[bool | None]:
    flags: list[bool | None] = []
    for index, moment in enumerate(moments):
        if any(later - moment <= window for later in moments[index + 1 :]):
            flags.append(True)
        else:
            flags.append(False if now - moment >= window else None)
    return flags


@given(
    gaps=st.lists(st.integers(0, 20 * 24 * 3600), max_size=30),
    days=st.integers(1, 14),
    wait=st.integers(0, 30 * 24 * 3600),
)
def test_repeat_flags_agree_with_their_definition(gaps: list[int], days: int, wait: int) -> None:
    moments, moment = [], at("2026-01-20T00:00")
    for gap in gaps:
        moment += timedelta(seconds=gap)
        moments.append(moment)
    now = moment + timedelta(seconds=wait)
    window = timedelta(days=days)
    flags = repeat_flags([PersonContact(m) for m in moments], now=now, policy=RepeatPolicy(window=window))
    assert flags == brute_force_flags(moments, now, window)


# --- channel shift and demand ------------------------------------------------------------------------------------


def test_channel_shift_is_the_change_in_share_in_percentage_points() -> None:
    previous = Counts.from_mapping({"phone": 60, "web_form": 40})
    current = Counts.from_mapping({"phone": 45, "web_form": 45, "web_chat": 10})
    assert current.shares() == {"phone": 0.45, "web_chat": 0.10, "web_form": 0.45}
    shift = channel_shift(current, previous)
    assert shift == pytest.approx({"phone": -15.0, "web_chat": 10.0, "web_form": 5.0})
    assert channel_shift(current, Counts()) is None


@given(
    st.dictionaries(st.sampled_from(["phone", "email", "web_chat", "post"]), st.integers(0, 1000), min_size=1),
    st.dictionaries(st.sampled_from(["phone", "email", "web_chat", "post"]), st.integers(0, 1000), min_size=1),
)
def test_channel_shifts_add_up_to_nothing(now: dict[str, int], before: dict[str, int]) -> None:
    shift = channel_shift(Counts.from_mapping(now), Counts.from_mapping(before))
    if shift is not None:
        assert sum(shift.values()) == pytest.approx(0.0, abs=1e-9)


def test_value_and_non_value_demand_shares() -> None:
    counts = Counts.from_mapping({"value": 50, "failure": 30, "excess": 10, "preventable": 5, "co_dependent": 5})
    shares = demand_shares(counts)
    assert shares is not None
    assert (shares.classified, shares.value, shares.non_value) == (100, 0.5, 0.5)
    assert shares.by_type[DemandType.failure] == 0.3
    assert demand_shares(Counts()) is None
    with pytest.raises(ValueError, match="unknown demand types: complaint"):
        demand_shares(Counts.from_mapping({"complaint": 1}))


# --- WAPE -------------------------------------------------------------------------------------------------------------


def test_wape_weighs_errors_by_the_demand_that_arrived() -> None:
    # |100-110| + |200-180| + |0-5| + |50-50| (50.4 is frozen as 50 contacts) = 35, of 350 arrived.
    assert wape([100, 200, 0, 50], [110, 180, 5, 50.4]) == pytest.approx(0.1)
    assert wape([10], [9.5]) == 0.0  # half a contact rounds up
    assert wape([0, 0], [3, 4]) is None  # nothing arrived: no percentage to give
    with pytest.raises(ValueError, match="exactly one forecast"):
        wape([1, 2], [1])
    with pytest.raises(ValueError, match="non-negative"):
        wape([1], [-2])


# --- red / amber / green, and the change on the previous month --------------------------------------------------------


@pytest.mark.parametrize(
    ("figure", "expected"),
    [(85.0, Status.green), (80.0, Status.green), (79.0, Status.amber), (76.0, Status.amber), (75.99, Status.red)],
)
def test_rag_when_higher_is_better_with_the_default_band(figure: float, expected: Status) -> None:
    assert rag(figure, Target(80, HIGHER)) is expected  # amber down to 76: 5% of the target


@pytest.mark.parametrize(
    ("figure", "expected"),
    [(100.0, Status.green), (120.0, Status.green), (126.0, Status.amber), (126.01, Status.red)],
)
def test_rag_when_lower_is_better(figure: float, expected: Status) -> None:
    assert rag(figure, Target(120, LOWER)) is expected  # average handling time target 120 s


def test_rag_boundaries_hold_for_shares_computed_in_floating_point() -> None:
    target = Target(0.8, HIGHER)
    assert rag(0.8 - 0.04, target) is Status.amber
    assert rag(0.1 * 8, target) is Status.green


def test_rag_with_an_explicit_band_and_without_data() -> None:
    assert rag(79.99, Target(80, HIGHER, tolerance=0)) is Status.red
    assert rag(70, Target(80, HIGHER, tolerance=10)) is Status.amber
    assert rag(None, Target(80, HIGHER)) is Status.no_data
    assert rag(0, Target(0, LOWER)) is Status.green  # no leavers, target none
    assert rag(1, Target(0, LOWER)) is Status.red
    with pytest.raises(ValueError, match="tolerance"):
        Target(80, HIGHER, tolerance=-1)


@given(
    target=st.floats(-1e6, 1e6),
    direction=st.sampled_from(list(Direction)),
    figures=st.lists(st.floats(-1e6, 1e6), min_size=2, max_size=2),
)
def test_a_better_figure_never_has_a_worse_colour(target: float, direction: Direction, figures: list[float]) -> None:
    worse, better = sorted(figures) if direction is HIGHER else sorted(figures, reverse=True)
    order = [Status.red, Status.amber, Status.green]
    assert order.index(rag(better, Target(target, direction))) >= order.index(rag(worse, Target(target, direction)))


def test_change_on_the_previous_month_says_whether_it_is_better() -> None:
    assert change_on_previous(82.0, 78.0, HIGHER) == Change(4.0, Trend.better)
    assert change_on_previous(300.0, 280.0, LOWER) == Change(20.0, Trend.worse)
    assert change_on_previous(75.0, 75.0, HIGHER) == Change(0.0, Trend.unchanged)
    assert change_on_previous(75.0, None, HIGHER) is None


# --- rollups: the rollup of any split of the data equals the rollup of the whole ------------------------------------

contact_facts = st.builds(
    ContactFacts,
    channel=st.sampled_from(["phone", "web_chat", "email", "face_to_face", "post", "letter-box"]),
    wait_seconds=st.none() | st.integers(0, 7 * 24 * 3600),
    handling_seconds=st.none() | st.integers(0, 4 * 3600),
    transferred=st.booleans(),
    abandoned=st.booleans(),
    first_contact_resolved=st.none() | st.booleans(),
)
invitation_facts = st.one_of(
    st.just(InvitationFacts()),
    st.builds(
        InvitationFacts,
        answered=st.just(True),
        satisfaction=st.none() | st.integers(1, 5),
        sentiment=st.none() | st.floats(-1, 1),
    ),
)


T = TypeVar("T")
R = TypeVar("R", bound=Rollup)


def assert_split_invariant(rows: list[T], cuts: list[int], roll: Callable[[list[T]], R], empty: R) -> None:
    bounds = [0, *sorted(cut % (len(rows) + 1) for cut in cuts), len(rows)]
    parts = [roll(rows[start:end]) for start, end in pairwise(bounds)]
    whole = roll(rows)
    assert merge_all(parts, empty) == whole
    assert merge_all(reversed(parts), empty) == whole
    assert merge(empty, whole) == whole == merge(whole, empty)


@given(st.lists(contact_facts, max_size=40), st.lists(st.integers(0, 1000), max_size=5))
def test_contact_rollups_of_any_split_equal_the_rollup_of_the_whole(rows: list[ContactFacts], cuts: list[int]) -> None:
    assert_split_invariant(rows, cuts, lambda part: ContactRollup.of(part, THRESHOLDS), ContactRollup.empty())


@given(st.lists(invitation_facts, max_size=40), st.lists(st.integers(0, 1000), max_size=5))
def test_survey_rollups_of_any_split_equal_the_rollup_of_the_whole(
    rows: list[InvitationFacts], cuts: list[int]
) -> None:
    assert_split_invariant(rows, cuts, SurveyRollup.of, SurveyRollup.empty())


@given(
    st.lists(st.tuples(st.integers(0, 10_000), st.floats(0, 20_000)), max_size=30),
    st.lists(st.integers(0, 1000), max_size=5),
)
def test_forecast_errors_of_any_split_equal_those_of_the_whole(rows: list[tuple[int, float]], cuts: list[int]) -> None:
    assert_split_invariant(rows, cuts, ForecastError.of, ForecastError())


@given(st.lists(st.sampled_from(list(DemandType)), max_size=40), st.lists(st.integers(0, 1000), max_size=5))
def test_demand_counts_of_any_split_equal_those_of_the_whole(rows: list[DemandType], cuts: list[int]) -> None:
    assert_split_invariant(rows, cuts, lambda part: Counts.of(kind.value for kind in part), Counts())


@given(st.lists(contact_facts, max_size=30), st.randoms(use_true_random=False))
def test_the_order_rows_arrive_in_does_not_change_the_rollup(rows: list[ContactFacts], random: Random) -> None:
    shuffled = list(rows)
    random.shuffle(shuffled)
    assert ContactRollup.of(shuffled, THRESHOLDS) == ContactRollup.of(rows, THRESHOLDS)
