"""Write ``feedback/data/sentiment_words_vader.json``: the word valences of VADER's lexicon, for `cv-sentiment-3`.

    pip install -e '.[training]'
    python bench/sentiment_vader_words.py

VADER (vaderSentiment 3.3.2, C.J. Hutto, MIT licence) rates about 7,500 words and tokens on a -4..4 scale by the
mean of ten human raters. Only single lower-case words are kept (no emoticons, no abbreviations of one or two
letters); `cv-sentiment-3` reads them as classes of words (``+vad``, ``-vad``), so a word the training data never
saw still counts. Nothing of the labelled data is read here.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "feedback" / "data" / "sentiment_words_vader.json"


def main() -> int:
    import vaderSentiment  # type: ignore[import-untyped]

    folder = Path(vaderSentiment.__file__).parent
    words: dict[str, float] = {}
    for line in (folder / "vader_lexicon.txt").read_text(encoding="utf-8").splitlines():
        word, mean, *_ = line.split("\t")
        if len(word) >= 3 and word.replace("-", "").replace("'", "").isalpha() and word == word.lower():
            words[word] = round(float(mean), 2)
    licence = folder.parent / "vaderSentiment-3.3.2.dist-info" / "LICENSE.txt"  # MIT: shipped with the words
    document = {
        "_about": (
            "Word valences (-4..4, mean of ten human raters) from VADER's lexicon, vaderSentiment 3.3.2 "
            "(Hutto & Gilbert, ICWSM 2014), single lower-case words of three letters or more; written by "
            "bench/sentiment_vader_words.py. Used by cv-sentiment-3 as classes of words."
        ),
        "_licence": licence.read_text(encoding="utf-8").strip().splitlines(),
        "words": dict(sorted(words.items())),
    }
    OUT.write_text(json.dumps(document, ensure_ascii=False, indent=0) + "\n", encoding="utf-8")
    print(f"wrote {OUT} ({len(words)} words, {OUT.stat().st_size:,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
