"""Question-aware sentiment of survey comments: a polarity in [-1, 1] and a label.

TextBlob's own lexicon (``textblob/en/en-sentiment.xml``) is the base. On top of it: a small hand-written
customer-service vocabulary, a fast tokeniser, negation scope, intensifiers and downtoners, "but" clauses,
emphasis (capitals, "!"), emoji and emoticons, wishes and questions, and answers read against the question
asked. Pure: the lexicon is loaded once at import, nothing is read or written while scoring, nothing raises.
"""

from __future__ import annotations

import functools
import html
import math
import re
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Final

# Bump whenever a change can move a score: every stored score records the version that produced it.
SCORER_VERSION: Final = "cv-sentiment-1"

# A polarity whose magnitude is at most this is neutral (the cut VADER uses for its compound score).
NEUTRAL_BAND: Final = 0.05


class Label(StrEnum):
    POSITIVE = "positive"
    NEUTRAL = "neutral"
    NEGATIVE = "negative"


class QuestionKind(StrEnum):
    IMPROVE = "improve"  # "What could we do better?"
    PRAISE = "praise"  # "What went well?"
    GENERAL = "general"  # anything else ("Any other comments?")


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


def _word_set(text: str) -> frozenset[str]:
    """A set of words written as one string, which is how the word lists below read best."""
    return frozenset(text.split())


# --- Vocabulary -----------------------------------------------------------------------------------------
# Polarities are on TextBlob's scale (-1 .. 1). Every entry is a word or phrase a resident might use about
# a contact with a council, or any service desk; none was fitted to the evaluation data.

# fmt: off

# Words in TextBlob's lexicon that, in comments about a service, describe quantity, order, place, time,
# price, colour or the resident ("more", "first", "next", "back", "free", "disabled") rather than how it went,
# or whose lexicon sense is not the everyday one ("fly" = stylish, "chicken" = cowardly, "game" = willing,
# "mean" as in "I mean", "waste" as in "garden waste"). Scoring them only adds noise.
_NOT_EVALUATIVE: Final = _word_set("""
    more most many much few less least little enough only same other own whole full half entire several
    single total complete absolute extra first second third last next past previous final early earlier
    current future new old original originally back down left right far sure certain possible actual real
    big large huge small high low main major direct open closed available free cheap live ready following
    middle outside above round due center centre international domestic american social human black white
    red blue green fly chicken game mean sound light kind experienced spent expected confirmed attendant
    frequent usually apparently obviously simply actually definitely certainly currently clearly exactly
    waste vulnerable disabled mental empty
""")

# Additions to, and corrections of, TextBlob's lexicon.
_CUSTOMER_SERVICE: Final[dict[str, float]] = {
    # thanks, and praise for people and for how it went
    "thank": 0.5, "thanks": 0.5, "thankyou": 0.5, "thx": 0.4, "thks": 0.4, "thanx": 0.4, "thnx": 0.4,
    "cheers": 0.3, "thankfully": 0.4, "grateful": 0.6, "appreciate": 0.5, "appreciated": 0.5,
    "recommend": 0.5, "recommended": 0.4, "helpful": 0.5, "helped": 0.4, "polite": 0.5,
    "professional": 0.4, "knowledgeable": 0.5, "efficient": 0.5, "efficiently": 0.5, "prompt": 0.4,
    "promptly": 0.4, "timely": 0.4, "patient": 0.3, "generous": 0.5, "reassuring": 0.5, "welcoming": 0.5,
    "responsive": 0.4, "accommodating": 0.5, "caring": 0.5, "informative": 0.4, "sympathetic": 0.4,
    "understanding": 0.3, "considerate": 0.5, "respectful": 0.5, "flexible": 0.4, "sorted": 0.4,
    "resolved": 0.4, "solved": 0.4, "fixed": 0.3, "fab": 0.7, "fantastic": 0.8, "amazing": 0.8,
    "lovely": 0.6, "pleasure": 0.6, "enjoyed": 0.5, "liked": 0.4, "loves": 0.5, "loving": 0.5,
    "favourite": 0.5, "favorite": 0.5, "impressive": 0.7, "painless": 0.5, "seamless": 0.5,
    "quickly": 0.3, "kudos": 0.6, "yay": 0.5, "hero": 0.5, "lifesaver": 0.7, "lol": 0.2, "xd": 0.5,
    "wow": 0.3, "well": 0.3, "hassle-free": 0.5, "user-friendly": 0.5, "so-so": -0.1,
    # people who let the resident down
    "rude": -0.6, "unhelpful": -0.5, "unprofessional": -0.6, "unprofessionalism": -0.6,
    "incompetent": -0.7, "incompetence": -0.7, "useless": -0.6, "hopeless": -0.6, "pointless": -0.4,
    "dismissive": -0.5, "condescending": -0.6, "patronising": -0.5, "patronizing": -0.5,
    "arrogant": -0.6, "ignorant": -0.5, "abrupt": -0.4, "curt": -0.4, "aggressive": -0.5,
    "hostile": -0.6, "threatened": -0.5, "threatening": -0.6, "clueless": -0.5, "inflexible": -0.4,
    "lied": -0.6, "lies": -0.5, "lying": -0.5, "ignored": -0.6, "ignoring": -0.5, "refused": -0.4,
    # how it went wrong
    "disorganised": -0.5, "disorganized": -0.5, "chaotic": -0.4, "overwhelmed": -0.3,
    "understaffed": -0.4, "confusing": -0.4, "unclear": -0.3, "misleading": -0.5, "misinformed": -0.4,
    "delayed": -0.4, "delay": -0.3, "delays": -0.3, "cancelled": -0.4, "canceled": -0.4,
    "cancellation": -0.3, "waited": -0.3, "waiting": -0.2, "onhold": -0.4, "lost": -0.4, "lose": -0.4,
    "losing": -0.4, "missed": -0.3, "damaged": -0.5, "broke": -0.4, "breaks": -0.4, "faulty": -0.5,
    "mistake": -0.4, "mistakes": -0.4, "error": -0.3, "errors": -0.3, "problem": -0.3,
    "problems": -0.3, "issues": -0.2, "trouble": -0.3, "troubles": -0.3, "complaint": -0.4,
    "complain": -0.3, "complained": -0.4, "fails": -0.5, "failing": -0.5, "unreliable": -0.5,
    "inconvenience": -0.4, "stranded": -0.5, "stuck": -0.3, "unanswered": -0.4, "unresolved": -0.4,
    "overcharged": -0.5, "overpriced": -0.5, "scam": -0.7, "chasing": -0.3, "chased": -0.3,
    "struggle": -0.3, "struggled": -0.3, "struggling": -0.3, "unsafe": -0.5, "downhill": -0.4,
    "avoid": -0.4, "elsewhere": -0.3, "wasted": -0.5, "wasting": -0.5, "ruined": -0.6, "ruining": -0.6,
    # how it felt
    "disappoint": -0.5, "disappointment": -0.6, "frustrating": -0.6, "frustration": -0.5, "upset": -0.5,
    "furious": -0.8, "livid": -0.8, "appalled": -0.8, "appalling": -0.8, "disgraceful": -0.8,
    "disgrace": -0.8, "shame": -0.5, "ashamed": -0.5, "unacceptable": -0.7, "abysmal": -0.9,
    "horrendous": -0.9, "shambles": -0.7, "nightmare": -0.7, "hassle": -0.4, "stress": -0.4,
    "stressful": -0.5, "dissatisfied": -0.6, "unsatisfied": -0.5, "unimpressed": -0.5,
    "unbearable": -0.7, "regret": -0.5, "rubbish": -0.6, "crappy": -0.6, "sucks": -0.6, "suck": -0.5,
    "sucked": -0.5, "damn": -0.3, "joke": -0.4,
}

