"""`cv-sentiment-2`: a linear model over words, word pairs and `cv-sentiment-1`'s reading of the comment.

The weights are trained offline by ``bench/sentiment_train.py`` (scikit-learn, only at training time) and
shipped as ``feedback/data/sentiment_model_v2.json``; scoring is a sum of weights in plain Python, so nothing
is downloaded, unpickled or imported beyond the standard library at run time.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from feedback.sentiment.lexicon import read_data_file
from feedback.sentiment.rules import Reading
from feedback.sentiment.tokens import tokenise

MODEL_FILE: Final = "sentiment_model_v2.json"
CLASSES: Final = ("negative", "neutral", "positive")
_START: Final = "<s>"
_END: Final = "."
# Marks that only separate: dropped from the n-grams ("!", "?", emoticons and emoji stay).
_SEPARATORS: Final = frozenset(".,;:()\u2013\u2014-\u2026")

# The lexicon features, in the order of the model file's "dense" weights.
DENSE_FEATURES: Final = (
    "rule_polarity",  # cv-sentiment-1's polarity of the text, question aside
    "rule_strength",  # its magnitude
    "rule_silent",  # 1 when no word of the text carries sentiment (most neutral comments)
    "rule_positive",  # sum of the positive values the rules found
    "rule_negative",  # sum of the negative values the rules found (as a positive number)
    "rule_values",  # log(1 + how many values the rules found)
    "question_mark",  # asks something
    "exclamation",  # exclaims
    "length",  # log(1 + words)
)


@dataclass(frozen=True, slots=True)
class Features:
    """What the model reads of a comment: sparse n-grams (present or not) and the dense lexicon features."""

    ngrams: frozenset[str]
    dense: tuple[float, ...]
    rule_polarity: float


def features(text: str) -> Features:
    """What the model reads of ``text`` (see `features_of`)."""
    return features_of(*tokenise(text))


def features_of(tokens: list[str], emphasised: list[bool] | None) -> Features:
    """From tokens by `cv-sentiment-1`'s tokeniser (links and @mentions dropped, hashtags split): their unigrams
    and adjacent pairs, and what the rules make of them."""
    grams: set[str] = set()
    previous = _START
    word_count = 0
    asks = exclaims = False
    for token in tokens:
        first = token[0]
        if first.isalnum():
            word_count += 1
        elif token in _SEPARATORS:
            continue
        elif first == "?":
            asks = True
        elif first == "!":
            exclaims = True
        grams.add(token)
        grams.add(f"{previous} {token}")
        previous = token
    if not tokens:
        return Features(frozenset(grams), (0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0), 0.0)
    reading = Reading([*tokens, _END], emphasised)
    polarity = reading.verdict()
    values = reading.values
    positive = math.fsum([v for v in values if v > 0])
    negative = -math.fsum([v for v in values if v < 0])
    dense = (
        polarity,
        abs(polarity),
        1.0 if polarity == 0.0 else 0.0,
        positive,
        negative,
        math.log1p(len(values)),
        1.0 if asks else 0.0,
        1.0 if exclaims else 0.0,
        math.log1p(word_count),
    )
    return Features(frozenset(grams), dense, polarity)


@dataclass(frozen=True, slots=True)
class LinearModel:
    """Multinomial logistic regression: one weight per class for each n-gram and each dense feature."""

    intercept: tuple[float, float, float]
    dense: tuple[tuple[float, float, float], ...]
    ngrams: dict[str, tuple[float, float, float]]

    @classmethod
    def load(cls, name: str = MODEL_FILE, dense_features: tuple[str, ...] = DENSE_FEATURES) -> LinearModel:
        """The weights of ``name`` in ``feedback/data``, which must list ``dense_features`` in that order."""
        document = read_data_file(name)
        if tuple(document["classes"]) != CLASSES or tuple(document["dense_features"]) != dense_features:
            raise ValueError(f"{name} does not match this code's classes and features")
        return cls(
            intercept=_triple(document["intercept"]),
            dense=tuple(_triple(weights) for weights in document["dense"]),
            ngrams={gram: _triple(weights) for gram, weights in document["ngrams"].items()},
        )

    def logits(self, found: Features) -> list[float]:
        """Unnormalised log-probabilities of negative, neutral and positive."""
        negative, neutral, positive = self.intercept
        for value, (w_negative, w_neutral, w_positive) in zip(found.dense, self.dense, strict=True):
            if value:
                negative += w_negative * value
                neutral += w_neutral * value
                positive += w_positive * value
        ngrams = self.ngrams
        for gram in found.ngrams:
            weights = ngrams.get(gram)
            if weights is not None:
                negative += weights[0]
                neutral += weights[1]
                positive += weights[2]
        return [negative, neutral, positive]

    def summed_logits(self, found: Features) -> list[float]:
        """`logits` with the n-gram weights summed column by column in C (`cv-sentiment-3`; the order of the
        additions differs from `logits`, which `cv-sentiment-2`'s pinned scores keep)."""
        negative, neutral, positive = self.intercept
        for value, (w_negative, w_neutral, w_positive) in zip(found.dense, self.dense, strict=True):
            if value:
                negative += w_negative * value
                neutral += w_neutral * value
                positive += w_positive * value
        weights = [weights for weights in map(self.ngrams.get, found.ngrams) if weights is not None]
        if weights:
            negatives, neutrals, positives = zip(*weights, strict=True)
            negative += sum(negatives)
            neutral += sum(neutrals)
            positive += sum(positives)
        return [negative, neutral, positive]


def probabilities(logits: Sequence[float]) -> list[float]:
    top = max(logits)
    exps = [math.exp(value - top) for value in logits]
    total = math.fsum(exps)
    return [value / total for value in exps]


def _triple(values: Sequence[float]) -> tuple[float, float, float]:
    negative, neutral, positive = (float(value) for value in values)
    return negative, neutral, positive
