"""The shared labelled files split once, the same way for training and for every reported figure: the first 70%
of each file's rows in file order trains, the last 30% measures. Nothing here is tuned on the last 30%."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from feedback.evaluation import LabelledText, read_labelled_tsv  # noqa: E402

SHARED_DATA = REPO.parent / "shared" / "data" / "sentiment"
TRAIN_SHARE = 0.7


@dataclass(frozen=True, slots=True)
class Split:
    name: str  # the file's stem, e.g. "uci_yelp"
    train: list[LabelledText]  # first 70% in file order
    test: list[LabelledText]  # last 30%


def split(path: Path) -> Split:
    rows = read_labelled_tsv(path)
    cut = int(len(rows) * TRAIN_SHARE)
    return Split(path.stem, rows[:cut], rows[cut:])


def shared_splits(data: Path = SHARED_DATA) -> list[Split]:
    """Every ``*.tsv`` of the shared data folder, split; empty when the folder is not there."""
    return [split(path) for path in sorted(data.glob("*.tsv"))] if data.is_dir() else []
