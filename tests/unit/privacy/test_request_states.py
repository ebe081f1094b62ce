"""The subject-request state machine: every allowed move, every refused one with a message, closed is final."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from privacy.request_states import (
    TRANSITIONS,
    IllegalTransition,
    RefusalNeedsReason,
    RequestKind,
    RequestState,
    check_transition,
)

STATES = list(RequestState)


def test_every_state_has_its_moves_declared() -> None:
    assert set(TRANSITIONS) == set(RequestState)


@pytest.mark.parametrize("state", [s for s in RequestState if s.closed])
def test_a_closed_request_cannot_change(state: RequestState) -> None:
    for target in RequestState:
        with pytest.raises(IllegalTransition, match="closed request cannot be changed"):
            check_transition(state, target, reason="because")


def test_the_usual_path_of_a_request() -> None:
    path = [
        RequestState.received,
        RequestState.identity_pending,
        RequestState.in_progress,
        RequestState.on_hold,
        RequestState.in_progress,
        RequestState.extended,
        RequestState.completed,
    ]
    for current, target in itertools.pairwise(path):
        check_transition(current, target, reason="complex request")


def test_refusing_and_extending_need_a_reason() -> None:
    with pytest.raises(RefusalNeedsReason, match="refusing"):
        check_transition(RequestState.in_progress, RequestState.refused, reason="  ")
    with pytest.raises(RefusalNeedsReason, match="extending"):
        check_transition(RequestState.in_progress, RequestState.extended)
    check_transition(RequestState.in_progress, RequestState.refused, reason="manifestly unfounded")


def test_a_refused_move_says_what_is_possible() -> None:
    with pytest.raises(IllegalTransition) as refused:
        check_transition(RequestState.identity_pending, RequestState.completed)
    assert "cannot become completed" in refused.value.detail and "in progress" in refused.value.detail
    assert refused.value.status == 409


@given(st.sampled_from(STATES), st.sampled_from(STATES))
def test_a_move_is_allowed_exactly_when_the_table_says_so(current: RequestState, target: RequestState) -> None:
    try:
        check_transition(current, target, reason="a reason")
    except IllegalTransition:
        assert target not in TRANSITIONS[current]
    else:
        assert target in TRANSITIONS[current]


@given(st.lists(st.sampled_from(STATES), max_size=30))
def test_any_walk_through_allowed_moves_ends_open_or_closed_for_good(targets: list[RequestState]) -> None:
    state = RequestState.received
    for target in targets:
        if target in TRANSITIONS[state]:
            state = target
    if state.closed:
        assert TRANSITIONS[state] == frozenset()


def test_every_kind_names_its_article() -> None:
    assert RequestKind.access.article == "Article 15" and RequestKind.objection.article == "Article 21"
    assert all(kind.label for kind in RequestKind)
