"""Accuracy of the comment scorer on the shared labelled files, against baselines measured the same way.

    python bench/sentiment_accuracy.py [--data DIR]

For each file: plain ``TextBlob(text).sentiment.polarity`` computed in this run, the VADER figures quoted in
the data's README (VADER is not a dependency), and this scorer, all under the README convention (two-label
files: a forced choice, 0 counts as negative; three-label files: neutral is a class, macro-F1 reported).
Prints "skipped" and exits 0 when the labelled data is not there.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from feedback.evaluation import EvaluationReport, LabelledText, Scorer, evaluate, read_labelled_tsv  # noqa: E402
from feedback.sentiment import SCORER_VERSION, Label, QuestionKind, Sentiment  # noqa: E402

# VADER compound score, cut at 0 (two labels) or +-0.05 (three labels), as published in
# ../shared/data/sentiment/README.md: file -> (accuracy, macro-F1 or None when not quoted).
VADER_README: dict[str, tuple[float, float | None]] = {
    "uci_amazon_cells": (0.844, None),
    "uci_imdb": (0.791, None),
    "uci_yelp": (0.816, None),
    "airline_tweets": (0.490, 0.457),
}


def textblob_scorer() -> Scorer:
    from textblob import TextBlob  # type: ignore[import-untyped]

    def scorer(text: str, *, question: QuestionKind | None = None) -> Sentiment:
        polarity = float(TextBlob(text).sentiment.polarity)
        label = Label.POSITIVE if polarity > 0 else Label.NEGATIVE if polarity < 0 else Label.NEUTRAL
        return Sentiment(polarity=max(-1.0, min(1.0, polarity)), label=label, scorer_version="textblob")

    return scorer


def _is_three_label(rows: list[LabelledText]) -> bool:
    return any(row.label is Label.NEUTRAL for row in rows)


def _figures(report: EvaluationReport, three_label: bool) -> str:
    if three_label:
        return f"accuracy {report.accuracy:.4f}  macro-F1 {report.macro_f1:.4f}"
    return f"accuracy {report.accuracy:.4f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data" / "sentiment")
    args = parser.parse_args()
    files = sorted(args.data.glob("*.tsv")) if args.data.is_dir() else []
    if not files:
        print(f"sentiment accuracy: skipped (no labelled *.tsv files in {args.data})")
        return 0

    baseline = textblob_scorer()
    verdicts: list[str] = []
    for path in files:
        rows = read_labelled_tsv(path)
        three_label = _is_three_label(rows)
        ours = evaluate(rows)
        textblob = evaluate(rows, scorer=baseline)
        vader = VADER_README.get(path.stem)
        print(f"{path.stem} ({len(rows)} rows, {'3' if three_label else '2'} labels)")
        print(f"  TextBlob           {_figures(textblob, three_label)}")
        if vader is not None:
            vader_f1 = f"  macro-F1 {vader[1]:.4f}" if vader[1] is not None else ""
            print(f"  VADER (README)     accuracy {vader[0]:.4f}{vader_f1}")
        print(f"  {SCORER_VERSION:<18} {_figures(ours, three_label)}")
        beats_textblob = ours.accuracy > textblob.accuracy and (not three_label or ours.macro_f1 > textblob.macro_f1)
        if vader is None:
            verdict = f"{path.stem}: beats TextBlob: {'yes' if beats_textblob else 'NO'} (no VADER figure)"
        else:
            beats_vader = ours.accuracy > vader[0] and (not three_label or vader[1] is None or ours.macro_f1 > vader[1])
            both = beats_textblob and beats_vader
            verdict = f"{path.stem}: beats TextBlob and VADER: {'yes' if both else 'NO'}"
        verdicts.append(verdict)
    print()
    for verdict in verdicts:
        print(verdict)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
