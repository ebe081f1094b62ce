"""Reading a text-message reply to a question asked by SMS: pure, no I/O.

"4", "4 thanks", "4/5", "Four", "  5!" answer the question; "STOP" (and the other words UK networks and
Notify treat as an opt-out) opts the person out; anything else is not understood. A reply is never stored: only
the number it gave, against the question asked.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Final

_OPT_OUT: Final = frozenset({"stop", "stopall", "unsubscribe", "cancel", "end", "quit", "optout", "opt-out"})
_WORDS: Final = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5}
# A number at the start, alone or followed by something that is not another digit ("4 thanks", "4/5", "4.").
_LEADING_NUMBER = re.compile(r"^(?P<number>\d+)(?:\s*(?:/|out of)\s*(?P<of>\d+))?(?P<rest>\D.*)?$", re.DOTALL)


@dataclass(frozen=True)
class Rating:
    value: int


@dataclass(frozen=True)
class OptOut:
    pass


@dataclass(frozen=True)
class Unclear:
    pass


ReplyMeaning = Rating | OptOut | Unclear


def read_reply(text: str, *, low: int = 1, high: int = 5) -> ReplyMeaning:
    """What a reply means for a question answered ``low`` to ``high``."""
    cleaned = unicodedata.normalize("NFKC", text).strip().lower()
    if not cleaned or len(cleaned) > 640:
        return Unclear()
    first = re.split(r"[\s.,!]+", cleaned, maxsplit=1)[0]
    if first in _OPT_OUT or cleaned.replace(" ", "") in _OPT_OUT:
        return OptOut()
    match = _LEADING_NUMBER.match(cleaned)
    if match is not None:
        if match["of"] is not None and int(match["of"]) != high:
            return Unclear()
        value = int(match["number"])
        # "4 5" or "3-4" gives two answers: not understood, rather than guessing which one was meant.
        rest = match["rest"] or ""
        if re.match(r"^\s*[-\u2013,.]?\s*\d", rest):
            return Unclear()
        return Rating(value) if low <= value <= high else Unclear()
    word = _WORDS.get(first)
    if word is not None and low <= word <= high:
        return Rating(word)
    return Unclear()
