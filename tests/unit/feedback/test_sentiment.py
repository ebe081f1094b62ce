"""Sentiment of survey comments by `cv-sentiment-1` (the rules), as a council's quality reviewer would read them.

The version is named in every call: stored scores keep the version that made them, and this one is frozen
(`test_sentiment_pinned.py`); `cv-sentiment-2` has its own tests (`test_sentiment_v2.py`)."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from feedback.sentiment import (
    NEUTRAL_BAND,
    V1,
    Label,
    QuestionKind,
    Sentiment,
    question_kind,
)
from feedback.sentiment import score as score_by_version

SCORER_VERSION = V1


def score(text: str, *, question: QuestionKind | None = None) -> Sentiment:
    return score_by_version(text, question=question, version=V1)


IMPROVE = QuestionKind.IMPROVE
PRAISE = QuestionKind.PRAISE


def label(text: str, question: QuestionKind | None = None) -> Label:
    return score(text, question=question).label


def polarity(text: str, question: QuestionKind | None = None) -> float:
    return score(text, question=question).polarity


@pytest.mark.parametrize(
    "text",
    [
        "The staff were rude and I waited 40 minutes on hold",
        "Nobody called me back",
        "I have been waiting three weeks for a reply and still nothing",
        "The online form doesn't work",
        "Cancelled my appointment twice without telling me",
        "The repair was delayed again",
        "I was passed from pillar to post",
        "Took over a week to get a reply",
        "I will never use this service again",
        "Why has nobody collected my bins?",
        "What's the point of reporting it if nobody listens",
        "Thanks for nothing",
        "Thanks for wasting my time",
        "Don't waste your time calling them",
        "Absolutely useless, never again",
        "My rubbish was not collected",
    ],
)
def test_complaints_are_negative(text: str) -> None:
    assert label(text) is Label.NEGATIVE


@pytest.mark.parametrize(
    "text",
    [
        "Thank you, Sam sorted it quickly",
        "Very efficient and polite",
        "Kept me informed throughout",
        "Couldn't have been more helpful",
        "I can't thank the housing team enough",
        "Quick and easy, no problems at all",
        "My missed bin was collected within 24 hours, thank you",
        "The advisor went above and beyond",
        "Can't fault the service",
        "Would use the service again",
    ],
)
def test_praise_is_positive(text: str) -> None:
    assert label(text) is Label.POSITIVE


@pytest.mark.parametrize(
    "text",
    [
        "Can you tell me when the garden waste collections start again?",
        "How do I apply for a resident parking permit?",
        "I rang about my council tax bill on Tuesday",
        "Please send me the form by post",
        "I would like to know who my case officer is",
        "Is there a good time to call?",
        "@council see https://example.org/bins for details",
    ],
)
def test_questions_and_requests_without_feeling_are_neutral(text: str) -> None:
    assert label(text) is Label.NEUTRAL


# --- question awareness ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "answer",
    ["Nothing", "nothing really", "N/A", "no", "Nope.", "can't think of anything", "Nothing at all!", "None"],
)
def test_nothing_to_improve_is_praise_but_nothing_went_well_is_a_complaint(answer: str) -> None:
    assert label(answer, IMPROVE) is Label.POSITIVE
    assert label(answer, PRAISE) is Label.NEGATIVE


def test_without_a_question_nothing_is_neutral() -> None:
    assert label("Nothing") is Label.NEUTRAL
    assert label("Nothing", QuestionKind.GENERAL) is Label.NEUTRAL


def test_all_good_is_positive_whatever_was_asked() -> None:
    assert label("all good", IMPROVE) is Label.POSITIVE
    assert label("All good", PRAISE) is Label.POSITIVE


def test_everything_takes_the_side_of_the_question() -> None:
    assert label("Everything!", PRAISE) is Label.POSITIVE
    assert label("Everything!", IMPROVE) is Label.NEGATIVE


def test_what_follows_nothing_decides() -> None:
    assert label("Nothing, the staff were great", IMPROVE) is Label.POSITIVE
    assert label("Nothing. The receptionist was rude", PRAISE) is Label.NEGATIVE


def test_an_answer_naming_something_takes_the_side_of_the_question() -> None:
    assert label("The receptionist", PRAISE) is Label.POSITIVE
    assert label("Answer the phone quicker", IMPROVE) is Label.NEGATIVE


def test_a_long_answer_with_feeling_is_scored_on_its_words() -> None:
    comment = "No one answered the phone for an hour"
    assert label(comment, IMPROVE) is Label.NEGATIVE
    assert label(comment, PRAISE) is Label.NEGATIVE


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("What could we do better?", IMPROVE),
        ("How could we improve our service?", IMPROVE),
        ("What would you change?", IMPROVE),
        ("What went wrong?", IMPROVE),
        ("What did you not like?", IMPROVE),
        ("What did you like least?", IMPROVE),
        ("What went well?", PRAISE),
        ("What was good about your visit?", PRAISE),
        ("What did you like most?", PRAISE),
        ("What was the best thing about the call?", PRAISE),
        ("Any other comments?", QuestionKind.GENERAL),
        ("Is there anything else you would like to tell us?", QuestionKind.GENERAL),
        ("What went well, and what could we do better?", QuestionKind.GENERAL),
        ("", QuestionKind.GENERAL),
    ],
)
def test_question_kind_from_the_question_text(question: str, kind: QuestionKind) -> None:
    assert question_kind(question) is kind


# --- how words combine -----------------------------------------------------------------------------------


def test_negation_turns_praise_into_criticism() -> None:
    assert label("not helpful") is Label.NEGATIVE
    assert label("The advisor was not very helpful") is Label.NEGATIVE
    assert label("wasn't friendly or helpful") is Label.NEGATIVE
    assert label("Never had a problem with the council") is Label.POSITIVE
    assert label("not bad at all") is Label.POSITIVE


def test_negation_that_stresses_does_not_reverse() -> None:
    assert label("I've never been treated so badly") is Label.NEGATIVE


def test_intensifiers_and_downtoners() -> None:
    assert polarity("very helpful") > polarity("helpful") > polarity("slightly helpful") > 0
    assert polarity("extremely rude") < polarity("rude") < polarity("a bit rude") < 0


def test_the_clause_after_but_counts_most() -> None:
    assert label("The lady on the phone was lovely but the website is useless") is Label.NEGATIVE
    assert label("The website is useless but the lady on the phone was lovely") is Label.POSITIVE
    assert label("Although the website was confusing, the staff were brilliant") is Label.POSITIVE


def test_exclamation_marks_and_capitals_add_emphasis() -> None:
    assert polarity("helpful!!!") > polarity("helpful")
    assert polarity("I was VERY disappointed") < polarity("I was very disappointed") < 0


def test_emoji_and_emoticons_carry_feeling() -> None:
    assert label("👍") is Label.POSITIVE
    assert label("😡") is Label.NEGATIVE
    assert label("sorted :)") is Label.POSITIVE
    assert label("still waiting :(") is Label.NEGATIVE


def test_mentions_and_links_are_ignored() -> None:
    assert polarity("@housing_team thanks, great help https://t.co/abc") == polarity("thanks, great help")


def test_council_words_that_are_not_verdicts() -> None:
    assert label("I got a parking fine") is Label.NEUTRAL
    assert label("When is the rubbish collection?") is Label.NEUTRAL
    assert label("The service was rubbish") is Label.NEGATIVE


# --- the result itself -----------------------------------------------------------------------------------


def test_result_carries_the_scorer_version() -> None:
    result = score("Thank you")
    assert result.scorer_version == SCORER_VERSION
    assert isinstance(result.polarity, float)


def test_result_is_immutable_and_validated() -> None:
    result = score("Thank you")
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.polarity = 0.0  # type: ignore[misc]
    with pytest.raises(ValueError, match="polarity"):
        Sentiment(polarity=1.5, label=Label.POSITIVE)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "\x00\x01\x02",
        "\ud800",
        "🙂" * 500,
        "?!" * 1000,
        "#" * 100,
        "a-" * 200,
        "x" * 100_000,
        "good " + "but " * 1200,  # a "but" outweighs what came before only once
        "very " * 5000 + "good " + "VERY " * 5000 + "bad",  # intensifiers stop growing
        "good but " * 12_000,
        "#" + "nothappy" * 20,
    ],
)
def test_hostile_input_never_raises(text: str) -> None:
    result = score(text)
    assert -1.0 <= result.polarity <= 1.0


def test_a_very_long_comment_is_scored() -> None:
    comment = "The staff were rude and I waited on hold. " * 2_500  # 105,000 characters
    assert label(comment) is Label.NEGATIVE


@settings(database=None, max_examples=300, deadline=None)
@given(
    text=st.text(alphabet=st.characters(codec=None), max_size=400)
    | st.lists(
        st.sampled_from(
            [
                "not",
                "never",
                "very",
                "but",
                "good",
                "rude",
                "!",
                "?",
                ",",
                ".",
                "#fail",
                ":)",
                "😡",
                "again",
                "thanks",
                "for",
                "nothing",
                "would",
                "so",
                "-",
                "enough",
                "why",
                "hours",
                "2",
                "WAIT",
            ]
        ),
        max_size=40,
    ).map(" ".join),
    question=st.none() | st.sampled_from(list(QuestionKind)),
)
def test_any_text_gets_a_valid_sentiment(text: str, question: QuestionKind | None) -> None:
    result = score(text, question=question)
    assert -1.0 <= result.polarity <= 1.0
    assert result.scorer_version == SCORER_VERSION
    if result.polarity > NEUTRAL_BAND:
        assert result.label is Label.POSITIVE
    elif result.polarity < -NEUTRAL_BAND:
        assert result.label is Label.NEGATIVE
    else:
        assert result.label is Label.NEUTRAL
    assert score(text, question=question) == result  # pure: same text, same score


@settings(database=None, max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_question_kind_accepts_any_text(question_text: str) -> None:
    assert question_kind(question_text) in set(QuestionKind)
