"""The polarity of a comment by rule (`cv-sentiment-1`): TextBlob's lexicon plus the word lists of the data file,
read word by word with negation scope, intensifiers and downtoners, "but" clauses, emphasis (capitals, "!"),
emoji and emoticons, wishes and questions. Pure: nothing is read or written while scoring, nothing raises.

`polarity` runs a `Reading` of the tokens; each token goes through a few named steps: a mark closes a sentence
or a clause (`close`), a word no list knows only uses up scopes (`pass_over`), and a sentiment-bearing word or
phrase gets its value (`phrase`, `function_word`, `word_value`) and is then read in its context (`add`).
`verdict` is the weighted mean of what was added.
"""

from __future__ import annotations

import math
from typing import Final

from feedback.sentiment.lexicon import LEXICON, PHRASE_START, WORDS
from feedback.sentiment.tokens import tokenise

# Weights and factors were set by hand from the literature and reading comments, then checked by
# leave-one-file-out cross-validation on the shared evaluation data (fitting them gained nothing held out).

_NEGATION_SCOPE: Final = 3  # words after the negation that it can reach
# "not good" is clearly bad; "not bad" is only mildly good (Hutto & Gilbert 2014 report the same asymmetry).
_NEGATED_POSITIVE: Final = -0.75
_NEGATED_NEGATIVE: Final = -0.5
# A clause that opens with "don't" gives advice: "Don't waste your money" stays a warning.
_IMPERATIVE_NEGATORS: Final = frozenset(("don't", "dont"))
# "never been so rude", "couldn't have been more helpful": the negation stresses rather than reverses.
_EMPHATIC: Final = frozenset(("so", "such", "more"))
# The negation belongs to the wish, not to what follows: "I don't want to complain, but ..."
_WANT: Final = frozenset(("want", "wanted", "wanna"))
_FAILED: Final = -0.4  # a failure verb or noun under negation: "never arrived", "no support"

# Praise inside a wish, a condition or an expectation is not praise: "it would be nice if", "if you want
# good service", "I expected better". "if", "unless" and "unfortunately" reach the end of the clause.
_TO_CLAUSE_END: Final = frozenset(("if", "unless", "unfortunately", "sadly", "regrettably"))
_HYPOTHETICAL_SCOPE: Final = 3
_HYPOTHETICAL_POSITIVE: Final = 0.0
_WISHED_FOR_MORE: Final = -0.5  # a wish for more of something good criticises: "should be more helpful"
# Conventional ways of praising, not wishes: "I would recommend", "I'd like to thank Sam".
_ASSERTED_EVEN_IF_HYPOTHETICAL: Final = frozenset(("recommend", "recommended", "thank", "thanks"))

_CONTRAST: Final = frozenset(("but", "however", "nevertheless", "nonetheless", "yet"))
_BEFORE_CONTRAST: Final = 0.5  # weight of what came before "but" in the sentence
_AFTER_CONTRAST: Final = 1.5
_CONCESSIVE: Final = frozenset(("although", "though", "despite", "whilst"))
_CONCESSIVE_WEIGHT: Final = 0.5  # "Although the website was confusing, ..."

# "very very very good" stops growing somewhere
_MOST_BOOST: Final = 2.0
_LEAST_BOOST: Final = 0.25
_CAPS_BOOST: Final = 1.3  # "VERY rude", when the rest of the comment is not in capitals
_EXCLAMATION_STEP: Final = 0.15  # per "!", up to three
_QUESTION_POSITIVE: Final = 0.0  # "Is there a good time to call?" asks; it does not praise
_WHY_QUESTION: Final = -0.3  # "Why did nobody call me back?" complains
_EXASPERATED: Final = -0.2  # "??"
_NEVER_AGAIN: Final = -0.6  # "I will never use this service again", "won't be using you again"
_NEVER_AGAIN_OPENERS: Final = frozenset(("never", "won't", "wont"))
_STILL_NOT: Final = -0.3  # "still no reply", "still haven't heard"
# "Will order from them again!", "would use the service again": coming back is a verdict.
_RETURNING: Final = 0.4
_FUTURE: Final = frozenset(("will", "shall", "i'll", "we'll", "would", "i'd", "we'd"))

# "waited for 2 hours", "took over a week": a wait worth mentioning; "within 10 minutes": a quick one.
_LONG_WAIT: Final = -0.3
_QUICK: Final = 0.3
_UNIT_SUFFIXES: Final = ("hrs", "hr", "hours", "hour", "mins", "min", "minutes", "days", "weeks")  # "40mins"

