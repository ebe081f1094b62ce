"""Measure a sentiment scorer against a labelled TSV file (text, label[, question]).

Follows the convention of the shared evaluation data: a file labelled only positive/negative forces a choice
(a score of exactly 0 counts as negative); a file with neutral labels scores neutral as a class of its own.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Final

from civicvoice.core.errors import InvalidInput
from feedback.sentiment import Label, QuestionKind, Sentiment, question_kind, score

Scorer = Callable[..., Sentiment]  # called as scorer(text, question=QuestionKind | None)

_LABELS: Final[dict[str, Label]] = {
    "positive": Label.POSITIVE,
    "neutral": Label.NEUTRAL,
    "negative": Label.NEGATIVE,
    "1": Label.POSITIVE,
    "0": Label.NEGATIVE,
}
_LABEL_ORDER: Final = (Label.POSITIVE, Label.NEUTRAL, Label.NEGATIVE)
_TWO_LABELS: Final = frozenset((Label.POSITIVE, Label.NEGATIVE))


class EvaluationInputError(InvalidInput):
    """A labelled file that cannot be evaluated; the message names the file and line."""

    slug = "evaluation-input"
    title = "Labelled file cannot be read"


@dataclass(frozen=True, slots=True)
class LabelledText:
    text: str
    label: Label
    question: QuestionKind | None = None
    line: int = 0  # line number in the source file, for messages


@dataclass(frozen=True, slots=True)
class EvaluationReport:
    rows: int
    accuracy: float
    macro_f1: float
    per_label: dict[str, dict[str, float | int]] = field(default_factory=dict)

    def to_json(self) -> str:
        per_label = {
            label: {key: round(value, 4) if isinstance(value, float) else value for key, value in stats.items()}
            for label, stats in self.per_label.items()
        }
        document = {
            "rows": self.rows,
            "accuracy": round(self.accuracy, 4),
            "macro_f1": round(self.macro_f1, 4),
            "per_label": per_label,
        }
        return json.dumps(document, ensure_ascii=False, separators=(", ", ": "))


def read_labelled_tsv(path: str | PathLike[str]) -> list[LabelledText]:
    """Read a UTF-8 TSV with a header naming ``text`` and ``label`` (and optionally ``question``).

    Fields are never quoted (``csv.QUOTE_NONE``): a text may start with ``"``.
    """
    source = Path(path)
    name = source.name or str(source)
    try:
        data = source.read_bytes()
    except FileNotFoundError:
        raise EvaluationInputError(f"{name}: file not found") from None
    except IsADirectoryError:
        raise EvaluationInputError(f"{name}: is a directory, not a labelled TSV file") from None
    except OSError as error:
        raise EvaluationInputError(f"{name}: cannot be read ({error.strerror or 'I/O error'})") from None
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        content = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise EvaluationInputError(f"{name}, line {line}: not valid UTF-8 (byte offset {error.start})") from None
    if not content.strip():
        raise EvaluationInputError(f"{name}: file is empty; expected a header line 'text<TAB>label'")

    lines = [line[:-1] if line.endswith("\r") else line for line in content.split("\n")]
    reader = csv.reader(lines, delimiter="\t", quoting=csv.QUOTE_NONE, strict=True)
    try:
        header = [column.strip().lower() for column in next(reader)]
    except csv.Error as error:
        raise EvaluationInputError(f"{name}, line 1: cannot read the header ({error})") from None
    missing = [column for column in ("text", "label") if column not in header]
    if missing:
        raise EvaluationInputError(
            f"{name}, line 1: the header must name the columns 'text' and 'label' separated by tabs; "
            f"missing {', '.join(repr(column) for column in missing)}"
        )
    text_at, label_at = header.index("text"), header.index("label")
    question_at = header.index("question") if "question" in header else None

    rows: list[LabelledText] = []
    try:
        for fields in reader:
            line_number = reader.line_num  # one physical line per row: fields are never quoted
            if not fields or fields == [""]:
                continue  # blank line, e.g. the one after the final newline
            if len(fields) != len(header):
                raise EvaluationInputError(
                    f"{name}, line {line_number}: expected {len(header)} tab-separated fields, found {len(fields)}"
                )
            raw_label = fields[label_at].strip()
            label = _LABELS.get(raw_label.lower())
            if label is None:
                # a short label is shown; anything longer may be a comment, which is personal data
                shown = repr(raw_label) if len(raw_label) <= 20 else f"of {len(raw_label)} characters"
                raise EvaluationInputError(
                    f"{name}, line {line_number}: unknown label {shown}; expected positive, neutral, negative, 1 or 0"
                )
            question = None
            if question_at is not None and fields[question_at].strip():
                question = question_kind(fields[question_at])
            rows.append(LabelledText(fields[text_at], label, question, line_number))
    except csv.Error as error:
        problem = "a line break inside a field" if "new-line" in str(error) else str(error)
        raise EvaluationInputError(
            f"{name}, line {reader.line_num}: not a tab-separated row ({problem}); each text must be on one line"
        ) from None
    if not rows:
        raise EvaluationInputError(f"{name}: no labelled rows after the header")
    return rows


def evaluate(rows: Iterable[LabelledText], scorer: Scorer = score) -> EvaluationReport:
    """Score every row and compare with its label (see the module docstring for the convention)."""
    items: Sequence[LabelledText] = list(rows)
    if not items:
        raise EvaluationInputError("no labelled rows to evaluate")
    gold_labels = {row.label for row in items}
    forced_choice = gold_labels <= _TWO_LABELS
    gold: list[Label] = []
    predicted: list[Label] = []
    for row in items:
        sentiment = scorer(row.text, question=row.question)
        # Two-label files force a choice: a score of exactly 0 counts as negative (the data's README).
        forced = Label.POSITIVE if sentiment.polarity > 0 else Label.NEGATIVE
        guess = forced if forced_choice else sentiment.label
        gold.append(row.label)
        predicted.append(guess)

    per_label: dict[str, dict[str, float | int]] = {}
    for label in _LABEL_ORDER:
        if label not in gold_labels:
            continue
        true_positive = sum(1 for g, p in zip(gold, predicted, strict=True) if g is label and p is label)
        predicted_count = predicted.count(label)
        support = gold.count(label)
        precision = true_positive / predicted_count if predicted_count else 0.0
        recall = true_positive / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_label[str(label)] = {"precision": precision, "recall": recall, "f1": f1, "support": support}
    correct = sum(1 for g, p in zip(gold, predicted, strict=True) if g is p)
    macro_f1 = sum(float(stats["f1"]) for stats in per_label.values()) / len(per_label)
    return EvaluationReport(rows=len(items), accuracy=correct / len(items), macro_f1=macro_f1, per_label=per_label)
