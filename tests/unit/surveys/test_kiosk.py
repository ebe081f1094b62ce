"""The kiosk's pure parts: key format, the tokens bound to a device key, the per-device rate step and the comment
question offered after a rating, the tap question of any survey a kiosk may ask, and the visitor's language."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from surveys.catalogue import POST_CONTACT_SURVEY
from surveys.channels.kiosk import (
    KioskFormExpired,
    KioskQuestions,
    MalformedKey,
    comment_response,
    comment_token,
    csrf_token,
    key_prefix,
    kiosk_language,
    kiosk_rate,
    new_key,
    next_slot,
    tap_question,
    tapped,
)
from surveys.definitions import Choice, Question, QuestionKind, ShowIf, SurveyDefinition

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def test_a_new_key_names_its_kiosk_and_anything_else_is_malformed() -> None:
    key = new_key("0a1b2c3d")
    assert key.startswith("cvk_kiosk_0a1b2c3d_") and key_prefix(key) == "0a1b2c3d"
    assert new_key("0a1b2c3d") != key
    api_key_shaped = "cvk_0a1b2c3d_" + "A" * 43
    for bad in ("", "cvk_kiosk_0a1b2c3d", key + "x", key[:-1], api_key_shaped, key.replace("_", "-"), key * 3):
        with pytest.raises(MalformedKey):
            key_prefix(bad)


def test_a_comment_token_is_bound_to_its_device_answer_and_time() -> None:
    device, other = new_key("00000001"), new_key("00000002")
    answer = uuid.uuid4()
    token = comment_token(device, answer, NOW + timedelta(minutes=10))
    assert comment_response(device, token, NOW) == answer
    with pytest.raises(KioskFormExpired):
        comment_response(other, token, NOW)  # another tablet's form
    with pytest.raises(KioskFormExpired):
        comment_response(device, token, NOW + timedelta(minutes=11))  # too late
    swapped = comment_token(device, answer, NOW).replace(answer.hex, uuid.uuid4().hex)
    for bad in (swapped, token[:-2], "a.b.c", "", None, "x" * 300):
        with pytest.raises(KioskFormExpired):
            comment_response(device, bad, NOW)
    assert csrf_token(device) != csrf_token(other) and len(csrf_token(device)) == 64


@settings(max_examples=30, deadline=None)
@given(per_minute=st.integers(1, 120), gaps=st.lists(st.floats(0, 30), min_size=1, max_size=60))
def test_the_rate_step_never_lets_more_than_the_limit_through_in_any_minute(per_minute: int, gaps: list[float]) -> None:
    rate = kiosk_rate(per_minute)
    tat, now, allowed = 0.0, 1_000_000.0, []
    for gap in gaps:
        now += gap
        step = next_slot(tat, now, rate)
        if step is not None:
            tat = step
            allowed.append(now)
    for index, start in enumerate(allowed):
        assert sum(1 for moment in allowed[index:] if moment < start + 60) <= per_minute


def test_a_burst_is_allowed_then_refused_until_the_rate_frees_a_slot() -> None:
    rate = kiosk_rate(12)
    tat, now = 0.0, 1_000_000.0
    for _ in range(rate.burst):
        step = next_slot(tat, now, rate)
        assert step is not None
        tat = step
    assert next_slot(tat, now, rate) is None
    assert next_slot(tat, now + rate.emission, rate) is not None


def test_the_comment_offered_follows_the_rating_and_the_surveys_skip_logic() -> None:
    rating = POST_CONTACT_SURVEY.csat_question
    assert rating is not None
    questions = KioskQuestions(uuid.uuid4(), POST_CONTACT_SURVEY, rating)
    offered = questions.comment_for(5)
    assert offered is not None and offered.id == "improve"

    only_when_unhappy = Question(
        id="wrong",
        kind=QuestionKind.free_text,
        text={"en": "What went wrong?"},
        max_length=500,
        show_if=ShowIf(question=rating.id, at_most=2),
    )
    definition = POST_CONTACT_SURVEY.__class__(title=POST_CONTACT_SURVEY.title, questions=(rating, only_when_unhappy))
    questions = KioskQuestions(uuid.uuid4(), definition, rating)
    assert questions.comment_for(5) is None
    found = questions.comment_for(1)
    assert found is not None and found.id == "wrong"


def test_the_tap_question_is_the_csat_question_else_the_one_question_a_tap_answers() -> None:
    assert tap_question(POST_CONTACT_SURVEY) == POST_CONTACT_SURVEY.csat_question
    found = Question(
        id="found",
        kind=QuestionKind.single_choice,
        text={"en": "Found it?"},
        choices=(Choice(value="yes", label={"en": "Yes"}), Choice(value="no", label={"en": "No"})),
    )
    comment = Question(
        id="why",
        kind=QuestionKind.free_text,
        text={"en": "Why not?"},
        max_length=200,
        show_if=ShowIf(question="found", any_of=("no",)),
    )
    survey = SurveyDefinition(title={"en": "Visit"}, questions=(found, comment))
    assert tap_question(survey) == found
    assert tapped(found, "no") == "no" and tapped(POST_CONTACT_SURVEY.questions[0], "4") == 4
    asked = KioskQuestions(uuid.uuid4(), survey, found)
    assert asked.comment_for("no") == comment and asked.comment_for("yes") is None
    # Two questions a tap could answer, or none: the kiosk cannot ask it.
    assert tap_question(SurveyDefinition(title={"en": "T"}, questions=(found, found))) is None
    assert tap_question(SurveyDefinition(title={"en": "T"}, questions=(comment,))) is None


def test_the_visitor_language_is_one_the_survey_offers_else_english() -> None:
    bilingual = SurveyDefinition(title={"en": "T", "cy": "T"}, questions=(), languages=("en", "cy"))
    assert kiosk_language(bilingual, "cy") == "cy"
    for asked in (None, "", "en", "fr", "CY", "cy-GB"):
        assert kiosk_language(bilingual, asked) == "en"
    assert kiosk_language(POST_CONTACT_SURVEY, "cy") == "en"