# Service-failure verbs and nouns: neutral alone, negative when negated ("never arrived", "no support").
_FAILS_WHEN_NEGATED: Final = _word_set("""
    work works worked working arrive arrived arrives receive received respond responded reply replied
    replies answer answered answers call called calls ring rang phone phoned return returned turn turned
    show showed come came help helps fix solve solves resolve update updated contact contacted hear heard
    bother bothered listen listened care cared last lasted get got getting let honor honour honoured
    inform informed tell told explain explained notify notified happen happened deliver delivered send
    sent collect collected follow followed acknowledge acknowledged refund refunded assistance support
    information info communication explanation apology
""")
_FAILED: Final = -0.4

# Multi-word expressions, matched before single words. "pol": a polarity. "mod": an intensity factor for
# the next sentiment word. "neg": a negation. "skip": words that look like sentiment but are not here
# ("as well", "good morning", "waiting list"). "at best": turns the praise before it into faint praise.
_PHRASES: Final[dict[str, tuple[str, float]]] = {
    # praise
    "above and beyond": ("pol", 0.8), "extra mile": ("pol", 0.7), "out of her way": ("pol", 0.6),
    "out of his way": ("pol", 0.6), "out of their way": ("pol", 0.6), "out of your way": ("pol", 0.6),
    "well done": ("pol", 0.6), "well played": ("pol", 0.5), "keep it up": ("pol", 0.5),
    "spot on": ("pol", 0.6), "top notch": ("pol", 0.8), "second to none": ("pol", 0.8),
    "first class": ("pol", 0.6), "made my day": ("pol", 0.7), "kept me informed": ("pol", 0.4),
    "kept me updated": ("pol", 0.4), "on time": ("pol", 0.3), "no problem": ("pol", 0.3),
    "no problems": ("pol", 0.3), "no issues": ("pol", 0.3), "no issue": ("pol", 0.3),
    "no trouble": ("pol", 0.3), "no hassle": ("pol", 0.4), "hassle free": ("pol", 0.5),
    "no complaints": ("pol", 0.4), "no worries": ("pol", 0.3), "can't complain": ("pol", 0.4),
    "cannot complain": ("pol", 0.4), "can't fault": ("pol", 0.7), "cannot fault": ("pol", 0.7),
    "couldn't fault": ("pol", 0.7), "could not fault": ("pol", 0.7), "can't wait": ("pol", 0.4),
    "couldn't be happier": ("pol", 0.8), "could not be happier": ("pol", 0.8),
    "couldn't be better": ("pol", 0.7), "could not be better": ("pol", 0.7),
    "couldn't have been better": ("pol", 0.7), "can't thank": ("pol", 0.7), "cannot thank": ("pol", 0.7),
    "couldn't thank": ("pol", 0.7), "could not thank": ("pol", 0.7), "nothing to improve": ("pol", 0.4),
    "nothing to change": ("pol", 0.3), "went well": ("pol", 0.5), "worked well": ("pol", 0.5),
    "works well": ("pol", 0.5), "like a charm": ("pol", 0.6), "thumbs up": ("pol", 0.6),
    "shout out": ("pol", 0.5), "big up": ("pol", 0.5), "big ups": ("pol", 0.5), "five stars": ("pol", 0.6),
    "5 stars": ("pol", 0.6), "be back": ("pol", 0.4), "exceeded expectations": ("pol", 0.6),
    "exceeded my expectations": ("pol", 0.6), "beyond expectations": ("pol", 0.6),
    "what i needed": ("pol", 0.4), "what i wanted": ("pol", 0.4), "high quality": ("pol", 0.5),
    "out of this world": ("pol", 0.8), "thanks in advance": ("pol", 0.1),
    "thank you in advance": ("pol", 0.1),
    # complaints
    "never again": ("pol", -0.7), "on hold": ("pol", -0.4), "hung up": ("pol", -0.5),
    "cut off": ("pol", -0.3), "no response": ("pol", -0.5), "no reply": ("pol", -0.5),
    "no answer": ("pol", -0.4), "no help": ("pol", -0.5), "no call back": ("pol", -0.5),
    "no callback": ("pol", -0.5), "no update": ("pol", -0.3), "no updates": ("pol", -0.3),
    "still waiting": ("pol", -0.5), "kept waiting": ("pol", -0.5), "yet again": ("pol", -0.3),
    "waste of": ("pol", -0.6), "waste my time": ("pol", -0.6), "waste your time": ("pol", -0.6),
    "waste our time": ("pol", -0.6), "waste your money": ("pol", -0.6), "waste my money": ("pol", -0.6),
    "leaves a lot to be desired": ("pol", -0.5), "left a lot to be desired": ("pol", -0.5),
    "much to be desired": ("pol", -0.5), "nothing special": ("pol", -0.3), "rip off": ("pol", -0.7),
    "ripped off": ("pol", -0.7), "fed up": ("pol", -0.6), "sick of": ("pol", -0.6),
    "let down": ("pol", -0.5), "let me down": ("pol", -0.5), "let us down": ("pol", -0.5),
    "messed up": ("pol", -0.5), "fobbed off": ("pol", -0.6), "passed around": ("pol", -0.4),
    "pillar to post": ("pol", -0.5), "runaround": ("pol", -0.5), "run around": ("pol", -0.4),
    "gave up": ("pol", -0.4), "given up": ("pol", -0.4), "stopped working": ("pol", -0.5),
    "fell apart": ("pol", -0.5), "thanks for nothing": ("pol", -0.6), "no thanks to": ("pol", -0.4),
    "too long": ("pol", -0.4), "too much": ("pol", -0.3), "too many": ("pol", -0.3),
    "too late": ("pol", -0.4), "too few": ("pol", -0.3), "too little": ("pol", -0.3),
    "took ages": ("pol", -0.4), "for ages": ("pol", -0.3), "long wait": ("pol", -0.4),
    "long time": ("pol", -0.1), "thumbs down": ("pol", -0.6), "could be better": ("pol", -0.3),
    "could have been better": ("pol", -0.3), "could've been better": ("pol", -0.3),
    "don't bother": ("pol", -0.4), "do not bother": ("pol", -0.4), "had better": ("pol", -0.4),
    "seen better": ("pol", -0.3), "below expectations": ("pol", -0.5), "low quality": ("pol", -0.5),
    "stay away": ("pol", -0.5), "steer clear": ("pol", -0.5), "what's the point": ("pol", -0.4),
    "what is the point": ("pol", -0.4), "not so much": ("pol", -0.4), "at best": ("at best", -0.3),
    # negations of more than one word, and look-alikes
    "no one": ("neg", 0.0), "less than": ("neg", 0.0), "not only": ("skip", 0.0),
    "not just": ("skip", 0.0), "no thanks": ("skip", 0.0), "no thank you": ("skip", 0.0),
    # modifiers of more than one word
    "a bit": ("mod", 0.7), "a little": ("mod", 0.7), "kind of": ("mod", 0.7), "sort of": ("mod", 0.7),
    "a lot": ("mod", 1.2),
    # look like sentiment, are not
    "as well": ("skip", 0.0), "oh well": ("skip", 0.0), "feel free": ("skip", 0.0),
    "good morning": ("skip", 0.0), "good afternoon": ("skip", 0.0), "good evening": ("skip", 0.0),
    "good night": ("skip", 0.0), "good luck": ("skip", 0.0), "best of luck": ("skip", 0.0),
    "best regards": ("skip", 0.0), "kind regards": ("skip", 0.0), "best wishes": ("skip", 0.0),
    "waiting list": ("skip", 0.0), "waiting room": ("skip", 0.0), "fixed penalty": ("skip", 0.0),
    "lost property": ("skip", 0.0), "pretty much": ("skip", 0.0), "to be honest": ("skip", 0.0),
    "to be fair": ("skip", 0.0), "in all honesty": ("skip", 0.0), "in fairness": ("skip", 0.0),
    "as soon as possible": ("skip", 0.0),
}

