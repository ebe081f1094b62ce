"""Throughput of the comment scorer against plain ``TextBlob(text).sentiment`` on the same texts, same run.

    python bench/sentiment_throughput.py [--data DIR] [--repeat N]

Repetitions interleave the two scorers (alternating which goes first) and the medians are compared, because
the machines are shared and noisy. Prints "skipped" and exits 0 when the labelled data is not there.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from feedback.evaluation import read_labelled_tsv  # noqa: E402
from feedback.sentiment import SCORER_VERSION, V1, score  # noqa: E402


def _textblob() -> Callable[[str], object]:
    from textblob import TextBlob  # type: ignore[import-untyped]

    return lambda text: TextBlob(text).sentiment


def _seconds(function: Callable[[str], object], texts: list[str]) -> float:
    started = time.perf_counter()
    for text in texts:
        function(text)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data" / "sentiment")
    parser.add_argument("--repeat", type=int, default=5, help="interleaved repetitions (default 5)")
    args = parser.parse_args()

    files = sorted(args.data.glob("*.tsv")) if args.data.is_dir() else []
    if not files:
        print(f"sentiment throughput: skipped (no labelled *.tsv files in {args.data})")
        return 0
    texts = [row.text for path in files for row in read_labelled_tsv(path)]
    textblob = _textblob()

    def ours(text: str) -> object:
        return score(text)

    def frozen(text: str) -> object:
        return score(text, version=V1)

    for text in texts[:200]:  # warm up both: lexicon loading, regex compilation
        textblob(text)
        ours(text)
        frozen(text)

    baseline: list[float] = []
    candidate: list[float] = []
    previous: list[float] = []
    for repetition in range(max(1, args.repeat)):
        if repetition % 2 == 0:
            baseline.append(_seconds(textblob, texts))
            candidate.append(_seconds(ours, texts))
            previous.append(_seconds(frozen, texts))
        else:
            previous.append(_seconds(frozen, texts))
            candidate.append(_seconds(ours, texts))
            baseline.append(_seconds(textblob, texts))
    baseline_rate = len(texts) / statistics.median(baseline)
    candidate_rate = len(texts) / statistics.median(candidate)
    previous_rate = len(texts) / statistics.median(previous)
    print(f"texts: {len(texts)} from {len(files)} files, {args.repeat} interleaved repetitions, medians")
    print(f"TextBlob(text).sentiment: {baseline_rate:,.0f} texts/s")
    print(f"score(text, version={V1!r}): {previous_rate:,.0f} texts/s ({previous_rate / baseline_rate:.2f})")
    print(f"score(text) [{SCORER_VERSION}, the default]: {candidate_rate:,.0f} texts/s")
    print(f"sentiment throughput ratio: {candidate_rate / baseline_rate:.2f} (target >= 1.0)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
