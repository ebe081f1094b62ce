"""`cv-sentiment-3`: the trained scorer meant to carry over to comments unlike its training data."""

from __future__ import annotations

import json
from importlib import resources

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from feedback.sentiment import V3, VERSIONS, Label, QuestionKind, label_for, score
from feedback.sentiment.answers import short_answer
from feedback.sentiment.model import CLASSES, LinearModel
from feedback.sentiment.model_v3 import DENSE_FEATURES_V3, MODEL_FILE_V3, features_v3, stem

IMPROVE = QuestionKind.IMPROVE
PRAISE = QuestionKind.PRAISE
GENERAL = QuestionKind.GENERAL


def label(text: str, question: QuestionKind | None = None) -> Label:
    return score(text, question=question, version=V3).label


@pytest.mark.parametrize(
    "text",
    [
        "The staff were rude and I waited 40 minutes on hold",
        "Nobody called me back",
        "Still waiting for a reply after three weeks",
        "Absolutely useless, never again",
        "My complaint was ignored",
        "Terrible service",
        "The woman at the desk was not helpful at all",
    ],
)
def test_complaints_are_negative(text: str) -> None:
    assert label(text) is Label.NEGATIVE


@pytest.mark.parametrize(
    "text",
    [
        "Thank you, Sam sorted it quickly",
        "The advisor was friendly and very helpful",
        "Excellent service, could not fault it",
        "Really pleased with how quickly the repair was done",
        "Great job, thanks",
        "It took a while but the officer was brilliant",
    ],
)
def test_praise_is_positive(text: str) -> None:
    assert label(text) is Label.POSITIVE


@pytest.mark.parametrize(
    "answer", ["N/A", "n/a", "No", "No comment", "Nothing to add", "Not sure", "Don't know", "Fine", "OK", "ok."]
)
@pytest.mark.parametrize("question", [None, IMPROVE, PRAISE, GENERAL])
def test_no_opinion_answers_are_neutral_whatever_was_asked(answer: str, question: QuestionKind | None) -> None:
    result = score(answer, question=question, version=V3)
    assert result.label is Label.NEUTRAL and result.polarity == 0.0


def test_nothing_reads_against_the_question_and_is_neutral_when_nothing_was_asked() -> None:
    assert label("Nothing", IMPROVE) is Label.POSITIVE
    assert label("Nothing really", IMPROVE) is Label.POSITIVE
    assert label("Nothing", PRAISE) is Label.NEGATIVE
    assert label("Everything", PRAISE) is Label.POSITIVE
    assert label("Nothing", GENERAL) is Label.NEUTRAL
    assert label("None", None) is Label.NEUTRAL
    assert label("Nothing, it was all fine", IMPROVE) is Label.POSITIVE
    assert label("Nothing, I am still waiting for someone to come out", PRAISE) is Label.NEGATIVE


def test_negation_and_contrast_are_features_of_their_own() -> None:
    grams = features_v3("The staff weren't helpful, but the form was easy").ngrams
    assert {"!helpful", "-lex", ">easy", ">+lex"} <= grams or {"!helpful", "+lex!", ">easy", ">+lex"} <= grams
    assert "!easy" not in grams  # the clause break ends the negation's scope
    assert "~wait" in features_v3("I waited and waited").ngrams
    assert (stem("waiting"), stem("stopped"), stem("rude")) == ("wait", "stop", "rude")


@given(st.text(max_size=120))
@settings(max_examples=150, deadline=None)
def test_the_question_asked_moves_the_odds_one_way(text: str) -> None:
    praise = score(text, question=PRAISE, version=V3).polarity
    general = score(text, version=V3).polarity
    improve = score(text, question=IMPROVE, version=V3).polarity
    if general != 0.0 or not any(c.isalnum() for c in text) or short_answer(text) is not None:
        # A short answer read by rule may swing either way by design ("Nothing" to "What went well?" is a complaint,
        # to "What could we do better?" praise); only the model's odds are monotone in the question.
        return
    assert praise >= improve


@given(st.text(max_size=300), st.sampled_from([None, IMPROVE, PRAISE, GENERAL]))
@settings(max_examples=300, deadline=None)
def test_any_text_gets_a_valid_sentiment(text: str, question: QuestionKind | None) -> None:
    result = score(text, question=question, version=V3)
    assert result.scorer_version == V3
    if result.label is not Label.NOT_SCORED:
        assert result.label is label_for(result.polarity)
    assert -1.0 <= result.polarity <= 1.0
    assert score(text, question=question, version=V3) == result  # pure: same text, same score


def test_welsh_is_not_scored() -> None:
    result = score("The staff were rude", language="cy", version=V3)
    assert result.label is Label.NOT_SCORED and result.polarity == 0.0 and result.scorer_version == V3
    assert score("Roedd y staff yn gwrtais iawn, diolch", version=V3).label is Label.NOT_SCORED
    assert score("The staff were rude", language="en-GB", version=V3).label is Label.NEGATIVE


def test_the_model_ships_as_json_weights_matching_the_code() -> None:
    text = resources.files("feedback.data").joinpath(MODEL_FILE_V3).read_text("utf-8")
    document = json.loads(text)
    assert document["classes"] == list(CLASSES) and document["dense_features"] == list(DENSE_FEATURES_V3)
    model = LinearModel.load(MODEL_FILE_V3, DENSE_FEATURES_V3)
    assert len(model.ngrams) > 1_000 and len(model.dense) == len(DENSE_FEATURES_V3)
    assert V3 in VERSIONS
