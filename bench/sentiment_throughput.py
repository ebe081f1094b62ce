"""Throughput of each comment scorer version against plain ``TextBlob(text).sentiment`` on the same texts, same run.

    python bench/sentiment_throughput.py [--data DIR] [--repeat N]

Repetitions interleave the scorers (alternating their order) and the medians are compared, because the machines
are shared and noisy. Prints "skipped" and exits 0 when the labelled data is not there.
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
from feedback.sentiment import SCORER_VERSION, VERSIONS, score  # noqa: E402


def _textblob() -> Callable[[str], object]:
    from textblob import TextBlob  # type: ignore[import-untyped]

    return lambda text: TextBlob(text).sentiment


def _version(version: str) -> Callable[[str], object]:
    return lambda text: score(text, version=version)


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
    scorers = {"TextBlob(text).sentiment": _textblob(), **{version: _version(version) for version in VERSIONS}}
    for text in texts[:200]:  # warm up: lexicons, model weights, regex compilation
        for scorer in scorers.values():
            scorer(text)

    seconds: dict[str, list[float]] = {name: [] for name in scorers}
    for repetition in range(max(1, args.repeat)):
        order = list(scorers.items())
        for name, scorer in order if repetition % 2 == 0 else reversed(order):
            seconds[name].append(_seconds(scorer, texts))
    rates = {name: len(texts) / statistics.median(times) for name, times in seconds.items()}
    baseline = rates["TextBlob(text).sentiment"]
    print(f"texts: {len(texts)} from {len(files)} files, {args.repeat} interleaved repetitions, medians")
    for name, rate in rates.items():
        print(f"{name}: {rate:,.0f} texts/s ({rate / baseline:.2f} x TextBlob)")
    ratio = rates[SCORER_VERSION] / baseline
    print(f"sentiment throughput ratio ({SCORER_VERSION}, the default): {ratio:.2f} (target >= 1.0)")
    newest = VERSIONS[-1]
    if newest != SCORER_VERSION:
        print(f"sentiment throughput ratio ({newest}, the newest): {rates[newest] / baseline:.2f} (target >= 1.0)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
