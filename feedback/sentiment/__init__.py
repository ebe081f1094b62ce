"""Question-aware sentiment of survey comments: a polarity in [-1, 1] and a label, by a named scorer version.

Every stored score records the version that produced it, and a version never changes once scores carry its
name: `cv-sentiment-1` (rules over TextBlob's lexicon, `rules.py`) stays available exactly as it was.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from feedback.sentiment import rules
from feedback.sentiment.answers import QuestionKind, answer_polarity, question_kind

V1: Final = "cv-sentiment-1"
VERSIONS: Final = (V1,)
# The version new scores are made with.
SCORER_VERSION: Final = V1

# A polarity whose magnitude is at most this is neutral (the cut VADER uses for its compound score).
NEUTRAL_BAND: Final = 0.05


class Label(StrEnum):
    POSITIVE = "positive"
    NEUTRAL = "neutral"
    NEGATIVE = "negative"


class UnknownScorerVersion(ValueError):
    """A scorer version this code does not have."""


@dataclass(frozen=True, slots=True)
class Sentiment:
    polarity: float  # -1.0 (negative) .. 1.0 (positive)
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


def _stored(polarity: float) -> float:
    if not -1.0 <= polarity <= 1.0:  # also catches NaN, which a stored score must never be
        polarity = 0.0
    return round(polarity, 6) + 0.0  # + 0.0 turns -0.0 into 0.0


def score(text: str, *, question: QuestionKind | None = None, version: str = SCORER_VERSION) -> Sentiment:
    """Score a free-text comment; ``question`` is the kind of question it answers, when known."""
    if not isinstance(text, str):
        text = "" if text is None else str(text)
    if version != V1:
        raise UnknownScorerVersion(f"unknown scorer version {version!r}; known: {', '.join(VERSIONS)}")
    if question is QuestionKind.IMPROVE or question is QuestionKind.PRAISE:
        polarity = answer_polarity(text, question, rules.polarity)
    else:
        polarity = rules.polarity(text)
    polarity = _stored(polarity)
    return Sentiment(polarity=polarity, label=label_for(polarity), scorer_version=V1)


__all__ = [
    "NEUTRAL_BAND",
    "SCORER_VERSION",
    "VERSIONS",
    "Label",
    "QuestionKind",
    "Sentiment",
    "UnknownScorerVersion",
    "label_for",
    "question_kind",
    "score",
]