_INTENSIFIERS: Final[dict[str, float]] = {
    "very": 1.3, "really": 1.3, "so": 1.3, "soo": 1.3, "such": 1.2, "too": 1.2, "more": 1.0,
    "extremely": 1.5, "incredibly": 1.5, "absolutely": 1.5, "totally": 1.4, "completely": 1.4,
    "utterly": 1.5, "truly": 1.3, "highly": 1.3, "super": 1.3, "especially": 1.3, "exceptionally": 1.5,
    "particularly": 1.2, "remarkably": 1.3, "thoroughly": 1.3, "most": 1.2, "pretty": 1.1, "quite": 1.1,
    "real": 1.2, "bloody": 1.3, "seriously": 1.3, "complete": 1.3, "total": 1.3, "absolute": 1.3,
    "easily": 1.2, "ever": 1.1,
    # downtoners
    "slightly": 0.6, "somewhat": 0.7, "fairly": 0.8, "rather": 0.9, "kinda": 0.7, "sorta": 0.7,
    "mostly": 0.8, "partly": 0.6, "marginally": 0.6, "reasonably": 0.8, "relatively": 0.8,
    "almost": 0.6, "bit": 0.7,
}

_EMOTICONS: Final[dict[str, float]] = {  # matched lower-cased
    ":)": 0.5, ":-)": 0.5, "=)": 0.5, ":]": 0.5, ":d": 0.8, ":-d": 0.8, "=d": 0.8, ";)": 0.3, ";-)": 0.3,
    ":p": 0.3, ":-p": 0.3, "<3": 0.7, ":(": -0.6, ":-(": -0.6, "=(": -0.6, ":[": -0.6, ":'(": -0.8,
    ":/": -0.3, ":-/": -0.3, ":\\": -0.3, ":s": -0.3, ">:(": -0.8, "</3": -0.6,
}
_EMOJI: Final[dict[str, float]] = {
    **dict.fromkeys("😀😃😄😁😆😊🙂☺😍🥰😘😻🤗😎", 0.6),
    **dict.fromkeys("❤♥💕💖💗💙💚💛💜🧡💯👍👏🙌👌🎉🎊🌟⭐✨😉", 0.5),
    "🙏": 0.3, "😂": 0.2, "🤣": 0.2,
    **dict.fromkeys("😞😔😟😕🙁☹😒🙄😑😬", -0.3),
    **dict.fromkeys("😢😭😩😫😤😣😖😱🤦💔👎", -0.6),
    **dict.fromkeys("😠😡🤬💩🤢🤮", -0.8),
}

