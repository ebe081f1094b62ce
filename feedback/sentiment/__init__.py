"""Question-aware sentiment of survey comments: a polarity in [-1, 1] and a label, by a named scorer version.

Every stored score records the version that produced it, and a version never changes once scores carry its
name. `cv-sentiment-1`: rules over TextBlob's lexicon (`rules.py`), kept exactly as it was. `cv-sentiment-2`:
a linear model over words, word pairs and those rules' reading (`model.py`), with non-answers read as neutral,
the question asked shifting the odds, and comments not in English marked not scored. `cv-sentiment-3`: the same
shape with features chosen to carry over to comments unlike the training data (`model_v3.py`: negation scope,
contrast, lexicon classes, word stems), more no-opinion answers read as neutral, and a calibrated neutral band.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from feedback.sentiment import rules
from feedback.sentiment.answers import QuestionKind, answer_polarity, has_words, question_kind, short_answer
from feedback.sentiment.lexicon import WORDS
from feedback.sentiment.model import Features, LinearModel, features, features_of, probabilities
from feedback.sentiment.model_v3 import DENSE_FEATURES_V3, MODEL_FILE_V3, features_of_v3
from feedback.sentiment.tokens import tokenise

V1: Final = "cv-sentiment-1"
V2: Final = "cv-sentiment-2"
V3: Final = "cv-sentiment-3"
VERSIONS: Final = (V1, V2, V3)
# The version new scores are made with (see the README's Sentiment section for why).
SCORER_VERSION: Final = V3

# A polarity whose magnitude is at most this is neutral (the cut VADER uses for its compound score).
NEUTRAL_BAND: Final = 0.05
ENGLISH: Final = "en"


class Label(StrEnum):
    POSITIVE = "positive"
    NEUTRAL = "neutral"
    NEGATIVE = "negative"
    NOT_SCORED = "not_scored"  # not in English: the scorers read English only


class UnknownScorerVersion(ValueError):
    """A scorer version this code does not have."""


@dataclass(frozen=True, slots=True)
class Sentiment:
    polarity: float  # -1.0 (negative) .. 1.0 (positive); 0.0 when not scored
    label: Label
    scorer_version: str = SCORER_VERSION

    def __post_init__(self) -> None:
        if not -1.0 <= self.polarity <= 1.0:
            raise ValueError(f"polarity must be within [-1, 1], got {self.polarity!r}")


def label_for(polarity: float) -> Label:
    """The label of a polarity: neutral within ``NEUTRAL_BAND`` of zero."""
    if polarity > NEUTRAL_BAND:
        return Label.POSITIVE
    if polarity < -NEUTRAL_BAND:
        return Label.NEGATIVE
    return Label.NEUTRAL


def score(
    text: str,
    *,
    question: QuestionKind | None = None,
    language: str | None = None,
    version: str = SCORER_VERSION,
) -> Sentiment:
    """Score a free-text comment. ``question``: the kind of question it answers, when known. ``language``: the
    respondent's page language (BCP 47, "en", "cy"), when known; a comment not in English is not scored."""
    if version not in VERSIONS:
        raise UnknownScorerVersion(f"unknown scorer version {version!r}; known: {', '.join(VERSIONS)}")
    if not isinstance(text, str):
        text = "" if text is None else str(text)
    if language is not None and language.strip().lower().split("-")[0].split("_")[0] not in (ENGLISH, ""):
        return Sentiment(polarity=0.0, label=Label.NOT_SCORED, scorer_version=version)
    if version == V1:
        if question is QuestionKind.IMPROVE or question is QuestionKind.PRAISE:
            polarity = answer_polarity(text, question, rules.polarity)
        else:
            polarity = rules.polarity(text)
    else:
        tokens = tokenise(text)
        if _welsh(tokens[0]):
            return Sentiment(polarity=0.0, label=Label.NOT_SCORED, scorer_version=version)
        polarity = _model_polarity(text, question, tokens) if version == V2 else _v3_polarity(text, question, tokens)
    polarity = _stored(polarity)
    return Sentiment(polarity=polarity, label=label_for(polarity), scorer_version=version)


def _stored(polarity: float) -> float:
    if not -1.0 <= polarity <= 1.0:  # also catches NaN, which a stored score must never be
        polarity = 0.0
    return round(polarity, 6) + 0.0  # + 0.0 turns -0.0 into 0.0


# --- cv-sentiment-2 ---------------------------------------------------------------------------------------

# The question shifts the odds between praise and complaint by this much (log-odds) for an answer the words
# leave open: after "What could we do better?", "More staff on the phones" leans to a complaint. Set by hand.
_QUESTION_SHIFT: Final = 0.5
# "Nothing" after "What could we do better?" is mild praise; after "What went well?", a complaint.
_NOTHING_AFTER_IMPROVE: Final = 0.3
_NOTHING_AFTER_PRAISE: Final = -0.4
_EVERYTHING: Final = 0.6
# A comment is Welsh when at least this share of its words are common Welsh words.
_WELSH_SHARE: Final = 0.3


