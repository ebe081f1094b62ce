"""Accuracy of the comment scorers on the last 30% of each shared labelled file (the part no scorer was trained
or tuned on) and on the team's hand-written council comments, against TextBlob and VADER measured the same way.

    python bench/sentiment_accuracy.py [--data DIR]

Each shared file is split by ``bench/sentiment_data.py``: the first 70% in file order trains `cv-sentiment-2` and
`cv-sentiment-3`, the last 30% is measured here. Conventions of the data's README: two-label files force a choice
(0 counts as negative); three-label files score neutral as a class and report macro-F1. VADER is measured when
``vaderSentiment`` is installed (the ``training`` extra); otherwise it is left out. Prints "skipped" and exits 0
when the labelled data is not there.
"""

from __future__ import annotations

import argparse
import functools
import sys
from collections.abc import Sequence
from pathlib import Path

import sentiment_data
from sentiment_data import REPO, SHARED_DATA, shared_splits

from feedback.evaluation import EvaluationReport, LabelledText, Scorer, evaluate, read_labelled_tsv
from feedback.sentiment import SCORER_VERSION, V1, V2, V3, Label, QuestionKind, Sentiment, score

COUNCIL = REPO / "tests" / "fixtures" / "council_comments.tsv"
assert sentiment_data.TRAIN_SHARE == 0.7


def textblob_scorer() -> Scorer:
    from textblob import TextBlob  # type: ignore[import-untyped]

    def scorer(text: str, *, question: QuestionKind | None = None) -> Sentiment:
        polarity = max(-1.0, min(1.0, float(TextBlob(text).sentiment.polarity)))
        label = Label.POSITIVE if polarity > 0 else Label.NEGATIVE if polarity < 0 else Label.NEUTRAL
        return Sentiment(polarity=polarity, label=label, scorer_version="textblob")

    return scorer


def vader_scorer() -> Scorer | None:
    try:
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer  # type: ignore[import-untyped]
    except ImportError:
        return None
    analyser = SentimentIntensityAnalyzer()

    def scorer(text: str, *, question: QuestionKind | None = None) -> Sentiment:
        compound = float(analyser.polarity_scores(text)["compound"])
        label = Label.POSITIVE if compound >= 0.05 else Label.NEGATIVE if compound <= -0.05 else Label.NEUTRAL
        return Sentiment(polarity=max(-1.0, min(1.0, compound)), label=label, scorer_version="vader")

    return scorer


def scorers() -> dict[str, Scorer]:
    found: dict[str, Scorer] = {"TextBlob": textblob_scorer()}
    vader = vader_scorer()
    if vader is not None:
        found["VADER"] = vader
    found[V1] = functools.partial(score, version=V1)
    found[V2] = functools.partial(score, version=V2)
    found[V3] = functools.partial(score, version=V3)
    return found


def _figures(report: EvaluationReport, three_label: bool) -> str:
    if three_label:
        neutral = report.per_label.get("neutral", {}).get("f1", 0.0)
        return f"accuracy {report.accuracy:.3f}  macro-F1 {report.macro_f1:.3f}  neutral F1 {float(neutral):.3f}"
    return f"accuracy {report.accuracy:.3f}"


def _measure(name: str, rows: Sequence[LabelledText], found: dict[str, Scorer]) -> dict[str, EvaluationReport]:
    three_label = any(row.label is Label.NEUTRAL for row in rows)
    print(f"{name} ({len(rows)} rows, {'3' if three_label else '2'} labels)")
    reports = {}
    for scorer_name, scorer in found.items():
        reports[scorer_name] = evaluate(rows, scorer=scorer)
        print(f"  {scorer_name:<15} {_figures(reports[scorer_name], three_label)}")
    return reports


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=SHARED_DATA)
    args = parser.parse_args()
    splits = shared_splits(args.data)
    if not splits:
        print(f"sentiment accuracy: skipped (no labelled *.tsv files in {args.data})")
        return 0
    found = scorers()
    if "VADER" not in found:
        print("VADER: not installed (pip install -e '.[training]'), left out")
    targets = []
    v3_holds = True
    for split in splits:
        reports = _measure(f"{split.name}, last 30%", split.test, found)
        three_label = any(row.label is Label.NEUTRAL for row in split.test)
        key = "macro_f1" if three_label else "accuracy"
        target = 0.65 if three_label else 0.88
        targets.append(
            f"{split.name} {key} {getattr(reports[V3], key):.3f} (>= {target}: "
            f"{'yes' if getattr(reports[V3], key) >= target else 'NO'})"
        )
        v3_holds = v3_holds and getattr(reports[V3], key) >= getattr(reports[V2], key)
    council = _measure("council comments written by the team (tests/fixtures)", read_labelled_tsv(COUNCIL), found)
    council_holds = council[V3].macro_f1 >= council[V2].macro_f1
    print()
    print(f"{V3} against the issue's targets: " + "; ".join(targets))
    print(f"{V3} at least as good as {V2} on every last-30% split: {'yes' if v3_holds else 'NO'}")
    print(f"{V3} at least as good as {V2} on the council comments (macro-F1): {'yes' if council_holds else 'NO'}")
    print(f"default for new scores: {SCORER_VERSION}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