# fmt: on

_SYMBOLS: Final[dict[str, float]] = {**_EMOTICONS, **_EMOJI}

# --- How words combine ----------------------------------------------------------------------------------
# Weights and factors were set by hand from the literature and reading comments, then checked by
# leave-one-file-out cross-validation on the shared evaluation data (fitting them gained nothing held out).

_NEGATORS: Final = _word_set("""
    not no never nothing nobody noone none nowhere neither nor without hardly barely rarely seldom doubt
    lack lacks lacked lacking cannot dont didnt doesnt isnt wasnt arent werent cant couldnt wouldnt
    shouldnt wont havent hasnt hadnt aint
""")  # and every word ending in "n't"
_NEGATION_SCOPE: Final = 3  # words after the negation that it can reach
# Words the negation passes over without using up its scope; "I don't think I will be back" negates
# "be back" (negation raising over "think").
_SCOPE_TRANSPARENT: Final = _word_set(
    "a an the to be been being is was are were it my your our that i we will think believe"
)
# "not good" is clearly bad; "not bad" is only mildly good (Hutto & Gilbert 2014 report the same asymmetry).
_NEGATED_POSITIVE: Final = -0.75
_NEGATED_NEGATIVE: Final = -0.5
# A clause that opens with "don't" gives advice: "Don't waste your money" stays a warning.
_IMPERATIVE_NEGATORS: Final = frozenset(("don't", "dont"))
# "never been so rude", "couldn't have been more helpful": the negation stresses rather than reverses.
_EMPHATIC: Final = frozenset(("so", "such", "more"))
# The negation belongs to the wish, not to what follows: "I don't want to complain, but ..."
_WANT: Final = frozenset(("want", "wanted", "wanna"))

# Praise inside a wish, a condition or an expectation is not praise: "it would be nice if", "if you want
# good service", "I expected better". "if", "unless" and "unfortunately" reach the end of the clause.
_HYPOTHETICAL: Final = _word_set("""
    would could should might i'd we'd you'd would've could've should've wish hope hoping hopefully expect
    expected expecting thought supposed imagine if unless unfortunately sadly regrettably
""")
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
_PATRONAGE: Final = _word_set("""
    use using order ordering buy buying come coming visit visiting book booking shop shopping go going
    stay staying eat eating choose return returning
""")
_FUTURE: Final = frozenset(("will", "shall", "i'll", "we'll", "would", "i'd", "we'd"))

# "waited for 2 hours", "took over a week": a wait worth mentioning; "within 10 minutes": a quick one.
_LONG_WAIT: Final = -0.3
_QUICK: Final = 0.3
_TIME_UNITS: Final = _word_set("hour hours hr hrs minute minutes min mins day days week weeks month months")
_UNIT_SUFFIXES: Final = ("hrs", "hr", "hours", "hour", "mins", "min", "minutes", "days", "weeks")  # "40mins"
_QUANTITIES: Final = _word_set(
    "a an one two three four five six seven eight nine ten twelve twenty few several couple many"
)
_WAIT_LEADS: Final = _word_set(
    "for over after took taken waited wait waiting spent nearly almost about than another extra"
)

# Words whose sense depends on their neighbours.
_LIKE: Final = 0.4  # "I like", "we really liked"; not "would like to", "felt like"
_LIKE_AS_VERB: Final = _word_set("i we they you really also just do did don't dont didn't didnt does doesn't")
_WELL_NOT_PRAISE: Final = frozenset(("as", "oh", "and", "well"))  # "as well", "oh well"
_WELL_AS_DEGREE: Final = _word_set(
    "below above over under beyond before after past into within worth aware known being"
)
# "rubbish" is a verdict ("absolutely rubbish", "Rubbish service!") or what a council collects ("my rubbish
# wasn't collected", "rubbish collection").
_VERDICT_BEFORE: Final = _word_set("""
    was is were are been be absolutely utterly totally complete total utter so really very pretty just
    bit proper
""")
_REFUSE_AFTER: Final = _word_set("""
    collection collections collected collect bin bins bag bags day days tip dump removal pickup lorry truck
    men crew was wasn't hasn't has had is isn't not left
""")
_FINE_AS_PENALTY_AFTER: Final = _word_set("a the my this that his her their your our parking penalty late")
_DEPENDS_ON_NEIGHBOURS: Final = frozenset(("well", "rubbish", "fine"))
_THANKS: Final = frozenset(("thank", "thanks", "thx", "thankyou"))