@functools.cache
def _model() -> LinearModel:
    return LinearModel.load()


def looks_welsh(text: str) -> bool:
    """Whether a comment is written in Welsh: common Welsh words that are not English make up a good share
    of it (one such word in an English sentence, "Mae West", is not enough)."""
    return _welsh(tokenise(text)[0])


def _welsh(tokens: list[str]) -> bool:
    words = [token for token in tokens if token[0].isalpha()]
    if not words:
        return False
    welsh = sum(1 for word in words if word in WORDS.welsh_words)
    if len(words) == 1:
        return welsh == 1  # "Diolch"
    return welsh >= 2 and welsh >= _WELSH_SHARE * len(words)


def _short_answer_polarity(
    text: str,
    question: QuestionKind | None,
    again: Callable[[str, QuestionKind | None], float],
    more_non_answers: frozenset[str] = frozenset(),
) -> float | None:
    """A short answer read by rule (both model versions), or None when the model is to read the comment."""
    answer = short_answer(text)
    if answer is None:
        return None
    head, rest = answer
    says_more = rest is not None and has_words(rest)
    if head in WORDS.non_answers and not says_more:
        return 0.0  # "N/A", "No", "Nothing to add": no view of the contact, whatever was asked
    asked = question is QuestionKind.IMPROVE or question is QuestionKind.PRAISE
    if asked and (head in WORDS.nothing_answers or head in WORDS.everything_answers):
        if says_more:  # "Nothing, the staff were great": what follows decides, if it takes a side
            following = again(rest or "", None)
            if label_for(following) is not Label.NEUTRAL:
                return following
        side = 1.0 if question is QuestionKind.PRAISE else -1.0
        if head in WORDS.everything_answers:
            return side * _EVERYTHING
        return _NOTHING_AFTER_PRAISE if question is QuestionKind.PRAISE else _NOTHING_AFTER_IMPROVE
    if head in more_non_answers and not says_more:
        return 0.0  # cv-sentiment-3: "Nothing" to "Any other comments?", "Fine", "OK": no opinion given
    return None


def _polarity_of_odds(logits: list[float], question: QuestionKind | None) -> float:
    """A model's class log-odds as a polarity, the question asked shifting them (both model versions)."""
    if question is QuestionKind.IMPROVE:
        logits[0] += _QUESTION_SHIFT
        logits[2] -= _QUESTION_SHIFT
    elif question is QuestionKind.PRAISE:
        logits[0] -= _QUESTION_SHIFT
        logits[2] += _QUESTION_SHIFT
    negative, neutral, positive = probabilities(logits)
    lean = positive - negative
    if neutral >= negative and neutral >= positive:
        return NEUTRAL_BAND * lean  # neutral, leaning as the odds do (a forced choice reads the sign)
    sign = 1.0 if lean > 0 else -1.0
    return sign * (NEUTRAL_BAND + 1e-6 + (1.0 - NEUTRAL_BAND - 1e-6) * abs(lean))


def _model_polarity(
    text: str, question: QuestionKind | None, tokens: tuple[list[str], list[bool] | None] | None = None
) -> float:
    ruled = _short_answer_polarity(text, question, _model_polarity)
    if ruled is not None:
        return ruled
    if not has_words(text):
        return 0.0
    return _polarity_of_odds(_model().logits(features_of(*tokens) if tokens is not None else features(text)), question)


# --- cv-sentiment-3 ---------------------------------------------------------------------------------------

# Added to the neutral log-odds before the labels are compared: the neutral band's calibration, chosen by
# cross-validation on the first 70% of the airline tweets (bench/sentiment_train.py --select).
_V3_NEUTRAL_BIAS: Final = 0.0


@functools.cache
def _model_v3() -> LinearModel:
    return LinearModel.load(MODEL_FILE_V3, DENSE_FEATURES_V3)


def _v3_polarity(
    text: str, question: QuestionKind | None, tokens: tuple[list[str], list[bool] | None] | None = None
) -> float:
    ruled = _short_answer_polarity(text, question, _v3_polarity, WORDS.v3_non_answers)
    if ruled is not None:
        return ruled
    if not has_words(text):
        return 0.0
    found = features_of_v3(*(tokens if tokens is not None else tokenise(text)))
    return v3_polarity_of(found, question)


def v3_polarity_of(found: Features, question: QuestionKind | None) -> float:
    """`cv-sentiment-3`'s polarity of what its model reads of a comment, the question shifting the odds."""
    logits = _model_v3().summed_logits(found)
    logits[1] += _V3_NEUTRAL_BIAS
    return _polarity_of_odds(logits, question)


__all__ = [
    "NEUTRAL_BAND",
    "SCORER_VERSION",
    "V1",
    "V2",
    "V3",
    "VERSIONS",
    "Label",
    "QuestionKind",
    "Sentiment",
    "UnknownScorerVersion",
    "label_for",
    "looks_welsh",
    "question_kind",
    "score",
]
