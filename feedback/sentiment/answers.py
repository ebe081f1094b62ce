"""Answers read against the question asked: "Nothing" praises after "What could we do better?" and complains
after "What went well?"; an answer with no sentiment words takes the question's side."""

from __future__ import annotations

import re
from collections.abc import Callable
from enum import StrEnum
from typing import Final

from feedback.sentiment.lexicon import WORDS
from feedback.sentiment.tokens import APOSTROPHE


class QuestionKind(StrEnum):
    IMPROVE = "improve"  # "What could we do better?"
    PRAISE = "praise"  # "What went well?"
    GENERAL = "general"  # anything else ("Any other comments?")


_ANSWER_PARTS_RE: Final = re.compile(r"[.,;:!?()\-\u2013\u2014]+")
_ANSWER_NOISE_RE: Final = re.compile(r"[^\w\s']+")
LONGEST_SHORT_ANSWER: Final = 200

_NOTHING_AFTER_IMPROVE: Final = 0.3
_NOTHING_AFTER_PRAISE: Final = -0.4
_EVERYTHING: Final = 0.6  # "Everything!" is praise after "What went well?", a complaint after "... better?"
# An answer with no sentiment words takes the question's side: after "What went well?", "The staff" names
# what went well; after "What could we do better?", "Answer the phone" names something that fell short.
NEUTRAL_ANSWER: Final = 0.15


def normalised_answer(text: str) -> str:
    """Lower-cased, without punctuation ("N/A" -> "n a"), single-spaced: how short answers are compared."""
    text = text.replace(APOSTROPHE, "'").lower().replace("n/a", "n a")
    return " ".join(_ANSWER_NOISE_RE.sub(" ", text).split())


def short_answer(text: str) -> tuple[str, str | None] | None:
    """A short answer's first part, normalised, and what follows it ("Nothing, the staff were great")."""
    if len(text) > LONGEST_SHORT_ANSWER:
        return None
    head, *rest = _ANSWER_PARTS_RE.split(text.replace("n/a", "n a").replace("N/A", "n a"), maxsplit=1)
    return normalised_answer(head), (rest[0] if rest else None)


_ALPHANUMERIC_RE: Final = re.compile(r"[^\W_]")  # exactly the characters str.isalnum() accepts


def has_words(text: str) -> bool:
    return _ALPHANUMERIC_RE.search(text) is not None


def answer_polarity(text: str, question: QuestionKind, polarity: Callable[[str], float]) -> float:
    """Polarity of an answer to a question of known kind (improve or praise), reading the words with
    ``polarity``; this is `cv-sentiment-1`'s reading."""
    side = 1.0 if question is QuestionKind.PRAISE else -1.0
    answer = short_answer(text)
    if answer is not None:
        head, rest = answer
        if head in WORDS.nothing_answers or head in WORDS.everything_answers:
            # "Nothing, the staff were great": what follows, if it says anything, decides.
            following = polarity(rest) if rest is not None else 0.0
            if following != 0.0:
                return following
            if head in WORDS.everything_answers:
                return side * _EVERYTHING
            return _NOTHING_AFTER_PRAISE if question is QuestionKind.PRAISE else _NOTHING_AFTER_IMPROVE
    value = polarity(text)
    if value == 0.0 and has_words(text):
        return side * NEUTRAL_ANSWER
    return value


# Questions that ask what went badly: "What could we do better?", "What did you not like?"
_IMPROVE_RE: Final = re.compile(
    r"\b(?:better|improve\w*|change\w*|wrong|differently|worse|worst|dislik\w*|least|suggest\w*|"
    r"disappoint\w*|frustrat\w*)\b"
)
_NEGATED_PRAISE_RE: Final = re.compile(
    r"\b(?:least|worst|dislik\w*)\b|"
    r"\b(?:not|n't|didn't|did not)\s+(?:\w+\s+)?(?:like|enjoy|go well|work well|good|happy|satisf\w*)\b"
)
# Questions that ask what went well: "What went well?", "What did you like?", "What was best?"
_PRAISE_RE: Final = re.compile(
    r"\b(?:well|good|great|like[ds]?|best|enjoy\w*|pleased|positive|helpful|happy|satisf\w*)\b"
)
_REQUEST_RE: Final = re.compile(r"\b(?:would|'d) like\b")


def question_kind(question_text: str) -> QuestionKind:
    """Map free question text ("What could we do better?") to the kind of answer it invites."""
    text = _REQUEST_RE.sub(" ", str(question_text).lower().replace(APOSTROPHE, "'"))
    if _NEGATED_PRAISE_RE.search(text):
        return QuestionKind.IMPROVE
    improve = _IMPROVE_RE.search(text) is not None
    praise = _PRAISE_RE.search(text) is not None
    if improve and not praise:
        return QuestionKind.IMPROVE
    if praise and not improve:
        return QuestionKind.PRAISE
    return QuestionKind.GENERAL  # neither, or both ("What went well, and what could be better?")