# Words whose sense depends on their neighbours.
_LIKE: Final = 0.4  # "I like", "we really liked"; not "would like to", "felt like"
_WELL_NOT_PRAISE: Final = frozenset(("as", "oh", "and", "well"))  # "as well", "oh well"
_DEPENDS_ON_NEIGHBOURS: Final = frozenset(("well", "rubbish", "fine"))
THANKS: Final = frozenset(("thank", "thanks", "thx", "thankyou"))

_SENTENCE_END: Final = frozenset(".!?\u2026")
_CLAUSE_END: Final = frozenset(",;:()\u2013\u2014-")
_END: Final = "."

# What each function word does, looked up once per word (most words are none of these).
_CONTRAST_WORD, _CONCESSIVE_WORD, _INTENSIFIER, _NEGATOR, _HYPOTHETICAL_WORD, _WANT_WORD = range(6)
_WHY, _AGAIN, _STILL, _ENOUGH, _TIME_UNIT, _LIKE_WORD, _OR, _WILL, _PATRONAGE_VERB = range(6, 15)
_FUNCTION_WORDS: Final[dict[str, int]] = {
    **dict.fromkeys(WORDS.hypothetical, _HYPOTHETICAL_WORD),
    **dict.fromkeys(_WANT, _WANT_WORD),
    **dict.fromkeys(WORDS.time_units, _TIME_UNIT),
    **dict.fromkeys(WORDS.patronage, _PATRONAGE_VERB),
    **dict.fromkeys(("will", "shall", "i'll", "we'll"), _WILL),
    **dict.fromkeys(_CONTRAST, _CONTRAST_WORD),
    **dict.fromkeys(_CONCESSIVE, _CONCESSIVE_WORD),
    **dict.fromkeys(WORDS.intensifiers, _INTENSIFIER),
    **dict.fromkeys(WORDS.negators, _NEGATOR),
    "why": _WHY,
    "again": _AGAIN,
    "still": _STILL,
    "enough": _ENOUGH,
    "like": _LIKE_WORD,
    "or": _OR,
}
# Every word the scorer does something with; any other word only counts towards the scopes.
KNOWN_WORDS: Final = frozenset((*LEXICON, *_FUNCTION_WORDS, *PHRASE_START, *WORDS.fails_when_negated))

_CONSUMED: Final = object()  # a step used the word up: it adds no value of its own


def polarity(text: str) -> float:
    """Weighted mean of the sentiment-bearing words and phrases of ``text``, in [-1, 1]."""
    tokens, emphasised = tokenise(text)
    if not tokens:
        return 0.0
    tokens.append(_END)  # so that the last sentence is closed like every other
    return Reading(tokens, emphasised).verdict()


def not_a_verdict(word: str, previous: str, following: str, sentence_words: int, clause_words: int) -> bool:
    """Whether "well", "rubbish" or "fine" is used here in a sense that says nothing about the service."""
    if word == "well":  # "Well, ...", "as well", "well over an hour"
        return sentence_words == 1 or previous in _WELL_NOT_PRAISE or following in WORDS.well_as_degree
    if word == "rubbish":  # "my rubbish wasn't collected" but "absolutely rubbish", "Rubbish service!"
        verdict = (
            previous in WORDS.verdict_before
            or previous.endswith("'s")
            or (clause_words == 1 and following not in WORDS.refuse_after)
        )
        return not verdict
    return previous in WORDS.fine_as_penalty_after  # "a parking fine"