# What each function word does, looked up once per word (most words are none of these).
_CONTRAST_WORD, _CONCESSIVE_WORD, _INTENSIFIER, _NEGATOR, _HYPOTHETICAL_WORD, _WANT_WORD = range(6)
_WHY, _AGAIN, _STILL, _ENOUGH, _TIME_UNIT, _LIKE_WORD, _OR, _WILL, _PATRONAGE_VERB = range(6, 15)
_FUNCTION_WORDS: Final[dict[str, int]] = {
    **dict.fromkeys(_HYPOTHETICAL, _HYPOTHETICAL_WORD),
    **dict.fromkeys(_WANT, _WANT_WORD),
    **dict.fromkeys(_TIME_UNITS, _TIME_UNIT),
    **dict.fromkeys(_PATRONAGE, _PATRONAGE_VERB),
    **dict.fromkeys(("will", "shall", "i'll", "we'll"), _WILL),
    **dict.fromkeys(_CONTRAST, _CONTRAST_WORD),
    **dict.fromkeys(_CONCESSIVE, _CONCESSIVE_WORD),
    **dict.fromkeys(_INTENSIFIERS, _INTENSIFIER),
    **dict.fromkeys(_NEGATORS, _NEGATOR),
    "why": _WHY,
    "again": _AGAIN,
    "still": _STILL,
    "enough": _ENOUGH,
    "like": _LIKE_WORD,
    "or": _OR,
}


# --- Loading --------------------------------------------------------------------------------------------


def _superlative(adjective: str) -> str | None:
    """ "nice" -> "nicest", "friendly" -> "friendliest", "sad" -> "saddest"; None for long words."""
    if not 3 <= len(adjective) <= 8 or not adjective.isalpha():
        return None
    if adjective.endswith("e"):
        return adjective + "st"
    if adjective.endswith("y"):
        return adjective[:-1] + "iest"
    if (
        len(adjective) <= 4
        and adjective[-1] not in "aeiouwxy"
        and adjective[-2] in "aeiou"
        and adjective[-3] not in "aeiou"
    ):
        return adjective + adjective[-1] + "est"
    return adjective + "est"


def _load_lexicon() -> dict[str, float]:
    """TextBlob's polarity per word, averaged over senses as ``TextBlob(text).sentiment`` uses it, with
    superlatives of its adjectives (TextBlob itself adds "-ly" adverbs the same way) and our vocabulary."""
    from textblob.en import sentiment as textblob_sentiment  # type: ignore[import-untyped]

    textblob_sentiment.load()
    lexicon: dict[str, float] = {}
    superlatives: dict[str, float] = {}
    for word, senses in dict.items(textblob_sentiment):
        polarity = float(senses[None][0])
        if abs(polarity) < 0.01 or word in _NOT_EVALUATIVE or "'" in word:
            continue
        lexicon[word] = polarity
        if "JJ" in senses and (form := _superlative(word)) is not None:
            superlatives[form] = max(-1.0, min(1.0, polarity * 1.2))
    for form, polarity in superlatives.items():
        lexicon.setdefault(form, polarity)
    lexicon.update(_CUSTOMER_SERVICE)
    for word in _INTENSIFIERS:  # "very", "pretty", "real": modifiers here, not sentiment of their own
        lexicon.pop(word, None)
    return lexicon


def _phrase_index() -> dict[str, list[tuple[list[str], str, float]]]:
    """First word -> (rest of the phrase, kind, value), longest phrases first."""
    index: dict[str, list[tuple[list[str], str, float]]] = {}
    for phrase, (kind, value) in _PHRASES.items():
        first, *rest = phrase.split()
        index.setdefault(first, []).append((rest, kind, value))
    for entries in index.values():
        entries.sort(key=lambda entry: -len(entry[0]))
    return index


_LEXICON: Final = _load_lexicon()
_PHRASE_START: Final = _phrase_index()
# Every word the scorer does something with; any other word only counts towards the scopes.
_KNOWN_WORDS: Final = frozenset((*_LEXICON, *_FUNCTION_WORDS, *_PHRASE_START, *_FAILS_WHEN_NEGATED))


# --- Tokenising -----------------------------------------------------------------------------------------

_NOISE_RE: Final = re.compile(r"https?://\S*|www\.\S+|@\w+", re.IGNORECASE)  # links and @mentions
_TOKEN_RE: Final = re.compile(
    r"(?<![\w:;=])(?:>?[:;=]['\-]?[()\[\]dDpP/\\sS]|</?3|[xX][dD])(?![\w)(])"  # emoticons
    r"|#[^\W_]+"  # hashtags: "#neveragain", "#badservice"
    r"|[^\W_]+(?:['\-][^\W_]+)*"  # words, with inner apostrophes and hyphens
    r"|!+|\?+|[.,;:\u2026()\u2013\u2014]|(?<=\s)-(?=\s)"  # marks that end a sentence or a clause
    r"|[\U0001F300-\U0001FAFF\u2600-\u27BF\u2B50]"  # emoji (skin tones and joiners are dropped)
)
_ELONGATED_RE: Final = re.compile(r"([^\W\d_])\1{2,}")
_CAPITALS_RE: Final = re.compile(r"[A-Z][-.]?[A-Z]")
_APOSTROPHE: Final = "\u2019"  # typographic apostrophe, read as "'"
_SENTENCE_END: Final = frozenset(".!?\u2026")
_CLAUSE_END: Final = frozenset(",;:()\u2013\u2014-")
_END: Final = "."
_LONGEST_HASHTAG: Final = 60
_LONGEST_WORD: Final = 20
_LETTERS_RE: Final = re.compile(r"[^\W\d_]+")


