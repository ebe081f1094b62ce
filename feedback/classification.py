"""Classifies a survey comment as a complaint, compliment, suggestion or other, with its themes.

Pure: weighted cue phrases, the comment's sentiment and the kind of question it answered give a score per class;
each theme is found from its own cue phrases. Every class and theme carries a confidence in [0, 1]. Also here:
precision and recall per class and theme from (predicted, corrected) pairs, for the reviewer-corrections report.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final

from feedback.sentiment import V1, QuestionKind, score

# Bump whenever a change can move a classification: every stored classification records its version.
CLASSIFIER_VERSION: Final = "cv-classify-1"


class CommentClass(StrEnum):
    COMPLAINT = "complaint"
    COMPLIMENT = "compliment"
    SUGGESTION = "suggestion"
    OTHER = "other"


class Theme(StrEnum):
    STAFF_ATTITUDE = "staff_attitude"
    WAITING_TIME = "waiting_time"
    COMMUNICATION = "communication"  # being kept informed, replies, call-backs, letters
    GETTING_THROUGH = "getting_through"  # reaching someone: phone queues, transfers, lines
    OUTCOME = "outcome"  # whether the problem was resolved, the decision
    WEBSITE = "website"
    OPENING_HOURS = "opening_hours"
    COST = "cost"  # fees, charges, fines, refunds
    ACCESSIBILITY = "accessibility"  # disability, language, physical access
    REPAIRS = "repairs"  # housing repairs and their workmanship
    KNOWLEDGE = "knowledge"  # accuracy of information, staff knowing their subject
    PREMISES = "premises"  # buildings, waiting areas, toilets, signs


@dataclass(frozen=True, slots=True)
class ScoredTheme:
    theme: Theme
    confidence: float


@dataclass(frozen=True, slots=True)
class Classification:
    comment_class: CommentClass
    confidence: float  # of ``comment_class``
    class_confidences: Mapping[CommentClass, float]  # every class, summing to 1
    themes: tuple[ScoredTheme, ...]  # most confident first; only those at or above THEME_THRESHOLD
    classifier_version: str = CLASSIFIER_VERSION


# A theme is reported from this confidence up.
THEME_THRESHOLD: Final = 0.5


def _cues(*weighted: tuple[str, float]) -> tuple[tuple[re.Pattern[str], float], ...]:
    """Cue phrases (regular expressions over the lower-cased comment) with their weights."""
    return tuple((re.compile(pattern), weight) for pattern, weight in weighted)


# fmt: off

# What a resident writes when something went wrong. Weights are hand-set on a 0-3 scale.
_COMPLAINT_CUES: Final = _cues(
    (r"\b(?:rude|rudely|appalling|disgrace\w*|disgusting|shameful|unacceptable|ridiculous|useless|joke"
     r"|terrible|awful|worst|pathetic|clueless|incompetent|unprofessional|contempt|robbery)\b", 2.0),
    (r"\b(?:still|yet to|never|nobody|no one|no-one|nothing (?:has|was|happened|done)|not once)\b", 1.0),
    (r"\bstill (?:no|not|waiting|haven'?t|hasn'?t|there|broken|leaking|got|isn'?t|aren'?t)\b", 1.5),
    (r"\b(?:waited|waiting|on hold|in the queue|queue was)\b", 0.8),
    (r"\b(?:hung up|cut off|line went dead|shouted|swore|laughed at|rolled (?:his|her) eyes|smirk\w*"
     r"|aggressive|threatening|intimidating|sarcastic|condescending|dismissive|talked down|impatient"
     r"|ignored|fobb\w* off|passes the buck|shrugged)\b", 2.0),
    (r"\b(?:not happy|unhappy|disappointed|let down|fed up|frustrat\w*|angry|upset(?:ting)?|complain\w*"
     r"|not acceptable|no excuse|made me feel|felt (?:like|judged|ignored)|treated (?:like|with contempt))\b", 1.5),
    (r"\b(?:broken|leak\w*|damp|mould|rats|missed|lost|wrong|refused|cancelled|closed (?:my|the) case"
     r"|no response|no reply|not (?:collected|fixed|turned up|come|came|returned)|didn'?t (?:turn up|come|reply"
     r"|ring|call|get|bother|listen)|never (?:came|turned up|arrived|returned|replied|rang|got)"
     r"|(?:hasn'?t|haven'?t|has not|have not) (?:been|had|got|heard)|nothing has been done|no one has)\b", 1.2),
    (r"\b(?:weeks|months|years)\b", 0.6),
    (r"\b(?:charged twice|fined|too expensive|too much|can'?t afford|out of reach|gone up|doubled|went up)\b", 1.2),
    (r"\b(?:impossible|couldn'?t|can'?t|cannot|unable|won'?t|doesn'?t work|don'?t work|didn'?t work|crash\w*"
     r"|error|timed out|down again|logs? me out)\b", 0.8),
    (r"\b(?:filthy|dirty|freezing|smelt|depressing)\b", 1.5),
    (r"!{2,}|\?{2,}", 0.5),
    (r"\b(?:different (?:answers?|story)|says? (?:one thing|another)|shut|wasn'?t (?:their|my) (?:problem|fault)"
     r"|not (?:their|council|my) (?:problem|responsibility)|only open|no use|no one could|nobody could|had to"
     r"|before anyone|engaged|after the deadline|disappears?|got a ticket|a fortune|not available|no warning"
     r"|ages|for a start|some respect|stop (?:making|fobbing|treating|sending|charging)|actually (?:read|listen"
     r"|answer|do)|even though|despite|again|twice|three times|four times|\d+ times|instead)\b", 1.0),
    (r"\b(?:laughed at me|upset me|made me cry|felt stupid|stupid)\b", 1.5),
)
# What a resident writes when something went well.
_COMPLIMENT_CUES: Final = _cues(
    (r"\b(?:thank\w*|thanks|grateful|appreciat\w*|commend|shout out|credit to)\b", 1.5),
    (r"\b(?:excellent|brilliant|fantastic|amazing|superb|great|wonderful|lovely|fab|star|heroes?|legend"
     r"|impressed|outstanding|perfect|over the moon|fault)\b", 1.5),
    (r"\b(?:helpful|friendly|polite|kind|patient|pleasant|courteous|professional|respectful|welcoming|caring"
     r"|understanding|sympathetic|knowledgeable|efficient|reassuring|thoughtful|warm|nice|good|easy|simple"
     r"|clear(?:ly)?|quick(?:ly)?|fast|prompt(?:ly)?|tidy|calm|fair)\b", 0.8),
    (r"\b(?:sorted|solved|resolved|fixed|done|cleared|removed|came through|got my|got the|found me"
     r"|on time|same day|straight away|straight through|first time|in and out|no queue|no waiting"
     r"|didn'?t have to wait|above and beyond|extra mile|out of (?:her|his|their) way)\b", 1.0),
    (r"\b(?:better than|improved|much better)\b", 0.8),
    (r"\b(?:when they said|as (?:requested|promised)|knew (?:her|his|their) stuff|dignity|well informed|straight in"
     r"|too much trouble|couldn'?t (?:do enough|have asked|fault)|can'?t fault|put me at ease|made it (?:easy"
     r"|possible)|kept me|happy with|pleased)\b", 1.5),
)
# What a resident writes when proposing a change.
_SUGGESTION_CUES: Final = _cues(
    (r"\b(?:would (?:be|help|make)|could (?:you|we|be|have|offer)|should (?:be|have|know|offer)|it would"
     r"|would like|would love|would be (?:good|great|nice|helpful|handy|lovely))\b", 1.5),
    (r"^(?:please )?(?:more|have|make|let|put|give|add|offer|open|keep|send|tell|answer|stop|check|train"
     r"|show|use|provide|introduce|allow|bring|reduce|cheaper|free|larger|bigger|better|a |an |easy|earlier"
     r"|later|longer|shorter|separate|someone|staff (?:who|should|need)|maybe|perhaps|if|explain|quicker|faster"
     r"|clearer|simpler|large print|ask|update|publish|post|offer|hire|employ|install|fix the)\b", 1.5),
    (r"\bplease\b", 0.8),
    (r"\bfor (?:people|residents|those|us|families|carers|pensioners|older|disabled)\b", 0.8),
    (r"\b(?:instead of|rather than|option|an? (?:option|system|number|line|number|leaflet|loop)"
     r"|need (?:to|training|better)|needs? (?:more|a|better|to)|should|suggest\w*|idea|improve\w*)\b", 1.0),
    (r"\b(?:more|extra|longer|earlier|later|weekend|evening|saturday|sunday)\b", 0.5),
)
# Answers that say nothing about the service ("Nothing", "N/A", "filled in for my mum").
_OTHER_CUES: Final = _cues(
    (r"^(?:no|nothing|none|nowt|n/?a|not (?:applicable|sure|really|much)|no comments?|nothing (?:else|to add"
     r"|really|in particular|comes to mind|at all|special)|don'?t know|can'?t (?:think|say|remember|really)"
     r"|all (?:good|fine)|fine|ok(?:ay)?|alright|average|all of it)\b", 2.0),
    (r"^(?:thank you|thanks|thank you for asking|thanks for asking(?: my opinion)?)[.! ]*$", 3.0),
    (r"\b(?:on behalf of|filled (?:this|it) in|fill(?:ed|ing)? (?:this|these) in|survey|helped me fill|did this"
     r"|question|take part|be contacted|first time|only used|didn'?t (?:really )?need|no (?:real )?dealings"
     r"|no opinion|passing on|neither good nor bad|what (?:it was|i expected)|middle of the road)\b", 1.5),
)
# Answers to "What could we do better?" that are no criticism: "Nothing", "Keep doing what you're doing".
_NO_CHANGE_NEEDED: Final = re.compile(
    r"^(?:nothing|no|none|nowt|not really|carry on|keep (?:it up|doing)|all (?:good|fine)|everything was"
    r"|can'?t think|no improvements?)\b"
)

_THEME_CUES: Final[dict[Theme, tuple[tuple[re.Pattern[str], float], ...]]] = {
    Theme.STAFF_ATTITUDE: _cues(
        (r"\b(?:rude\w*|polite|friendly|kind(?:ly|ness)?|patient|impatient|pleasant|courteous|respect\w*"
         r"|dismissive|attitude|manner\w*|caring|care[sd]?|lovely|nice(?:r)?|warm|welcom\w*|sarcastic"
         r"|condescending|aggressive|threatening|intimidating|shouted|swore|smirk\w*|laughed at|rolled"
         r"|hung up|judged|talked down|ignored|contempt|dignity|sympathetic|understanding|listen\w*"
         r"|unprofessional|professional|star|heroes?|legend|smile|chatting|shrugged|nuisance|fobb\w*"
         r"|criminal|interrupting|short with me|calm|went out of (?:her|his) way|above and beyond"
         r"|extra mile|nothing was too much|couldn'?t do enough|couldn'?t have been nicer|made me feel)\b", 1.0),
        (r"\b(?:staff|man|woman|lady|gentleman|officer|advisor|adviser|receptionist|person|he|she|team"
         r"|crew|workman|warden|guard|manager|worker)\b", 0.3),
        (r"\b(?:helpful|unhelpful|clueless|excellent|brilliant|amazing|fantastic|fab|superb)\b", 0.4),
    ),
    Theme.WAITING_TIME: _cues(
        (r"\b(?:wait\w*|queue\w*|quick\w*|prompt\w*|fast|delay\w*|ages|on time|same day|same week"
         r"|straight away|straight in|in and out|turnaround|slow|early|waiting list|took \w+ (?:weeks|months"
         r"|days|hours)|seen (?:early|promptly|within))\b", 1.0),
        (r"\b(?:\d+|two|three|four|five|six|seven|eight|nine|ten|several|few) (?:minutes|hours|weeks|months"
         r"|years)\b(?! old)", 0.7),
        (r"\b(?:since (?:january|february|march|april|may|june|july|august|september|october|november"
         r"|december|last)|months|years|still waiting|still no)\b", 0.6),
    ),
    Theme.COMMUNICATION: _cues(
        (r"\b(?:call(?:ed)? back|ring back|rang (?:me )?back|callback|reply|replies|replied|respon\w+|letters?"
         r"|emails?|emailed|updat\w+|informed|in the loop|explain\w*|text\w*|voicemails?|acknowledg\w*"
         r"|jargon|plain english|understand|reference number|named contact|contact me|heard nothing"
         r"|rang me|got back|confirm\w*|newsletter|leaflet|information about|let (?:us|me|people) know"
         r"|tell (?:us|people)|keep (?:people|us) informed|promised|who is dealing|direct number"
         r"|one person to deal|social media|reminder)\b", 1.0),
        (r"\b(?:told|said|contact\w*|chas\w+|back)\b", 0.4),
    ),
    Theme.GETTING_THROUGH: _cues(
        (r"\b(?:phones?|lines?|ring|rang|calls?)\b", 0.4),
        (r"\b(?:on hold|get(?:ting)? through|got through|transferr\w*|engaged|answer(?:ed|s)? (?:the"
         r" phone|quickly|on)|rings and rings|cut off|call centre|contact centre|automated|menu|0300"
         r"|0800|freephone|number in the letter|get hold of|speak to (?:a person|anyone|a human)|human"
         r"|advisors are busy|number \d+ in the queue|recording|pick up|whatsapp|position in the queue"
         r"|keep your place|rang \d+ times|rang for|tried for)\b", 1.0),
    ),
    Theme.OUTCOME: _cues(
        (r"\b(?:sorted|solved|resolved|fixed|refused|decision|appeal|outcome|result|upheld|nothing (?:has|was)"
         r" (?:been )?done|still (?:there|no|not|broken|leaking)|not (?:collected|fixed)|never (?:collected"
         r"|returned)|got (?:my|the|a)|came through|cleared|removed|closed (?:my|the)|backdated|a place|stopped|done"
         r"|won'?t act|not (?:their|council) (?:problem|responsibility)|solution|lost (?:my|the)|ignored"
         r"|changed my life|big difference|finally|collected|cut back|actually did|nobody (?:wants to|cares)"
         r"|let down|care package|care home|disappear\w*|mistake|by mistake|broken up)\b", 1.0),
        (r"\b(?:help(?:ed)?|nothing|grant|badge|permit|problem)\b", 0.3),
    ),
    Theme.WEBSITE: _cues(
        (r"\b(?:website|web site|online|app|site|log ?in|password|upload\w*|live chat|chat online|search box"
         r"|page|screen reader|calendar|form (?:crashed|won'?t|asks)|booking for the tip|internet|button"
         r"|tracker)\b", 1.5),
    ),
    Theme.OPENING_HOURS: _cues(
        (r"\b(?:open(?:ing)?|shut\w*|saturdays?|sundays?|weekends?|evenings?|lunchtime|bank holidays?"
         r"|mornings only|only open)\b", 0.8),
        (r"\b(?:closed|hours|till \d|until \d|later|earlier|fridays?|[0-9]{1,2} ?(?:am|pm))\b", 0.35),
        (r"\b(?:opening hours|open (?:later|earlier|on|till|until)|stay open|keep the \w+ open|closing the"
         r"|closed (?:at|for|on))\b", 1.2),
    ),
    Theme.COST: _cues(
        (r"£\s?\d|\b(?:cost\w*|price\w*|charg\w+|fees?|fined|fine of|expensive|afford\w*|pay(?:ing)? for"
         r"|refund\w*|cheaper|discount|daylight robbery|payment plans?|money back|a fortune)\b", 1.2),
        (r"\b(?:paid|free|tax|pay)\b", 0.4),
    ),
    Theme.ACCESSIBILITY: _cues(
        (r"\b(?:wheelchairs?|disab\w+|ramp|lift|hearing|deaf|bsl|sign language|blind|large print|easy read"
         r"|interpret\w*|translat\w*|polish|urdu|bengali|welsh|english well|autis\w*|screen reader|subtitles"
         r"|handrail|stairs|steps|walking frame|accessible|can'?t (?:walk|stand|get out|hear)|poor eyesight"
         r"|learning difficulties|dementia|speak slowly|write things down|audio|chairs with arms|upstairs"
         r"|home visit|mobility|struggle to read)\b", 1.5),
    ),
    Theme.REPAIRS: _cues(
        (r"\b(?:repair\w*|leak\w*|damp|mou?ld|boiler|roof|windows?|plaster\w*|joiner|workman|contractor"
         r"|engineer|kitchen|hot water|pipe|cooker|gutter\w*|wet room|ceiling|rotten|trades|fitted|patched)\b", 1.0),
        (r"\b(?:heating|door|lock|toilet|bathroom|adaptations?|loft|fence)\b", 0.5),
    ),
    Theme.KNOWLEDGE: _cues(
        (r"\b(?:knew|know(?:s|ledge\w*)?|clueless|no idea|wrong (?:form|information|advice)|advice|accurate"
         r"|right (?:information|form|department)|different (?:answers?|story)|same answer|script|training"
         r"|understands?|read the website|didn'?t qualify|told i could|information first time|which form"
         r"|didn'?t know|did not know|case notes|rules)\b", 1.0),
    ),
    Theme.PREMISES: _cues(
        (r"\b(?:waiting (?:room|area)|toilets|building|signs|chairs|benches|reception area|clean|dirty|filthy"
         r"|freezing|smelt|car park|bike rack|water fountain|pram|got lost|somewhere private)\b", 0.8),
        (r"\b(?:cold|heating|office|hub|counter|noisy)\b", 0.3),
    ),
}
# fmt: on

# Questions that invite criticism make a suggestion likelier; those that invite praise, a compliment.
_QUESTION_PRIOR: Final[dict[QuestionKind | None, dict[CommentClass, float]]] = {
    QuestionKind.IMPROVE: {CommentClass.SUGGESTION: 1.5, CommentClass.COMPLIMENT: -1.0},
    QuestionKind.PRAISE: {CommentClass.COMPLIMENT: 1.0, CommentClass.COMPLAINT: -0.5},
    QuestionKind.GENERAL: {},
    None: {},
}
# The score "other" starts with: a comment has to show something to be anything else. A comment of several
# words with nothing positive in it is more often a complaint told flatly than a comment about nothing.
_OTHER_BASE: Final = 0.8
_OTHER_BASE_LONG: Final = 0.3
_LONG_COMMENT_WORDS: Final = 6
_SENTIMENT_WEIGHT: Final = 4.0
# How sharply scores turn into confidences.
_TEMPERATURE: Final = 1.0
# A missed complaint costs more than a second look: the complaint score is raised by this before comparing.
_COMPLAINT_BIAS: Final = 0.8


def _normalise(text: str) -> str:
    return " ".join(str(text).lower().replace("\u2019", "'").split())


def _cue_total(text: str, cues: Iterable[tuple[re.Pattern[str], float]]) -> float:
    total = 0.0
    for pattern, weight in cues:
        hits = len(pattern.findall(text))
        if hits:
            # Repeats count, with diminishing weight: "rude, rude, rude" is worse than "rude", not thrice.
            total += weight * (1 + math.log(hits))
    return total


def _softmax(scores: Mapping[CommentClass, float]) -> dict[CommentClass, float]:
    top = max(scores.values())
    exps = {name: math.exp((value - top) / _TEMPERATURE) for name, value in scores.items()}
    total = sum(exps.values())
    return {name: value / total for name, value in exps.items()}


def class_scores(text: str, *, question: QuestionKind | None = None) -> dict[CommentClass, float]:
    """The raw score of each class for a comment (higher is likelier); ``classify`` turns them into confidences."""
    words = _normalise(text)
    # Its weights were set against this scorer version's polarity: pinned, so a new default does not move them.
    polarity = score(text, question=question, version=V1).polarity
    scores = {
        CommentClass.COMPLAINT: _cue_total(words, _COMPLAINT_CUES) + _SENTIMENT_WEIGHT * max(0.0, -polarity),
        CommentClass.COMPLIMENT: _cue_total(words, _COMPLIMENT_CUES) + _SENTIMENT_WEIGHT * max(0.0, polarity),
        CommentClass.SUGGESTION: _cue_total(words, _SUGGESTION_CUES),
        CommentClass.OTHER: (_OTHER_BASE_LONG if words.count(" ") + 1 >= _LONG_COMMENT_WORDS else _OTHER_BASE)
        + _cue_total(words, _OTHER_CUES),
    }
    for name, prior in _QUESTION_PRIOR.get(question, {}).items():
        scores[name] += prior
    if question is QuestionKind.IMPROVE and _NO_CHANGE_NEEDED.match(words):
        scores[CommentClass.OTHER] += 2.0
    scores[CommentClass.COMPLAINT] += _COMPLAINT_BIAS
    return scores


def theme_confidences(text: str) -> dict[Theme, float]:
    """The confidence of every theme for a comment: 1 - exp(-evidence), so one strong cue gives about 0.6."""
    words = _normalise(text)
    return {theme: 1.0 - math.exp(-_cue_total(words, cues)) for theme, cues in _THEME_CUES.items()}


def classify(text: str, *, question: QuestionKind | None = None) -> Classification:
    """Classify a comment; ``question`` is the kind of question it answered, when known."""
    confidences = _softmax(class_scores(text, question=question))
    best = max(confidences, key=lambda name: confidences[name])
    themes = tuple(
        ScoredTheme(theme, round(confidence, 4))
        for theme, confidence in sorted(theme_confidences(text).items(), key=lambda item: -item[1])
        if confidence >= THEME_THRESHOLD
    )
    return Classification(
        comment_class=best,
        confidence=round(confidences[best], 4),
        class_confidences={name: round(value, 4) for name, value in confidences.items()},
        themes=themes,
    )


# --- Measuring the classifier against reviewers' corrections ----------------------------------------------


@dataclass(frozen=True, slots=True)
class Labels:
    """What a comment was classified as: its class and its themes."""

    comment_class: CommentClass
    themes: frozenset[Theme] = frozenset()


@dataclass(frozen=True, slots=True)
class PrecisionRecall:
    true_positives: int
    false_positives: int
    false_negatives: int

    @property
    def precision(self) -> float | None:
        """Share of predictions of this label that were right; None when it was never predicted."""
        predicted = self.true_positives + self.false_positives
        return self.true_positives / predicted if predicted else None

    @property
    def recall(self) -> float | None:
        """Share of comments truly of this label that were found; None when none truly were."""
        actual = self.true_positives + self.false_negatives
        return self.true_positives / actual if actual else None


@dataclass(frozen=True, slots=True)
class ClassifierReport:
    comments: int
    classes: dict[CommentClass, PrecisionRecall] = field(default_factory=dict)
    themes: dict[Theme, PrecisionRecall] = field(default_factory=dict)


def measure(pairs: Iterable[tuple[Labels, Labels]]) -> ClassifierReport:
    """Precision and recall per class and per theme from (predicted, corrected) pairs.

    A comment a reviewer confirmed unchanged counts as a pair whose two sides are equal.
    """
    counts: dict[CommentClass | Theme, list[int]] = {name: [0, 0, 0] for name in (*CommentClass, *Theme)}
    comments = 0
    for predicted, corrected in pairs:
        comments += 1
        if predicted.comment_class == corrected.comment_class:
            counts[predicted.comment_class][0] += 1
        else:
            counts[predicted.comment_class][1] += 1
            counts[corrected.comment_class][2] += 1
        for theme in predicted.themes & corrected.themes:
            counts[theme][0] += 1
        for theme in predicted.themes - corrected.themes:
            counts[theme][1] += 1
        for theme in corrected.themes - predicted.themes:
            counts[theme][2] += 1
    return ClassifierReport(
        comments=comments,
        classes={name: PrecisionRecall(*counts[name]) for name in CommentClass},
        themes={name: PrecisionRecall(*counts[name]) for name in Theme},
    )
