"""Train `cv-sentiment-2`'s weights and write ``feedback/data/sentiment_model_v2.json``.

    pip install -e '.[training]'
    python bench/sentiment_train.py [--data DIR] [--out FILE] [--select]

Trains ONLY on the first 70% of each shared labelled file in file order (``bench/sentiment_data.py``); the last
30% is never read here. ``--select`` prints the cross-validation used to choose the settings below, also run on
the first 70% only: contiguous folds within each file, and leave-one-UCI-file-out (a proxy for text from a
domain the model has not seen). Deterministic: the same data gives the same file.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sentiment_data import SHARED_DATA, shared_splits  # noqa: E402

from feedback.evaluation import LabelledText  # noqa: E402
from feedback.sentiment.model import CLASSES, DENSE_FEATURES, MODEL_FILE, Features, features  # noqa: E402

# Chosen with --select on the first 70% (see the module docstring), then fixed.
C = 0.3  # inverse L2 strength: small, so the n-grams only correct the lexicon where the data insists
DENSE_SCALE = 3.0  # lexicon features enter scaled up, so the penalty leans on them less than on n-grams
MIN_COUNT = 3  # an n-gram must occur in at least this many training texts
AIRLINE_SHARE = 0.5  # the airline tweets weigh as much as the three UCI files together
DECIMALS = 4


def _matrix(found: Sequence[Features], vocabulary: dict[str, int]):  # type: ignore[no-untyped-def]
    from scipy.sparse import csr_matrix, hstack  # type: ignore[import-untyped]

    rows, cols = [], []
    for row, item in enumerate(found):
        for gram in item.ngrams:
            col = vocabulary.get(gram)
            if col is not None:
                rows.append(row)
                cols.append(col)
    sparse = csr_matrix(([1.0] * len(rows), (rows, cols)), shape=(len(found), len(vocabulary)))
    dense = csr_matrix([[value * DENSE_SCALE for value in item.dense] for item in found])
    return hstack([sparse, dense]).tocsr()


def _weights(rows: Sequence[tuple[LabelledText, str]]) -> list[float]:
    """Balanced classes, and airline against UCI as AIRLINE_SHARE."""
    labels = Counter(str(row.label) for row, _ in rows)
    sources = Counter("airline" if source.startswith("airline") else "uci" for _, source in rows)
    total = len(rows)
    weights = []
    for row, source in rows:
        kind = "airline" if source.startswith("airline") else "uci"
        share = AIRLINE_SHARE if kind == "airline" else 1.0 - AIRLINE_SHARE
        if len(sources) == 1:
            share = 1.0
        class_weight = total / (len(labels) * labels[str(row.label)])
        weights.append(class_weight * share * total / sources[kind])
    return weights


def fit(rows: Sequence[tuple[LabelledText, str]], c: float = C):  # type: ignore[no-untyped-def]
    from sklearn.linear_model import LogisticRegression  # type: ignore[import-untyped]

    found = [features(row.text) for row, _ in rows]
    counts = Counter(gram for item in found for gram in item.ngrams)
    vocabulary = {gram: at for at, gram in enumerate(sorted(g for g, n in counts.items() if n >= MIN_COUNT))}
    model = LogisticRegression(C=c, max_iter=3000, solver="lbfgs")
    labels = [str(row.label) for row, _ in rows]
    model.fit(_matrix(found, vocabulary), labels, sample_weight=_weights(rows))
    return model, vocabulary


def predict(model, vocabulary: dict[str, int], texts: Sequence[str]) -> list[str]:  # type: ignore[no-untyped-def]
    return [str(label) for label in model.predict(_matrix([features(text) for text in texts], vocabulary))]


def export(model, vocabulary: dict[str, int]) -> dict[str, object]:  # type: ignore[no-untyped-def]
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
        [round(float(coef[k, columns + at]) * DENSE_SCALE, DECIMALS) for k in order]
        for at in range(len(DENSE_FEATURES))
    ]
    return {
        "_about": (
            "cv-sentiment-2 weights: multinomial logistic regression (scikit-learn) trained by "
            "bench/sentiment_train.py on the first 70% (file order) of each file in shared/data/sentiment; "
            "figures are on the last 30%."
        ),
        "classes": list(CLASSES),
        "dense_features": list(DENSE_FEATURES),
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


def _forced(labels: Sequence[str], model, vocabulary, texts) -> list[str]:  # type: ignore[no-untyped-def]
    if set(labels) <= {"positive", "negative"}:
        probabilities = model.predict_proba(_matrix([features(t) for t in texts], vocabulary))
        classes = list(model.classes_)
        positive, negative = classes.index("positive"), classes.index("negative")
        return ["positive" if p[positive] > p[negative] else "negative" for p in probabilities]
    return predict(model, vocabulary, texts)


def select(train: dict[str, list[LabelledText]]) -> None:
    """Cross-validation on the first 70% only: 5 contiguous folds, and leave one UCI file out."""
    for c in (0.1, 0.3, 1.0, 3.0):
        folds: dict[str, list[float]] = {name: [] for name in train}
        for fold in range(5):
            fitting, held = [], {}
            for name, rows in train.items():
                size = len(rows) // 5
                lo, hi = fold * size, (fold + 1) * size
                fitting += [(row, name) for row in rows[:lo] + rows[hi:]]
                held[name] = rows[lo:hi]
            model, vocabulary = fit(fitting, c)
            for name, rows in held.items():
                gold = [str(row.label) for row in rows]
                folds[name].append(_macro_f1(gold, _forced(gold, model, vocabulary, [row.text for row in rows])))
        line = "  ".join(f"{name} {sum(v) / len(v):.3f}" for name, v in folds.items())
        out: list[str] = []
        for name in train:
            if name.startswith("airline"):
                continue
            fitting = [(row, other) for other, rows in train.items() if other != name for row in rows]
            model, vocabulary = fit(fitting, c)
            gold = [str(row.label) for row in train[name]]
            guess = _forced(gold, model, vocabulary, [row.text for row in train[name]])
            out.append(f"{name} {_macro_f1(gold, guess):.3f}")
        print(f"C={c}: 5-fold {line} | leave-one-UCI-file-out {'  '.join(out)}", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=SHARED_DATA)
    parser.add_argument("--out", type=Path, default=REPO / "feedback" / "data" / MODEL_FILE)
    parser.add_argument("--select", action="store_true", help="print the cross-validation on the first 70%")
    args = parser.parse_args()
    splits = shared_splits(args.data)
    if not splits:
        print(f"no labelled *.tsv files in {args.data}", file=sys.stderr)
        return 1
    train = {s.name: s.train for s in splits}  # the last 30% (s.test) is never read here
    if args.select:
        select(train)
        return 0
    model, vocabulary = fit([(row, name) for name, rows in train.items() for row in rows])
    document = export(model, vocabulary)
    args.out.write_text(json.dumps(document, ensure_ascii=False, separators=(",", ":")) + "\n", encoding="utf-8")
    print(f"wrote {args.out} ({len(document['ngrams'])} n-grams, {args.out.stat().st_size:,} bytes)")  # type: ignore[arg-type]
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