def _tokens(text: str) -> tuple[list[str], list[bool] | None]:
    """Lower-cased tokens and, when any word is in capitals, which ones were written so for emphasis."""
    if "&" in text:
        text = html.unescape(text)
    if _APOSTROPHE in text:
        text = text.replace(_APOSTROPHE, "'")
    low = text.lower()
    if "@" in low or "http" in low or "www." in low:
        text = _NOISE_RE.sub(" ", text)
        low = text.lower()
    if _ELONGATED_RE.search(low):
        text = _ELONGATED_RE.sub(r"\1\1", text)  # "sooooo goooood" -> "soo good"
        low = text.lower()
    tokens: list[str] = _TOKEN_RE.findall(low)
    emphasised: list[bool] | None = None
    if _CAPITALS_RE.search(text) and not text.isupper():  # a comment all in capitals stresses nothing
        original = _TOKEN_RE.findall(text)
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
        elif "-" in token and len(token) > 1 and token not in _LEXICON:
            joined = token.replace("-", "")
            parts = [joined] if joined in _LEXICON else token.split("-")  # "over-priced", "slow-moving"
        else:
            parts = [token]
        split.extend(parts)
        flags.extend([emphasised[at] if emphasised is not None else False] * len(parts))
    return split, (flags if emphasised is not None else None)


def _hashtag_words(tag: str) -> list[str]:
    """Split a hashtag into words: "unitedsucks" -> ["united", "sucks"], "nothappy" -> ["not", "happy"]."""
    if tag in _LEXICON or len(tag) > _LONGEST_HASHTAG:
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
    for word in _LEXICON:  # sentiment words missing from the spelling list must still be found
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


# --- Scoring --------------------------------------------------------------------------------------------


def _not_a_verdict(word: str, previous: str, following: str, sentence_words: int, clause_words: int) -> bool:
    """Whether "well", "rubbish" or "fine" is used here in a sense that says nothing about the service."""
    if word == "well":  # "Well, ...", "as well", "well over an hour"
        return sentence_words == 1 or previous in _WELL_NOT_PRAISE or following in _WELL_AS_DEGREE
    if word == "rubbish":  # "my rubbish wasn't collected" but "absolutely rubbish", "Rubbish service!"
        verdict = (
            previous in _VERDICT_BEFORE
            or previous.endswith("'s")
            or (clause_words == 1 and following not in _REFUSE_AFTER)
        )
        return not verdict
    return previous in _FINE_AS_PENALTY_AFTER  # "a parking fine"


