"""Contact quality evaluation by hand: the weighted score, the stable sample and calibration spread."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from civicvoice.core.errors import ConfigurationError, InvalidInput
from feedback.quality import (
    DEFAULT_FORM,
    MAX_MARK,
    Calibration,
    Criterion,
    in_sample,
    quality_form,
    weighted_score,
)


def test_the_default_form_by_hand() -> None:
    # Weights 1, 3, 3, 2, 2 (total 11); marks 4, 2, 3, 4, 1 of 4: (4 + 6 + 9 + 8 + 2) / 44 = 29 / 44 = 65.9%.
    marks = {"greeting": 4, "accuracy": 2, "resolution": 3, "courtesy": 4, "data_protection": 1}
    assert weighted_score(marks) == 65.9
    assert weighted_score(dict.fromkeys(marks, 0)) == 0.0
    assert weighted_score(dict.fromkeys(marks, MAX_MARK)) == 100.0


def test_a_council_form_of_its_own() -> None:
    form = (Criterion("greeting", "Greeting", 1.0), Criterion("resolution", "Resolution", 3.0))
    # (1 * 4 + 3 * 1) / (4 * 4) = 7 / 16 = 43.75%, to one decimal place.
    assert weighted_score({"greeting": 4, "resolution": 1}, form) == 43.8
    with pytest.raises(InvalidInput, match="Mark every criterion: Resolution"):
        weighted_score({"greeting": 4}, form)
    with pytest.raises(InvalidInput, match="0 to 4"):
        weighted_score({"greeting": 5, "resolution": 1}, form)
    with pytest.raises(InvalidInput, match="more than zero"):
        weighted_score({"greeting": 1}, (Criterion("greeting", "Greeting", 0.0),))


@given(st.fixed_dictionaries({c.key: st.integers(0, MAX_MARK) for c in DEFAULT_FORM}))
def test_a_score_is_a_percentage_that_rises_with_any_mark(marks: dict[str, int]) -> None:
    found = weighted_score(marks)
    assert 0.0 <= found <= 100.0
    for key, mark in marks.items():
        if mark < MAX_MARK:
            assert weighted_score({**marks, key: mark + 1}) > found


def test_the_sample_is_stable_and_near_its_rate() -> None:
    ids = [uuid.UUID(int=n * 7919 + 13) for n in range(20_000)]
    drawn = [i for i in ids if in_sample(i, 0.05)]
    assert drawn == [i for i in ids if in_sample(i, 0.05)]  # drawing again gives the same sample
    assert 0.04 < len(drawn) / len(ids) < 0.06
    assert set(drawn) <= {i for i in ids if in_sample(i, 0.10)}  # a higher rate keeps the contacts already drawn
    assert all(in_sample(i, 1.0) for i in ids[:100])


def test_calibration_spread_between_two_reviewers() -> None:
    assert Calibration(uuid.UUID(int=1), (61.4, 86.4)).spread == 25.0
    assert Calibration(uuid.UUID(int=1), (70.0, 70.0, 52.3)).spread == 17.7


def test_a_council_sets_its_form_in_the_settings() -> None:
    raw = (
        '[{"key": "greeting", "label": "Greeting", "weight": 1}, {"key": "outcome", "label": "Outcome", "weight": 2.5}]'
    )
    assert quality_form(raw) == (Criterion("greeting", "Greeting", 1.0), Criterion("outcome", "Outcome", 2.5))
    assert quality_form(None) == DEFAULT_FORM


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("not json", "not valid JSON"),
        ("[]", "at least one criterion"),
        ('[{"key": "a", "label": "A"}]', "exactly those three"),
        ('[{"key": "A b", "label": "A", "weight": 1}]', "lower-case"),
        ('[{"key": "a", "label": "", "weight": 1}]', "1 to 100 characters"),
        ('[{"key": "a", "label": "A", "weight": 0}]', "above 0"),
        ('[{"key": "a", "label": "A", "weight": true}]', "above 0"),
        ('[{"key": "a", "label": "A", "weight": 1}, {"key": "a", "label": "B", "weight": 1}]', "each key once"),
    ],
)
def test_a_form_that_cannot_be_used_stops_the_start(raw: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        quality_form(raw)
