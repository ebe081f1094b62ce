"""Shipped scorer versions are frozen: stored scores name their version, so a version must give the same score
to every text for good. A change that moves a score is a new version.

``sentiment_v1_pinned.tsv.gz`` holds every line of the shared labelled files (``../shared/data/sentiment/*.tsv``)
and of ``sentiment_sample.tsv`` (with its question), each with the polarity `cv-sentiment-1` gave it before the
scorer was split into named steps and a data file. ``sentiment_v2_pinned.tsv.gz`` holds `cv-sentiment-2`'s
polarity and label of the same lines and of ``council_comments.tsv``, as shipped. Never regenerate either.
``sentiment_v3_pinned.tsv.gz`` holds the same for `cv-sentiment-3`, written once when it shipped; never regenerate it.
"""

from __future__ import annotations

import gzip
from pathlib import Path

from feedback.evaluation import read_labelled_tsv
from feedback.sentiment import V1, V2, V3, QuestionKind, question_kind, score

FIXTURES = Path(__file__).parents[2] / "fixtures"


def _rows(name: str) -> list[list[str]]:
    lines = gzip.decompress((FIXTURES / name).read_bytes()).decode("utf-8").split("\n")
    return [line.split("\t") for line in lines[1:] if line]


def pinned_texts() -> dict[tuple[str, str], tuple[QuestionKind | None, str]]:
    """(source, line) -> (kind of question, text) for every pinned line."""
    texts = {
        (source, line): (question_kind(question) if question.strip() else None, text)
        for source, line, question, text, _ in _rows("sentiment_v1_pinned.tsv.gz")
    }
    for row in read_labelled_tsv(FIXTURES / "council_comments.tsv"):
        texts["council_comments.tsv", str(row.line)] = (row.question, row.text)
    return texts


def test_the_fixture_covers_every_shared_file() -> None:
    counts: dict[str, int] = {}
    for source, *_ in _rows("sentiment_v1_pinned.tsv.gz"):
        counts[source] = counts.get(source, 0) + 1
    assert counts == {
        "airline_tweets.tsv": 14_640,
        "uci_amazon_cells.tsv": 1_000,
        "uci_imdb.tsv": 1_000,
        "uci_yelp.tsv": 1_000,
        "sentiment_sample.tsv": 51,
    }


def test_cv_sentiment_1_scores_every_pinned_line_as_it_always_did() -> None:
    moved: list[str] = []
    for source, line, question, text, expected in _rows("sentiment_v1_pinned.tsv.gz"):
        kind = question_kind(question) if question.strip() else None
        sentiment = score(text, question=kind, version=V1)
        assert sentiment.scorer_version == V1
        if abs(sentiment.polarity - float(expected)) > 1e-6:
            moved.append(f"{source}:{line} expected {expected}, got {sentiment.polarity!r}")
    assert not moved, f"{len(moved)} scores moved, first: {moved[:5]}"


def test_cv_sentiment_2_scores_every_pinned_line_as_it_shipped() -> None:
    texts = pinned_texts()
    pinned = _rows("sentiment_v2_pinned.tsv.gz")
    assert len(pinned) == len(texts)
    moved: list[str] = []
    for source, line, expected, label in pinned:
        question, text = texts[source, line]
        sentiment = score(text, question=question, version=V2)
        assert sentiment.scorer_version == V2
        if abs(sentiment.polarity - float(expected)) > 1e-6 or sentiment.label.value != label:
            moved.append(f"{source}:{line} expected {expected} {label}, got {sentiment.polarity!r} {sentiment.label}")
    assert not moved, f"{len(moved)} scores moved, first: {moved[:5]}"


def test_cv_sentiment_3_scores_every_pinned_line_as_it_shipped() -> None:
    texts = pinned_texts()
    pinned = _rows("sentiment_v3_pinned.tsv.gz")
    assert len(pinned) == len(texts)
    moved: list[str] = []
    for source, line, expected, label in pinned:
        question, text = texts[source, line]
        sentiment = score(text, question=question, version=V3)
        assert sentiment.scorer_version == V3
        if abs(sentiment.polarity - float(expected)) > 1e-6 or sentiment.label.value != label:
            moved.append(f"{source}:{line} expected {expected} {label}, got {sentiment.polarity!r} {sentiment.label}")
    assert not moved, f"{len(moved)} scores moved, first: {moved[:5]}"