def _polarity(text: str) -> float:
    """Weighted mean of the sentiment-bearing words and phrases of ``text``, in [-1, 1]."""
    tokens, emphasised = _tokens(text)
    if not tokens:
        return 0.0
    tokens.append(_END)  # so that the last sentence is closed like every other
    lexicon = _LEXICON
    function_words = _FUNCTION_WORDS
    phrase_start = _PHRASE_START
    known = _KNOWN_WORDS
    values: list[float] = []
    weights: list[float] = []
    formulaic_thanks: list[int] = []  # "Thanks." on its own: polite, or sarcastic after a complaint
    # sentence state
    sentence_start = 0  # index into values where the current sentence starts
    previous_sentence_start = 0
    sentence_words = 0
    contrast_weight = 1.0  # 1.5 after "but"
    contrast_start = 0  # what a "but" outweighs: the sentence so far, or the part since the last "but"
    why = False
    why_opened = False  # "why" opened the sentence
    never = False  # "never" / "won't" seen: a later "again" completes "never ... again"
    future = False  # "will" / "would" seen
    patronage = False  # ... followed by "use", "order", "come": a later "again" completes "will use again"
    # clause state
    clause_words = 0
    concessive = False
    negation = 0  # words of negation scope left
    imperative = False
    emphatic = False
    negation_or = False  # "or"/"nor" hands a used negation on: "not friendly or helpful"
    negated_at = -1  # the last negated value, which "enough" restores: "can't thank you enough"
    negated_from = 0.0
    hypothetical = 0  # words of wish/condition scope left
    comparative = False  # "should be more helpful"
    boost = 1.0
    boost_left = 0
    thanks_at = -1  # "thanks for ..." directly followed by something bad is sarcasm
    thanks_window = 0

    count = len(tokens)
    i = 0
    while i < count:
        word = tokens[i]
        i += 1
        first = word[0]
        if not first.isalnum():
            symbol = _SYMBOLS.get(word)
            if symbol is not None:
                values.append(symbol)
                weights.append(contrast_weight)
                continue
            if first in _SENTENCE_END:
                if first == "!":
                    factor = 1.0 + _EXCLAMATION_STEP * min(len(word), 3)
                    for k in range(sentence_start, len(values)):
                        values[k] *= factor
                elif first == "?":
                    for k in range(sentence_start, len(values)):
                        if values[k] > 0:
                            values[k] *= _QUESTION_POSITIVE
                    if len(word) > 1:
                        values.append(_EXASPERATED)
                        weights.append(contrast_weight)
                if why and (first == "?" or why_opened):
                    values.append(_WHY_QUESTION)
                    weights.append(contrast_weight)
                if (
                    len(values) == sentence_start + 1
                    and values[-1] > 0
                    and sentence_words <= 3
                    and tokens[i - 1 - sentence_words] in _THANKS
                ):
                    formulaic_thanks.append(sentence_start)
                previous_sentence_start = sentence_start
                sentence_start = contrast_start = len(values)
                sentence_words = 0
                contrast_weight = 1.0
                why = why_opened = never = future = patronage = False
            elif first not in _CLAUSE_END:
                continue
            clause_words = 0
            concessive = imperative = emphatic = negation_or = comparative = False
            negation = hypothetical = boost_left = thanks_window = 0
            negated_at = -1
            continue

        clause_words += 1
        sentence_words += 1
        if word not in known and not word.endswith("n't") and not first.isdigit():
            # most words carry no sentiment: they only use up the scope of what came before
            if word not in _SCOPE_TRANSPARENT:
                negation_or = False
                if negation:
                    negation -= 1
                if hypothetical:
                    hypothetical -= 1
                if thanks_window:
                    thanks_window -= 1
            if boost_left:
                boost_left -= 1
            continue
        value: float | None = None
        asserted = False  # exempt from the weakening of wishes and conditions
        phrases = phrase_start.get(word)
        if phrases is not None:
            matched = False
            for rest, kind, phrase_value in phrases:
                if tokens[i : i + len(rest)] == rest:
                    matched = True
                    i += len(rest)
                    sentence_words += len(rest)
                    if kind == "pol":
                        value = phrase_value
                    elif kind == "mod":
                        boost = min(boost * phrase_value, _MOST_BOOST) if boost_left else phrase_value
                        boost_left = 2
                    elif kind == "neg":
                        negation = _NEGATION_SCOPE
                    elif kind == "at best":
                        if len(values) > sentence_start and values[-1] > 0:
                            values[-1] *= -0.5
                        else:
                            value = phrase_value
                    break
            if matched and value is None:
                continue

        if value is None:
            role = function_words.get(word)
            if role is None:
                if word.endswith("n't"):
                    role = _NEGATOR
                elif first.isdigit() and word.endswith(_UNIT_SUFFIXES):  # "40mins"
                    role = _TIME_UNIT
            if role is None:
                pass
            elif role == _NEGATOR:
                negation = _NEGATION_SCOPE
                imperative = (clause_words == 1 and word in _IMPERATIVE_NEGATORS) or (
                    clause_words == 2 and word == "not" and tokens[i - 2] == "do"
                )
                emphatic = False
                never = never or word in _NEVER_AGAIN_OPENERS or (word == "not" and tokens[i - 2] == "will")
                continue
            elif role == _INTENSIFIER:
                factor = _INTENSIFIERS[word]
                if factor > 1.0 and emphasised is not None and emphasised[i - 1]:
                    factor *= _CAPS_BOOST  # "VERY rude"
                boost = max(_LEAST_BOOST, min(boost * factor, _MOST_BOOST)) if boost_left else factor
                boost_left = 2
                if word in _EMPHATIC:
                    emphatic = negation > 0
                    comparative = comparative or (word == "more" and hypothetical > 0)
                continue
            elif role == _CONTRAST_WORD:
                if not (word == "yet" and sentence_words == 1):
                    # "But ..." opening a sentence outweighs the sentence before
                    start = previous_sentence_start if len(values) == sentence_start else contrast_start
                    for k in range(start, len(values)):
                        weights[k] *= _BEFORE_CONTRAST
                    contrast_start = previous_sentence_start = len(values)
                    contrast_weight = _AFTER_CONTRAST
                    negation = hypothetical = 0
                    concessive = False
                    continue
            elif role == _CONCESSIVE_WORD:
                concessive = True
                continue
            elif role == _HYPOTHETICAL_WORD:
                hypothetical = count if word in _TO_CLAUSE_END else _HYPOTHETICAL_SCOPE
                future = future or word in _FUTURE
                if word not in lexicon:  # "unfortunately" is also negative itself
                    continue
            elif role == _WANT_WORD:
                negation = 0  # "I don't want to complain": the wish is negated, not the complaint
                continue
            elif role == _WHY:
                why = True
                why_opened = why_opened or sentence_words == 1
                continue
            elif role == _AGAIN:
                if never:
                    value = _NEVER_AGAIN
                    never = False
                    negation = 0  # the "never" that opened it is already counted
                elif patronage:
                    value = _RETURNING
                    patronage = False
                else:
                    continue
                asserted = True
            elif role == _WILL:
                future = True
                continue  # transparent to scopes, like the other auxiliaries
            elif role == _PATRONAGE_VERB:
                patronage = patronage or future
            elif role == _STILL:
                following = tokens[i]
                if following in _NEGATORS or following.endswith("n't"):  # "still no reply"
                    value = _STILL_NOT
                    asserted = True
            elif role == _ENOUGH:
                if negated_at >= 0:
                    values[negated_at] = negated_from
                    negated_at = -1
                continue
            elif role == _TIME_UNIT:
                quantity_at = i - 2 if word in _TIME_UNITS else i - 1
                quantity = tokens[quantity_at] if quantity_at >= 0 else ""
                lead = tokens[quantity_at - 1] if quantity_at >= 1 else ""
                if word in _TIME_UNITS and not (quantity.isdigit() or quantity in _QUANTITIES):
                    lead = ""
                if lead in _WAIT_LEADS:
                    value = _LONG_WAIT
                    asserted = True
                elif lead == "within":
                    value = _QUICK
                    asserted = True
            elif role == _LIKE_WORD:
                if i >= 2 and tokens[i - 2] in _LIKE_AS_VERB and tokens[i] != "to":
                    value = _LIKE
            elif role == _OR and negation_or:
                negation = _NEGATION_SCOPE
                negation_or = False
                continue

        if value is None:
            value = lexicon.get(word)
            if value is None:
                if negation and word in _FAILS_WHEN_NEGATED:
                    value = _FAILED
                    negation = 0
                    asserted = True
                else:
                    if word not in _SCOPE_TRANSPARENT:
                        negation_or = False
                        if negation:
                            negation -= 1
                        if hypothetical:
                            hypothetical -= 1
                        if thanks_window:
                            thanks_window -= 1
                    if boost_left:
                        boost_left -= 1
                    continue
            elif word in _DEPENDS_ON_NEIGHBOURS and _not_a_verdict(
                word, tokens[i - 2] if i >= 2 else "", tokens[i], sentence_words, clause_words
            ):
                continue
            elif word in _ASSERTED_EVEN_IF_HYPOTHETICAL:
                asserted = True

        # A sentiment-bearing word or phrase: apply what came before it.
        if boost_left:
            value *= boost
            boost_left = 0
        if emphasised is not None and emphasised[i - 1]:
            value *= _CAPS_BOOST
        if negation:
            if emphatic:
                asserted = True
            elif not (imperative and value < 0):
                negated_at = len(values)
                negated_from = value
                value *= _NEGATED_POSITIVE if value > 0 else _NEGATED_NEGATIVE
                negation_or = True
            negation = 0
            emphatic = False
        if hypothetical and value > 0 and not asserted:
            # a wish for more of something good is a criticism: "staff should be more helpful"
            comparative = comparative or word == "better"
            value *= _WISHED_FOR_MORE if comparative else _HYPOTHETICAL_POSITIVE
        if value < 0 and thanks_window and values[thanks_at] > 0:
            values[thanks_at] = 0.0
        if word in _THANKS:  # the window covers "for" (and "you") and the word after it
            if tokens[i] == "for":
                thanks_at, thanks_window = len(values), 2
            elif tokens[i] == "you" and i + 1 < count and tokens[i + 1] == "for":
                thanks_at, thanks_window = len(values), 3
        values.append(value)
        weights.append(contrast_weight * (_CONCESSIVE_WEIGHT if concessive else 1.0))

    if not values:
        return 0.0
    total = math.fsum(w * v for w, v in zip(weights, values, strict=True))
    if formulaic_thanks and total < 0:
        # "Lied to my face at the gate. Thanks." is not gratitude
        for k in formulaic_thanks:
            total -= weights[k] * values[k]
            values[k] = 0.0
    weight = math.fsum(weights)
    if not weight > 0.0:
        return 0.0
    return max(-1.0, min(1.0, total / weight))


