"""`cv-sentiment-3`'s reading of a comment: `cv-sentiment-2`'s words, word pairs and rule features, plus features
meant to carry over to text unlike the training data (short council comments rather than reviews and tweets).

- negation scope: a word within three words after "not", "never", "no" or a "-n't" word is also read as
  ``!word`` ("not helpful" shares its weight with "never helpful", "wasn't helpful at all");
- contrast: the words of the clause after "but" are also read as ``>word`` (what follows "but" decides);
- lexicon classes: a word of the lexicon (TextBlob's, with our customer-service words) also counts as ``+lex`` or
  ``-lex`` (``+lex!`` / ``-lex!`` when negated), so a sentiment word the training data never saw still weighs;
- VADER's word valences (``feedback/data/sentiment_words_vader.json``, MIT licence) as classes of words
  (``+vad``, ``-vad``, ``++vad`` for strong ones, ``!`` when negated) and as a compound score;
- word stems (``~wait`` for "waited", "waiting", "waits"), so a form the training data lacks is still known;
- intensifiers before a sentiment word (``^+lex``, ``^-lex``), and the shape of short answers (dense features).

Weights: ``feedback/data/sentiment_model_v3.json``, trained by ``bench/sentiment_train.py --version 3``.
"""

from __future__ import annotations

import functools
import math
from typing import Final

from feedback.sentiment.lexicon import LEXICON, WORDS, read_data_file
from feedback.sentiment.model import DENSE_FEATURES, Features, features_of
from feedback.sentiment.tokens import tokenise

MODEL_FILE_V3: Final = "sentiment_model_v3.json"
DENSE_FEATURES_V3: Final = (
    *DENSE_FEATURES,
    "short",  # at most three words: "Fine", "Very good", "Answer the phone"
    "lexicon_words",  # log(1 + sentiment words of the lexicon)
    "vader",  # VADER's valences of the words summed (negated ones flipped and damped), squashed into (-1, 1)
)
VADER_FILE: Final = "sentiment_words_vader.json"
VADER: Final[dict[str, float]] = {word: float(value) for word, value in read_data_file(VADER_FILE)["words"].items()}
_STRONG: Final = 2.0  # a VADER valence at least this strong is "++vad" / "--vad"
_VADER_NEGATED: Final = -0.74  # VADER's own factor for a negated word
_VADER_ALPHA: Final = 15.0  # VADER's normalisation of a sum into (-1, 1)
NEGATION_SCOPE: Final = 3
# Tokens that end a negation's or a contrast's scope (besides every mark that is not a word).
_SCOPE_BREAK: Final = frozenset(("but", "and", "although", "though", "however", "yet"))
_CONTRAST: Final = frozenset(("but", "however", "although", "though", "yet"))
_SUFFIXES: Final = ("ingly", "edly", "ness", "ment", "ing", "ful", "ed", "ly", "es", "s")
_SHORT: Final = 3
_COMMA: Final = ","


@functools.lru_cache(maxsize=65_536)
def stem(word: str) -> str:
    """A crude stem: the first matching suffix off, keeping at least three letters ("waiting" -> "wait")."""
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            base = word[: -len(suffix)]
            if len(base) > 3 and base[-1] == base[-2] and base[-1] not in "aeiouls":  # "stopped" -> "stop"
                base = base[:-1]
            return base
    return word


def features_v3(text: str) -> Features:
    """What `cv-sentiment-3` reads of ``text``."""
    return features_of_v3(*tokenise(text))


# How a token takes part in the reading, worked out once per distinct token (see `_role`).
_MARK, _COMMA_MARK, _NEGATOR, _BREAK, _CONTRAST_BREAK, _INTENSIFIER, _WORD = range(7)
_ROLES: dict[str, tuple[int, str | None, str | None, float, str | None]] = {}
_MOST_ROLES: Final = 200_000  # the cache is cleared past this many distinct tokens


def _role(token: str) -> tuple[int, str | None, str | None, float, str | None]:
    """(role, lexicon class, VADER class, VADER valence, stem feature) of a token."""
    found = _ROLES.get(token)
    if found is not None:
        return found
    lexicon_mark = vader_mark = stem_gram = None
    valence = 0.0
    if not token[0].isalnum():
        role = _COMMA_MARK if token == _COMMA else _MARK
    elif token in WORDS.negators or token.endswith("n't"):
        role = _NEGATOR
    elif token in _SCOPE_BREAK:
        role = _CONTRAST_BREAK if token in _CONTRAST else _BREAK
    elif token in WORDS.intensifiers:
        role = _INTENSIFIER
    else:
        role = _WORD
        value = LEXICON.get(token)
        if value is not None:
            lexicon_mark = "+lex" if value > 0 else "-lex"
        vader = VADER.get(token)
        if vader is not None:
            valence = vader
            if vader > 0:
                vader_mark = "++vad" if vader >= _STRONG else "+vad"
            else:
                vader_mark = "--vad" if vader <= -_STRONG else "-vad"
        if token[0].isalpha():
            stem_gram = "~" + stem(token)
    found = (role, lexicon_mark, vader_mark, valence, stem_gram)
    if len(_ROLES) >= _MOST_ROLES:
        _ROLES.clear()
    _ROLES[token] = found
    return found


def features_of_v3(tokens: list[str], emphasised: list[bool] | None) -> Features:
    base = features_of(tokens, emphasised)
    grams = set(base.ngrams)
    add = grams.add
    negation = 0
    contrast = False
    boosted = False
    words = 0
    lexicon_words = 0
    vader = 0.0
    for token in tokens:
        role, lexicon_mark, vader_mark, valence, stem_gram = _ROLES.get(token) or _role(token)
        if role <= _COMMA_MARK:
            negation = 0
            contrast = contrast and role == _COMMA_MARK  # a comma does not end what "but" opened
            boosted = False
            continue
        words += 1
        if role == _NEGATOR:
            negation = NEGATION_SCOPE
            continue
        if role in (_BREAK, _CONTRAST_BREAK):
            negation = 0
            contrast = role == _CONTRAST_BREAK
            continue
        if role == _INTENSIFIER:
            boosted = True
            add("~" + token)
            continue
        if lexicon_mark is not None:
            lexicon_words += 1
            add(lexicon_mark + "!" if negation else lexicon_mark)
            if boosted and not negation:
                add("^" + lexicon_mark)
            if contrast:
                add(">" + lexicon_mark)
        if vader_mark is not None:
            add(vader_mark + "!" if negation else vader_mark)
            vader += valence * _VADER_NEGATED if negation else valence
        if negation:
            add("!" + token)
            negation -= 1
        if contrast:
            add(">" + token)
        boosted = False
        if stem_gram is not None:
            add(stem_gram)
    dense = (
        *base.dense,
        1.0 if 0 < words <= _SHORT else 0.0,
        math.log1p(lexicon_words),
        vader / math.sqrt(vader * vader + _VADER_ALPHA),
    )
    return Features(frozenset(grams), dense, base.rule_polarity)
