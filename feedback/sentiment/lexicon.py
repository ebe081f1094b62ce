"""The word lists of the sentiment scorers, read once from ``feedback/data/sentiment_lexicon.json``, on top
of TextBlob's own lexicon (``textblob/en/en-sentiment.xml``), which ships with the TextBlob package."""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources, util
from pathlib import Path
from typing import Any, Final
from xml.etree import ElementTree

LEXICON_FILE: Final = "sentiment_lexicon.json"


def read_data_file(name: str) -> Any:
    """A JSON document shipped in ``feedback/data`` (package data: no network, no working directory)."""
    return json.loads(resources.files("feedback.data").joinpath(name).read_text(encoding="utf-8"))


@dataclass(frozen=True, slots=True)
class Phrase:
    rest: list[str]  # the words after the first
    kind: str  # "pol", "mod", "neg", "skip" or "at best" (see the data file)
    value: float


@dataclass(frozen=True, slots=True)
class WordLists:
    """Every list of the data file, in the shapes the scorers look words up in."""

    not_evaluative: frozenset[str]
    customer_service: dict[str, float]
    fails_when_negated: frozenset[str]
    phrases: dict[str, tuple[str, float]]
    intensifiers: dict[str, float]
    symbols: dict[str, float]
    negators: frozenset[str]
    scope_transparent: frozenset[str]
    hypothetical: frozenset[str]
    patronage: frozenset[str]
    time_units: frozenset[str]
    quantities: frozenset[str]
    wait_leads: frozenset[str]
    like_as_verb: frozenset[str]
    well_as_degree: frozenset[str]
    verdict_before: frozenset[str]
    refuse_after: frozenset[str]
    fine_as_penalty_after: frozenset[str]
    nothing_answers: frozenset[str]
    everything_answers: frozenset[str]
    # cv-sentiment-2 only
    non_answers: frozenset[str]
    welsh_words: frozenset[str]
    # cv-sentiment-3 only
    v3_non_answers: frozenset[str]


def load_word_lists() -> WordLists:
    document = read_data_file(LEXICON_FILE)

    def words(section: str) -> frozenset[str]:
        return frozenset(document[section]["words"])

    def weighted(section: str) -> dict[str, float]:
        return {word: float(value) for word, value in document[section]["words"].items()}

    symbols = document["symbols"]
    return WordLists(
        not_evaluative=words("not_evaluative"),
        customer_service=weighted("customer_service"),
        fails_when_negated=words("fails_when_negated"),
        phrases={phrase: (kind, float(value)) for phrase, (kind, value) in document["phrases"]["phrases"].items()},
        intensifiers=weighted("intensifiers"),
        symbols={**symbols["emoticons"], **symbols["emoji"]},
        negators=words("negators"),
        scope_transparent=words("scope_transparent"),
        hypothetical=words("hypothetical"),
        patronage=words("patronage"),
        time_units=words("time_units"),
        quantities=words("quantities"),
        wait_leads=words("wait_leads"),
        like_as_verb=words("like_as_verb"),
        well_as_degree=words("well_as_degree"),
        verdict_before=words("verdict_before"),
        refuse_after=words("refuse_after"),
        fine_as_penalty_after=words("fine_as_penalty_after"),
        nothing_answers=frozenset(document["nothing_answers"]["answers"]),
        everything_answers=frozenset(document["everything_answers"]["answers"]),
        non_answers=frozenset(document["v2_non_answers"]["answers"]),
        welsh_words=words("welsh_words"),
        v3_non_answers=frozenset(document["v3_non_answers"]["answers"]),
    )


def superlative(adjective: str) -> str | None:
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


Senses = dict[str | None, tuple[float, ...]]


def _average(columns: list[tuple[float, ...]]) -> tuple[float, ...]:
    return tuple(sum(column) / float(len(column) or 1) for column in zip(*columns, strict=True))


def textblob_senses() -> dict[str, Senses]:
    """TextBlob's word list, ``textblob/en/en-sentiment.xml``, read as ``textblob.en.sentiment.load()`` reads it:
    (polarity, subjectivity, intensity) averaged over the senses of each part of speech, and under ``None`` over
    the parts of speech; each adjective's "-ly" adverb added with the adjective's scores.

    The file is found without importing TextBlob, which imports NLTK and SciPy: a second at every start of the
    server, a worker or a CLI command. A test checks the result equals TextBlob's own reading of the file.
    """
    spec = util.find_spec("textblob")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("TextBlob is not installed: civicvoice's sentiment scorers read its word list.")
    path = Path(next(iter(spec.submodule_search_locations))) / "en" / "en-sentiment.xml"
    by_pos: dict[str, dict[str | None, list[tuple[float, ...]]]] = {}
    for element in ElementTree.parse(path).getroot().iter("word"):  # noqa: S314 - the installed package's file
        form = element.attrib.get("form")
        if form:
            scores = tuple(
                float(element.attrib.get(name, default))
                for name, default in (("polarity", 0.0), ("subjectivity", 0.0), ("intensity", 1.0))
            )
            by_pos.setdefault(form, {}).setdefault(element.attrib.get("pos"), []).append(scores)
    words: dict[str, Senses] = {}
    for form, read in by_pos.items():
        averaged: Senses = {pos: _average(scores) for pos, scores in read.items()}
        averaged[None] = _average(list(averaged.values()))
        words[form] = averaged
    for form, senses in list(words.items()):  # "terrible" -> "terribly", as TextBlob's loader adds them
        if "JJ" in senses:
            stem = form[:-1] + "i" if form.endswith("y") else form
            stem = stem[:-2] if stem.endswith("le") else stem
            adverb = words.setdefault(stem + "ly", {})
            adverb["RB"] = adverb[None] = senses["JJ"]
    return words


def polarity_lexicon(lists: WordLists) -> dict[str, float]:
    """TextBlob's polarity per word, averaged over senses as ``TextBlob(text).sentiment`` uses it, with
    superlatives of its adjectives (TextBlob itself adds "-ly" adverbs the same way) and our vocabulary."""
    lexicon: dict[str, float] = {}
    superlatives: dict[str, float] = {}
    for word, senses in textblob_senses().items():
        polarity = float(senses[None][0])
        if abs(polarity) < 0.01 or word in lists.not_evaluative or "'" in word:
            continue
        lexicon[word] = polarity
        if "JJ" in senses and (form := superlative(word)) is not None:
            superlatives[form] = max(-1.0, min(1.0, polarity * 1.2))
    for form, polarity in superlatives.items():
        lexicon.setdefault(form, polarity)
    lexicon.update(lists.customer_service)
    for word in lists.intensifiers:  # "very", "pretty", "real": modifiers here, not sentiment of their own
        lexicon.pop(word, None)
    return lexicon


def phrase_index(phrases: dict[str, tuple[str, float]]) -> dict[str, list[Phrase]]:
    """First word -> phrases that start with it, longest first."""
    index: dict[str, list[Phrase]] = {}
    for phrase, (kind, value) in phrases.items():
        first, *rest = phrase.split()
        index.setdefault(first, []).append(Phrase(rest, kind, value))
    for entries in index.values():
        entries.sort(key=lambda entry: -len(entry.rest))
    return index


WORDS: Final = load_word_lists()
LEXICON: Final = polarity_lexicon(WORDS)
PHRASE_START: Final = phrase_index(WORDS.phrases)
