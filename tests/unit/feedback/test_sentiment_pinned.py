"""`cv-sentiment-1` is frozen: stored scores name it, so it must give the same score to every text for good.

The fixture holds every line of the shared labelled files (``../shared/data/sentiment/*.tsv``) and of
``sentiment_sample.tsv`` (with its question), each with the polarity `cv-sentiment-1` gave it before the scorer
was split into named steps and a data file. Regenerating the fixture would defeat the test: never do it.
"""

from __future__ import annotations

import gzip
from pathlib import Path

from feedback.sentiment import question_kind, score

PINNED = Path(__file__).parents[2] / "fixtures" / "sentiment_v1_pinned.tsv.gz"
VERSION = "cv-sentiment-1"


def pinned_rows() -> list[list[str]]:
    lines = gzip.decompress(PINNED.read_bytes()).decode("utf-8").split("\n")
    assert lines[0] == "source\tline\tquestion\ttext\tpolarity"
    return [line.split("\t") for line in lines[1:] if line]


def test_the_fixture_covers_every_shared_file() -> None:
    counts: dict[str, int] = {}
    for source, *_ in pinned_rows():
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
    for source, line, question, text, expected in pinned_rows():
        kind = question_kind(question) if question.strip() else None
        sentiment = score(text, question=kind, version=VERSION)
        assert sentiment.scorer_version == VERSION
        if abs(sentiment.polarity - float(expected)) > 1e-6:
            moved.append(f"{source}:{line} expected {expected}, got {sentiment.polarity!r}")
    assert not moved, f"{len(moved)} scores moved, first: {moved[:5]}"