# --- Question awareness ---------------------------------------------------------------------------------


def _answer_set(text: str) -> frozenset[str]:
    return frozenset(answer.strip() for answer in text.split("|"))


# Short answers that say "nothing to report": praise after "What could we do better?", a complaint after
# "What went well?". Compared after lower-casing and dropping punctuation ("N/A" -> "n a").
_NOTHING_ANSWERS: Final = _answer_set("""
    nothing|nothing really|nothing at all|nothing much|nothing in particular|nothing specific|not much|
    not really|nothing else|nothing more|nothing i can think of|nothing that i can think of|
    nothing comes to mind|none|none really|none at all|no|nope|no not really|n a|na|nil|not applicable|
    no comment|no comments|nothing to add|nothing to say|can't think of anything|cannot think of anything|
    can't think of any|i can't think of anything|i cannot think of anything|not that i can think of|
    not sure|don't know|dont know|no idea|no thanks
""")
_EVERYTHING_ANSWERS: Final = _answer_set(
    "everything|all of it|the lot|everything really|absolutely everything|all of the above"
)
_ANSWER_PARTS_RE: Final = re.compile(r"[.,;:!?()\-\u2013\u2014]+")
_ANSWER_NOISE_RE: Final = re.compile(r"[^\w\s']+")
_LONGEST_SHORT_ANSWER: Final = 200

_NOTHING_AFTER_IMPROVE: Final = 0.3
_NOTHING_AFTER_PRAISE: Final = -0.4
_EVERYTHING: Final = 0.6  # "Everything!" is praise after "What went well?", a complaint after "... better?"
# An answer with no sentiment words takes the question's side: after "What went well?", "The staff" names
# what went well; after "What could we do better?", "Answer the phone" names something that fell short.
_NEUTRAL_ANSWER: Final = 0.15


def _normalised_answer(text: str) -> str:
    text = text.replace(_APOSTROPHE, "'").lower().replace("n/a", "n a")
    return " ".join(_ANSWER_NOISE_RE.sub(" ", text).split())


def _answer_polarity(text: str, question: QuestionKind) -> float:
    """Polarity of an answer to a question of known kind (improve or praise)."""
    side = 1.0 if question is QuestionKind.PRAISE else -1.0
    if len(text) <= _LONGEST_SHORT_ANSWER:
        head, *rest = _ANSWER_PARTS_RE.split(text.replace("n/a", "n a").replace("N/A", "n a"), maxsplit=1)
        head = _normalised_answer(head)
        if head in _NOTHING_ANSWERS or head in _EVERYTHING_ANSWERS:
            # "Nothing, the staff were great": what follows, if it says anything, decides.
            polarity = _polarity(rest[0]) if rest else 0.0
            if polarity != 0.0:
                return polarity
            if head in _EVERYTHING_ANSWERS:
                return side * _EVERYTHING
            return _NOTHING_AFTER_PRAISE if question is QuestionKind.PRAISE else _NOTHING_AFTER_IMPROVE
    polarity = _polarity(text)
    if polarity == 0.0 and _has_words(text):
        return side * _NEUTRAL_ANSWER
    return polarity


def _has_words(text: str) -> bool:
    return any(character.isalnum() for character in text)


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
    text = _REQUEST_RE.sub(" ", str(question_text).lower().replace(_APOSTROPHE, "'"))
    if _NEGATED_PRAISE_RE.search(text):
        return QuestionKind.IMPROVE
    improve = _IMPROVE_RE.search(text) is not None
    praise = _PRAISE_RE.search(text) is not None
    if improve and not praise:
        return QuestionKind.IMPROVE
    if praise and not improve:
        return QuestionKind.PRAISE
    return QuestionKind.GENERAL  # neither, or both ("What went well, and what could be better?")


# --- Public entry point ---------------------------------------------------------------------------------


def score(text: str, *, question: QuestionKind | None = None) -> Sentiment:
    """Score a free-text comment; ``question`` is the kind of question it answers, when known."""
    if not isinstance(text, str):
        text = "" if text is None else str(text)
    if question is QuestionKind.IMPROVE or question is QuestionKind.PRAISE:
        polarity = _answer_polarity(text, question)
    else:
        polarity = _polarity(text)
    if not -1.0 <= polarity <= 1.0:  # also catches NaN, which a stored score must never be
        polarity = 0.0
    polarity = round(polarity, 6) + 0.0  # + 0.0 turns -0.0 into 0.0
    return Sentiment(polarity=polarity, label=label_for(polarity))
