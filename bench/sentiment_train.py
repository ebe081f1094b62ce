"""Train the weights of `cv-sentiment-2` or `cv-sentiment-3` and write ``feedback/data/sentiment_model_vN.json``.

    pip install -e '.[training]'
    python bench/sentiment_train.py [--version 2|3] [--data DIR] [--out FILE] [--select]

Trains ONLY on the first 70% of each shared labelled file in file order (``bench/sentiment_data.py``); the last
30% is never read here. ``--select`` prints the cross-validation used to choose the settings below, also run on
the first 70% only: contiguous folds within each file, and leave-one-UCI-file-out (a proxy for text from a
domain the model has not seen). Deterministic: the same data gives the same file.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sentiment_data import SHARED_DATA, shared_splits  # noqa: E402

from feedback.evaluation import LabelledText  # noqa: E402
from feedback.sentiment.model import CLASSES, DENSE_FEATURES, MODEL_FILE, Features, features  # noqa: E402
from feedback.sentiment.model_v3 import DENSE_FEATURES_V3, MODEL_FILE_V3, features_v3  # noqa: E402

DECIMALS = 4


@dataclass(frozen=True, slots=True)
class Settings:
    version: str
    model_file: str
    dense_features: tuple[str, ...]
    features: Callable[[str], Features]
    c: float  # inverse L2 strength: small, so the n-grams only correct the lexicon where the data insists
    dense_scale: float  # lexicon features enter scaled up, so the penalty leans on them less than on n-grams
    min_count: int  # an n-gram must occur in at least this many training texts
    airline_share: float  # the airline tweets' share of the weight, against the three UCI files together


# Chosen with --select on the first 70% (see the module docstring), then fixed.
VERSIONS = {
    "2": Settings("2", MODEL_FILE, DENSE_FEATURES, features, c=0.3, dense_scale=3.0, min_count=3, airline_share=0.5),
    "3": Settings(
        "3", MODEL_FILE_V3, DENSE_FEATURES_V3, features_v3, c=0.15, dense_scale=3.0, min_count=3, airline_share=0.5
    ),
}

Rows = Sequence[tuple[LabelledText, str, Features]]


def _matrix(found: Sequence[Features], vocabulary: dict[str, int], settings: Settings):  # type: ignore[no-untyped-def]
    from scipy.sparse import csr_matrix, hstack  # type: ignore[import-untyped]

    rows, cols = [], []
    for row, item in enumerate(found):
        for gram in item.ngrams:
            col = vocabulary.get(gram)
            if col is not None:
                rows.append(row)
                cols.append(col)
    sparse = csr_matrix(([1.0] * len(rows), (rows, cols)), shape=(len(found), len(vocabulary)))
    dense = csr_matrix([[value * settings.dense_scale for value in item.dense] for item in found])
    return hstack([sparse, dense]).tocsr()


def _weights(rows: Rows, settings: Settings) -> list[float]:
    """Balanced classes, and airline against UCI as ``settings.airline_share``."""
    labels = Counter(str(row.label) for row, _, _ in rows)
    sources = Counter("airline" if source.startswith("airline") else "uci" for _, source, _ in rows)
    total = len(rows)
    weights = []
    for row, source, _ in rows:
        kind = "airline" if source.startswith("airline") else "uci"
        share = settings.airline_share if kind == "airline" else 1.0 - settings.airline_share
        if len(sources) == 1:
            share = 1.0
        class_weight = total / (len(labels) * labels[str(row.label)])
        weights.append(class_weight * share * total / sources[kind])
    return weights


def fit(rows: Rows, settings: Settings):  # type: ignore[no-untyped-def]
    from sklearn.linear_model import LogisticRegression  # type: ignore[import-untyped]

    found = [item for _, _, item in rows]
    counts = Counter(gram for item in found for gram in item.ngrams)
    kept = sorted(g for g, n in counts.items() if n >= settings.min_count)
    vocabulary = {gram: at for at, gram in enumerate(kept)}
    model = LogisticRegression(C=settings.c, max_iter=3000, solver="lbfgs")
    labels = [str(row.label) for row, _, _ in rows]
    model.fit(_matrix(found, vocabulary, settings), labels, sample_weight=_weights(rows, settings))
    return model, vocabulary


def export(model, vocabulary: dict[str, int], settings: Settings) -> dict[str, object]:  # type: ignore[no-untyped-def]
    order = [list(model.classes_).index(name) for name in CLASSES]
    coef = model.coef_
    if coef.shape[0] == 1:
        raise ValueError("training data must hold all three classes")
    columns = len(vocabulary)
    ngrams: dict[str, list[float]] = {}
    for gram, col in sorted(vocabulary.items()):
        weights = [round(float(coef[k, col]), DECIMALS) for k in order]
        if any(weights):
            ngrams[gram] = weights
    dense = [
        [round(float(coef[k, columns + at]) * settings.dense_scale, DECIMALS) for k in order]
        for at in range(len(settings.dense_features))
    ]
    return {
        "_about": (
            f"cv-sentiment-{settings.version} weights: multinomial logistic regression (scikit-learn) trained by "
            f"bench/sentiment_train.py{'' if settings.version == '2' else ' --version ' + settings.version} on the "
            "first 70% (file order) of each file in shared/data/sentiment; figures are on the last 30%."
        ),
        "classes": list(CLASSES),
        "dense_features": list(settings.dense_features),
        "intercept": [round(float(model.intercept_[k]), DECIMALS) for k in order],
        "dense": dense,
        "ngrams": ngrams,
    }


def _macro_f1(gold: Sequence[str], guess: Sequence[str]) -> float:
    scores = []
    for label in sorted(set(gold)):
        tp = sum(1 for g, p in zip(gold, guess, strict=True) if g == p == label)
        predicted, support = guess.count(label), gold.count(label)
        precision = tp / predicted if predicted else 0.0
        recall = tp / support
        scores.append(2 * precision * recall / (precision + recall) if precision + recall else 0.0)
    return sum(scores) / len(scores)


def _guess(model, vocabulary, rows: Rows, settings: Settings) -> tuple[list[str], list[str]]:  # type: ignore[no-untyped-def]
    """Gold labels and guesses; two-label files force a choice between positive and negative."""
    gold = [str(row.label) for row, _, _ in rows]
    probabilities = model.predict_proba(_matrix([item for _, _, item in rows], vocabulary, settings))
    classes = list(model.classes_)
    if set(gold) <= {"positive", "negative"}:
        positive, negative = classes.index("positive"), classes.index("negative")
        return gold, ["positive" if p[positive] > p[negative] else "negative" for p in probabilities]
    return gold, [classes[max(range(len(classes)), key=lambda k: p[k])] for p in probabilities]


def select(
    train: dict[str, Rows], settings: Settings, grid: dict[str, Sequence[float]], folds_run: Sequence[int], loo: bool
) -> None:
    """Cross-validation on the first 70% only: 5 contiguous folds (those of ``folds_run``), and leave one UCI file
    out (when ``loo``)."""
    names = list(grid)
    for values in itertools.product(*(grid[name] for name in names)):
        trial = replace(settings, **dict(zip(names, values, strict=True)))
        folds: dict[str, list[float]] = {name: [] for name in train}
        for fold in folds_run:
            fitting: list[tuple[LabelledText, str, Features]] = []
            held = {}
            for name, rows in train.items():
                size = len(rows) // 5
                lo, hi = fold * size, (fold + 1) * size
                fitting += [*rows[:lo], *rows[hi:]]
                held[name] = rows[lo:hi]
            model, vocabulary = fit(fitting, trial)
            for name, rows in held.items():
                folds[name].append(_macro_f1(*_guess(model, vocabulary, rows, trial)))
        line = "  ".join(f"{name} {sum(v) / len(v):.3f}" for name, v in folds.items())
        out: list[str] = []
        for name in train:
            if name.startswith("airline") or not loo:
                continue
            fitting = [row for other, rows in train.items() if other != name for row in rows]
            model, vocabulary = fit(fitting, trial)
            out.append(f"{name} {_macro_f1(*_guess(model, vocabulary, train[name], trial)):.3f}")
        chosen = " ".join(f"{name}={value}" for name, value in zip(names, values, strict=True))
        print(f"{chosen}: 5-fold {line} | leave-one-UCI-file-out {'  '.join(out)}", flush=True)


def calibrate(train: dict[str, Rows], settings: Settings, folds_run: Sequence[int]) -> None:
    """The neutral band: out-of-fold probabilities of the three-label files (5 contiguous folds of the first 70%),
    and their macro-F1 with a bias added to the neutral log-odds."""
    import math

    three = {name: rows for name, rows in train.items() if any(str(row.label) == "neutral" for row, _, _ in rows)}
    gold: list[str] = []
    logits: list[list[float]] = []
    for fold in folds_run:
        fitting: list[tuple[LabelledText, str, Features]] = []
        held: list[tuple[LabelledText, str, Features]] = []
        for name, rows in train.items():
            size = len(rows) // 5
            lo, hi = fold * size, (fold + 1) * size
            fitting += [*rows[:lo], *rows[hi:]]
            if name in three:
                held += rows[lo:hi]
        model, vocabulary = fit(fitting, settings)
        order = [list(model.classes_).index(name) for name in CLASSES]
        for (row, _, _), p in zip(
            held, model.predict_proba(_matrix([i for _, _, i in held], vocabulary, settings)), strict=True
        ):
            gold.append(str(row.label))
            logits.append([math.log(max(p[k], 1e-12)) for k in order])
    for bias in (-1.0, -0.5, -0.25, 0.0, 0.25, 0.5, 1.0):
        guess = [CLASSES[max(range(3), key=lambda k: z[k] + (bias if k == 1 else 0.0))] for z in logits]
        print(f"neutral bias {bias:+.2f}: macro-F1 {_macro_f1(gold, guess):.3f}", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--version", choices=sorted(VERSIONS), default="3")
    parser.add_argument("--data", type=Path, default=SHARED_DATA)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--select", action="store_true", help="print the cross-validation on the first 70%")
    parser.add_argument("--calibrate", action="store_true", help="print the neutral band's cross-validation")
    parser.add_argument("--folds", default="0,1,2,3,4", help="which of the 5 folds --select and --calibrate run")
    parser.add_argument("--no-loo", action="store_true", help="--select without leave-one-UCI-file-out")
    parser.add_argument("--grid", default="c=0.1,0.3,1.0", help="settings tried by --select: name=v,v;name=v")
    args = parser.parse_args()
    settings = VERSIONS[args.version]
    splits = shared_splits(args.data)
    if not splits:
        print(f"no labelled *.tsv files in {args.data}", file=sys.stderr)
        return 1
    # the last 30% (s.test) is never read here
    train = {s.name: [(row, s.name, settings.features(row.text)) for row in s.train] for s in splits}
    if args.calibrate:
        calibrate(train, settings, [int(f) for f in args.folds.split(",")])
        return 0
    if args.select:
        grid = {
            name: [float(v) for v in values.split(",")]
            for name, values in (part.split("=") for part in args.grid.split(";"))
        }
        select(train, settings, grid, [int(f) for f in args.folds.split(",")], not args.no_loo)
        return 0
    model, vocabulary = fit([row for rows in train.values() for row in rows], settings)
    document = export(model, vocabulary, settings)
    out = args.out or REPO / "feedback" / "data" / settings.model_file
    out.write_text(json.dumps(document, ensure_ascii=False, separators=(",", ":")) + "\n", encoding="utf-8")
    print(f"wrote {out} ({len(document['ngrams'])} n-grams, {out.stat().st_size:,} bytes)")  # type: ignore[arg-type]
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