class Reading:
    """One pass over the tokens of a comment, with the state of its current sentence and clause."""

    __slots__ = (
        "asserted",
        "boost",
        "boost_left",
        "clause_words",
        "comparative",
        "concessive",
        "contrast_start",
        "contrast_weight",
        "emphasised",
        "emphatic",
        "formulaic_thanks",
        "future",
        "hypothetical",
        "i",
        "imperative",
        "negated_at",
        "negated_from",
        "negation",
        "negation_or",
        "never",
        "patronage",
        "previous_sentence_start",
        "sentence_start",
        "sentence_words",
        "thanks_at",
        "thanks_window",
        "tokens",
        "values",
        "weights",
        "why",
        "why_opened",
    )

    def __init__(self, tokens: list[str], emphasised: list[bool] | None) -> None:
        self.tokens = tokens
        self.emphasised = emphasised
        self.i = 0  # index of the next token
        self.values: list[float] = []
        self.weights: list[float] = []
        self.formulaic_thanks: list[int] = []  # "Thanks." on its own: polite, or sarcastic after a complaint
        # sentence state
        self.sentence_start = 0  # index into values where the current sentence starts
        self.previous_sentence_start = 0
        self.sentence_words = 0
        self.contrast_weight = 1.0  # 1.5 after "but"
        self.contrast_start = 0  # what a "but" outweighs: the sentence so far, or the part since the last "but"
        self.why = False
        self.why_opened = False  # "why" opened the sentence
        self.never = False  # "never" / "won't" seen: a later "again" completes "never ... again"
        self.future = False  # "will" / "would" seen
        self.patronage = False  # ... then "use", "order", "come": a later "again" completes "will use again"
        # clause state
        self.clause_words = 0
        self.concessive = False
        self.negation = 0  # words of negation scope left
        self.imperative = False
        self.emphatic = False
        self.negation_or = False  # "or"/"nor" hands a used negation on: "not friendly or helpful"
        self.negated_at = -1  # the last negated value, which "enough" restores: "can't thank you enough"
        self.negated_from = 0.0
        self.hypothetical = 0  # words of wish/condition scope left
        self.comparative = False  # "should be more helpful"
        self.boost = 1.0
        self.boost_left = 0
        self.thanks_at = -1  # "thanks for ..." directly followed by something bad is sarcasm
        self.thanks_window = 0
        self.asserted = False  # the current value is exempt from the weakening of wishes and conditions

    def verdict(self) -> float:
        """Read every token, then the weighted mean of the values found, in [-1, 1]."""
        tokens = self.tokens
        count = len(tokens)
        known = KNOWN_WORDS
        while self.i < count:
            word = tokens[self.i]
            self.i += 1
            first = word[0]
            if not first.isalnum():
                self.close(word, first)
                continue
            self.clause_words += 1
            self.sentence_words += 1
            if word not in known and not word.endswith("n't") and not first.isdigit():
                self.pass_over(word)  # most words carry no sentiment
                continue
            self.asserted = False
            value = self.phrase(word)
            if value is None:
                value = self.function_word(word, first)
            if value is None:
                value = self.word_value(word)
            if value is not _CONSUMED:
                self.add(word, value)  # type: ignore[arg-type]
        return self.mean()

    def close(self, mark: str, first: str) -> None:
        """An emoticon or emoji adds its value; a mark ends the sentence or the clause and its scopes."""
        values = self.values
        symbol = WORDS.symbols.get(mark)
        if symbol is not None:
            values.append(symbol)
            self.weights.append(self.contrast_weight)
            return
        if first in _SENTENCE_END:
            if first == "!":
                factor = 1.0 + _EXCLAMATION_STEP * min(len(mark), 3)
                for k in range(self.sentence_start, len(values)):
                    values[k] *= factor
            elif first == "?":
                for k in range(self.sentence_start, len(values)):
                    if values[k] > 0:
                        values[k] *= _QUESTION_POSITIVE
                if len(mark) > 1:
                    values.append(_EXASPERATED)
                    self.weights.append(self.contrast_weight)
            if self.why and (first == "?" or self.why_opened):
                values.append(_WHY_QUESTION)
                self.weights.append(self.contrast_weight)
            if (
                len(values) == self.sentence_start + 1
                and values[-1] > 0
                and self.sentence_words <= 3
                and self.tokens[self.i - 1 - self.sentence_words] in THANKS
            ):
                self.formulaic_thanks.append(self.sentence_start)
            self.previous_sentence_start = self.sentence_start
            self.sentence_start = self.contrast_start = len(values)
            self.sentence_words = 0
            self.contrast_weight = 1.0
            self.why = self.why_opened = self.never = self.future = self.patronage = False
        elif first not in _CLAUSE_END:
            return
        self.clause_words = 0
        self.concessive = self.imperative = self.emphatic = self.negation_or = self.comparative = False
        self.negation = self.hypothetical = self.boost_left = self.thanks_window = 0
        self.negated_at = -1

    def pass_over(self, word: str) -> None:
        """A word with no sentiment uses up the scope of what came before (unless scopes pass over it)."""
        if word not in WORDS.scope_transparent:
            self.negation_or = False
            if self.negation:
                self.negation -= 1
            if self.hypothetical:
                self.hypothetical -= 1
            if self.thanks_window:
                self.thanks_window -= 1
        if self.boost_left:
            self.boost_left -= 1

    def phrase(self, word: str) -> float | object | None:
        """A multi-word expression starting at ``word``: its polarity, or its effect on what follows."""
        phrases = PHRASE_START.get(word)
        if phrases is None:
            return None
        tokens, i = self.tokens, self.i
        for phrase in phrases:
            rest = phrase.rest
            if tokens[i : i + len(rest)] != rest:
                continue
            self.i += len(rest)
            self.sentence_words += len(rest)
            kind = phrase.kind
            if kind == "pol":
                return phrase.value
            if kind == "mod":
                self.boost = min(self.boost * phrase.value, _MOST_BOOST) if self.boost_left else phrase.value
                self.boost_left = 2
            elif kind == "neg":
                self.negation = _NEGATION_SCOPE
            elif kind == "at best":
                values = self.values
                if len(values) > self.sentence_start and values[-1] > 0:
                    values[-1] *= -0.5
                else:
                    return phrase.value
            return _CONSUMED
        return None

    def function_word(self, word: str, first: str) -> float | object | None:
        """What a negation, intensifier, contrast, wish, "why", "again", "still", "enough", a time unit,
        "like" or "or" does: change the state for the words after it, or add a value of its own."""
        role = _FUNCTION_WORDS.get(word)
        if role is None:
            if word.endswith("n't"):
                role = _NEGATOR
            elif first.isdigit() and word.endswith(_UNIT_SUFFIXES):  # "40mins"
                role = _TIME_UNIT
            else:
                return None
        tokens, i = self.tokens, self.i
        if role == _NEGATOR:
            self.negation = _NEGATION_SCOPE
            self.imperative = (self.clause_words == 1 and word in _IMPERATIVE_NEGATORS) or (
                self.clause_words == 2 and word == "not" and tokens[i - 2] == "do"
            )
            self.emphatic = False
            self.never = self.never or word in _NEVER_AGAIN_OPENERS or (word == "not" and tokens[i - 2] == "will")
            return _CONSUMED
        if role == _INTENSIFIER:
            factor = WORDS.intensifiers[word]
            if factor > 1.0 and self.emphasised is not None and self.emphasised[i - 1]:
                factor *= _CAPS_BOOST  # "VERY rude"
            self.boost = max(_LEAST_BOOST, min(self.boost * factor, _MOST_BOOST)) if self.boost_left else factor
            self.boost_left = 2
            if word in _EMPHATIC:
                self.emphatic = self.negation > 0
                self.comparative = self.comparative or (word == "more" and self.hypothetical > 0)
            return _CONSUMED
        if role == _CONTRAST_WORD:
            if word == "yet" and self.sentence_words == 1:
                return None
            # "But ..." opening a sentence outweighs the sentence before
            values = self.values
            start = self.previous_sentence_start if len(values) == self.sentence_start else self.contrast_start
            for k in range(start, len(values)):
                self.weights[k] *= _BEFORE_CONTRAST
            self.contrast_start = self.previous_sentence_start = len(values)
            self.contrast_weight = _AFTER_CONTRAST
            self.negation = self.hypothetical = 0
            self.concessive = False
            return _CONSUMED
        if role == _CONCESSIVE_WORD:
            self.concessive = True
            return _CONSUMED
        if role == _HYPOTHETICAL_WORD:
            self.hypothetical = len(tokens) if word in _TO_CLAUSE_END else _HYPOTHETICAL_SCOPE
            self.future = self.future or word in _FUTURE
            return None if word in LEXICON else _CONSUMED  # "unfortunately" is also negative itself
        if role == _WANT_WORD:
            self.negation = 0  # "I don't want to complain": the wish is negated, not the complaint
            return _CONSUMED
        if role == _WHY:
            self.why = True
            self.why_opened = self.why_opened or self.sentence_words == 1
            return _CONSUMED
        if role == _AGAIN:
            self.asserted = True
            if self.never:
                self.never = False
                self.negation = 0  # the "never" that opened it is already counted
                return _NEVER_AGAIN
            if self.patronage:
                self.patronage = False
                return _RETURNING
            return _CONSUMED
        if role == _WILL:
            self.future = True
            return _CONSUMED  # transparent to scopes, like the other auxiliaries
        if role == _PATRONAGE_VERB:
            self.patronage = self.patronage or self.future
            return None
        if role == _STILL:
            following = tokens[i]
            if following in WORDS.negators or following.endswith("n't"):  # "still no reply"
                self.asserted = True
                return _STILL_NOT
            return None
        if role == _ENOUGH:
            if self.negated_at >= 0:
                self.values[self.negated_at] = self.negated_from
                self.negated_at = -1
            return _CONSUMED
        if role == _TIME_UNIT:
            return self.wait(word)
        if role == _LIKE_WORD:
            if i >= 2 and tokens[i - 2] in WORDS.like_as_verb and tokens[i] != "to":
                return _LIKE
            return None
        # _OR: hands a negation already used on to the next word ("not friendly or helpful")
        if self.negation_or:
            self.negation = _NEGATION_SCOPE
            self.negation_or = False
            return _CONSUMED
        return None

    def wait(self, unit: str) -> float | None:
        """ "waited 40 minutes", "over a week": a long wait; "within 10 minutes": a quick answer."""
        tokens, i = self.tokens, self.i
        quantity_at = i - 2 if unit in WORDS.time_units else i - 1
        quantity = tokens[quantity_at] if quantity_at >= 0 else ""
        lead = tokens[quantity_at - 1] if quantity_at >= 1 else ""
        if unit in WORDS.time_units and not (quantity.isdigit() or quantity in WORDS.quantities):
            lead = ""
        if lead in WORDS.wait_leads:
            self.asserted = True
            return _LONG_WAIT
        if lead == "within":
            self.asserted = True
            return _QUICK
        return None

    def word_value(self, word: str) -> float | object:
        """The lexicon's polarity of a word, a failure under negation, or nothing (the word passes over)."""
        value = LEXICON.get(word)
        if value is None:
            if self.negation and word in WORDS.fails_when_negated:
                self.negation = 0
                self.asserted = True
                return _FAILED
            self.pass_over(word)
            return _CONSUMED
        if word in _DEPENDS_ON_NEIGHBOURS:
            tokens, i = self.tokens, self.i
            previous = tokens[i - 2] if i >= 2 else ""
            if not_a_verdict(word, previous, tokens[i], self.sentence_words, self.clause_words):
                return _CONSUMED
        elif word in _ASSERTED_EVEN_IF_HYPOTHETICAL:
            self.asserted = True
        return value

    def add(self, word: str, value: float) -> None:
        """Read a sentiment-bearing word or phrase in its context (boost, capitals, negation, wish, sarcastic
        thanks) and add it with the weight of its clause."""
        if self.boost_left:
            value *= self.boost
            self.boost_left = 0
        if self.emphasised is not None and self.emphasised[self.i - 1]:
            value *= _CAPS_BOOST
        values = self.values
        if self.negation:
            if self.emphatic:
                self.asserted = True
            elif not (self.imperative and value < 0):
                self.negated_at = len(values)
                self.negated_from = value
                value *= _NEGATED_POSITIVE if value > 0 else _NEGATED_NEGATIVE
                self.negation_or = True
            self.negation = 0
            self.emphatic = False
        if self.hypothetical and value > 0 and not self.asserted:
            # a wish for more of something good is a criticism: "staff should be more helpful"
            self.comparative = self.comparative or word == "better"
            value *= _WISHED_FOR_MORE if self.comparative else _HYPOTHETICAL_POSITIVE
        if value < 0 and self.thanks_window and values[self.thanks_at] > 0:
            values[self.thanks_at] = 0.0
        if word in THANKS:  # the window covers "for" (and "you") and the word after it
            tokens, i = self.tokens, self.i
            if tokens[i] == "for":
                self.thanks_at, self.thanks_window = len(values), 2
            elif tokens[i] == "you" and i + 1 < len(tokens) and tokens[i + 1] == "for":
                self.thanks_at, self.thanks_window = len(values), 3
        values.append(value)
        self.weights.append(self.contrast_weight * (_CONCESSIVE_WEIGHT if self.concessive else 1.0))

    def mean(self) -> float:
        """Weighted mean of the values, without a lone "Thanks." that follows a complaint (sarcasm)."""
        values, weights = self.values, self.weights
        if not values:
            return 0.0
        total = math.fsum(w * v for w, v in zip(weights, values, strict=True))
        if self.formulaic_thanks and total < 0:
            # "Lied to my face at the gate. Thanks." is not gratitude
            for k in self.formulaic_thanks:
                total -= weights[k] * values[k]
                values[k] = 0.0
        weight = math.fsum(weights)
        if not weight > 0.0:
            return 0.0
        return max(-1.0, min(1.0, total / weight))
