"""Comments into lower-cased tokens: words, hashtags split into words, emoticons, emoji and the marks that end a
sentence or a clause, with which words were written in capitals for emphasis."""

from __future__ import annotations

import functools
import html
import math
import re
from pathlib import Path
from typing import Final

from feedback.sentiment.lexicon import LEXICON

NOISE_RE: Final = re.compile(r"https?://\S*|www\.\S+|@\w+", re.IGNORECASE)  # links and @mentions
TOKEN_RE: Final = re.compile(
    r"(?<![\w:;=])(?:>?[:;=]['\-]?[()\[\]dDpP/\\sS]|</?3|[xX][dD])(?![\w)(])"  # emoticons
    r"|#[^\W_]+"  # hashtags: "#neveragain", "#badservice"
    r"|[^\W_]+(?:['\-][^\W_]+)*"  # words, with inner apostrophes and hyphens
    r"|!+|\?+|[.,;:\u2026()\u2013\u2014]|(?<=\s)-(?=\s)"  # marks that end a sentence or a clause
    r"|[\U0001F300-\U0001FAFF\u2600-\u27BF\u2B50]"  # emoji (skin tones and joiners are dropped)
)
_ELONGATED_RE: Final = re.compile(r"([^\W\d_])\1{2,}")
_CAPITALS_RE: Final = re.compile(r"[A-Z][-.]?[A-Z]")
APOSTROPHE: Final = "\u2019"  # typographic apostrophe, read as "'"
_LONGEST_HASHTAG: Final = 60
_LONGEST_WORD: Final = 20
_LETTERS_RE: Final = re.compile(r"[^\W\d_]+")


def tokenise(text: str) -> tuple[list[str], list[bool] | None]:
    """Lower-cased tokens and, when any word is in capitals, which ones were written so for emphasis."""
    if "&" in text:
        text = html.unescape(text)
    if APOSTROPHE in text:
        text = text.replace(APOSTROPHE, "'")
    low = text.lower()
    if "@" in low or "http" in low or "www." in low:
        text = NOISE_RE.sub(" ", text)
        low = text.lower()
    if _ELONGATED_RE.search(low):
        text = _ELONGATED_RE.sub(r"\1\1", text)  # "sooooo goooood" -> "soo good"
        low = text.lower()
    tokens: list[str] = TOKEN_RE.findall(low)
    emphasised: list[bool] | None = None
    if _CAPITALS_RE.search(text) and not text.isupper():  # a comment all in capitals stresses nothing
        original = TOKEN_RE.findall(text)
        if len(original) == len(tokens):
            emphasised = [len(token) > 1 and token.isupper() for token in original]
    if "#" in low or "-" in low:
        tokens, emphasised = _split_compounds(tokens, emphasised)
    return tokens, emphasised


def _split_compounds(tokens: list[str], emphasised: list[bool] | None) -> tuple[list[str], list[bool] | None]:
    """Hashtags into words ("#neveragain"), hyphenated words into parts unless the lexicon knows them."""
    split: list[str] = []
    flags: list[bool] = []
    for at, token in enumerate(tokens):
        if token[0] == "#":
            parts = _hashtag_words(token[1:])
        elif "-" in token and len(token) > 1 and token not in LEXICON:
            joined = token.replace("-", "")
            parts = [joined] if joined in LEXICON else token.split("-")  # "over-priced", "slow-moving"
        else:
            parts = [token]
        split.extend(parts)
        flags.extend([emphasised[at] if emphasised is not None else False] * len(parts))
    return split, (flags if emphasised is not None else None)


def _hashtag_words(tag: str) -> list[str]:
    """Split a hashtag into words: "unitedsucks" -> ["united", "sucks"], "nothappy" -> ["not", "happy"]."""
    if tag in LEXICON or len(tag) > _LONGEST_HASHTAG:
        return [tag]
    found: list[str] = []
    for run in _LETTERS_RE.findall(tag):
        found.extend(_segment(run))
    return found


@functools.cache
def _word_costs() -> tuple[dict[str, float], float]:
    """-log P(word) from the word counts TextBlob ships for its spelling corrector (Norvig's big.txt), and
    the cost of one letter that belongs to no known word. Read on the first hashtag, then kept."""
    import textblob.en  # type: ignore[import-untyped]

    counts: dict[str, float] = {}
    with Path(textblob.en.__file__).with_name("en-spelling.txt").open(encoding="utf-8") as lines:
        for line in lines:
            word, _, count = line.partition(" ")
            if word.isalpha() and count.strip().isdigit():
                counts[word] = float(count)
    for word in LEXICON:  # sentiment words missing from the spelling list must still be found
        counts.setdefault(word, 1.0)
    total = sum(counts.values())
    costs = {word: math.log(total / count) for word, count in counts.items()}
    return costs, math.log(10.0) + max(costs.values())


def _segment(run: str) -> list[str]:
    """The most likely split of a run of letters into words (a unigram model, as in Norvig's segmenter)."""
    costs, unknown = _word_costs()
    n = len(run)
    best = [0.0] + [math.inf] * n
    start_of = [0] * (n + 1)
    for end in range(1, n + 1):
        for start in range(max(0, end - _LONGEST_WORD), end):
            cost = costs.get(run[start:end])
            total = best[start] + (unknown * (end - start) if cost is None else cost)
            if total < best[end]:
                best[end] = total
                start_of[end] = start
    pieces: list[str] = []
    end = n
    while end > 0:
        pieces.append(run[start_of[end] : end])
        end = start_of[end]
    pieces.reverse()
    return pieces
