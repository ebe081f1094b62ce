"""Measuring the scorer against labelled comments: the reading convention, the figures and the errors."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from civicvoice.core.errors import InvalidInput
from feedback.cli import sentiment
from feedback.evaluation import (
    EvaluationInputError,
    EvaluationReport,
    LabelledText,
    Scorer,
    evaluate,
    read_labelled_tsv,
)
from feedback.sentiment import VERSIONS, Label, QuestionKind, Sentiment, score

SAMPLE = Path(__file__).parents[2] / "fixtures" / "sentiment_sample.tsv"
POSITIVE, NEUTRAL, NEGATIVE = Label.POSITIVE, Label.NEUTRAL, Label.NEGATIVE


def fixed_scorer(scores: dict[str, tuple[float, Label]]) -> Scorer:
    """A scorer that answers from a table, so the tests pin the convention rather than the lexicon."""

    def scorer(text: str, *, question: QuestionKind | None = None) -> Sentiment:
        polarity, label = scores[text]
        return Sentiment(polarity=polarity, label=label, scorer_version="test")

    return scorer


def rows(*pairs: tuple[str, Label]) -> list[LabelledText]:
    return [LabelledText(text, label) for text, label in pairs]


def write(tmp_path: Path, content: str | bytes, name: str = "labelled.tsv") -> Path:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8", newline="")
    return path


# --- reading ---------------------------------------------------------------------------------------------


def test_reads_the_sample_with_questions() -> None:
    sample = read_labelled_tsv(SAMPLE)
    assert 40 <= len(sample) <= 60
    assert {row.label for row in sample} == {POSITIVE, NEUTRAL, NEGATIVE}
    nothing = [row for row in sample if row.text == "Nothing"]
    assert [row.question for row in nothing] == [QuestionKind.IMPROVE, QuestionKind.PRAISE]
    assert all(row.question is None for row in sample if row.text.startswith("The staff were rude"))


def test_fields_are_never_quoted(tmp_path: Path) -> None:
    path = write(tmp_path, 'text\tlabel\n"Very slow service."\tnegative\nHe said "fine\tpositive\n')
    assert [row.text for row in read_labelled_tsv(path)] == ['"Very slow service."', 'He said "fine']


def test_labels_are_case_insensitive_and_accept_0_and_1(tmp_path: Path) -> None:
    path = write(tmp_path, "label\ttext\nPositive\ta\nNEGATIVE\tb\n1\tc\n0\td\n neutral \te\n")
    assert [row.label for row in read_labelled_tsv(path)] == [POSITIVE, NEGATIVE, POSITIVE, NEGATIVE, NEUTRAL]


def test_crlf_line_ends_and_a_byte_order_mark_are_accepted(tmp_path: Path) -> None:
    path = write(tmp_path, "\ufefftext\tlabel\r\ngood\tpositive\r\n")
    assert read_labelled_tsv(path) == [LabelledText("good", POSITIVE, None, 2)]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "file is empty"),
        ("\n\n", "file is empty"),
        ("comment\trating\nfine\tpositive\n", "line 1: the header must name the columns 'text' and 'label'"),
        ("good service\tpositive\n", "line 1: the header must name"),
        ("text\tlabel\n", "no labelled rows"),
        ("text\tlabel\ngood\tpositive\nbad\tawful\n", "line 3: unknown label 'awful'"),
        ("text\tlabel\ngood\tpositive\nno label here\n", "line 3: expected 2 tab-separated fields, found 1"),
        ("text\tlabel\na\ttab\tpositive\n", "line 2: expected 2 tab-separated fields, found 3"),
        ("text\tlabel\nok\tpositive\nbroken\rline\tnegative\n", "line 3: not a tab-separated row"),
    ],
)
def test_bad_files_are_reported_with_the_line(tmp_path: Path, content: str, message: str) -> None:
    with pytest.raises(EvaluationInputError, match=message):
        read_labelled_tsv(write(tmp_path, content))


def test_bad_encoding_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, b"text\tlabel\ngood\tpositive\ncaf\xe9\tpositive\n")
    with pytest.raises(EvaluationInputError, match=r"line 3: not valid UTF-8"):
        read_labelled_tsv(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(EvaluationInputError, match=r"missing\.tsv: file not found"):
        read_labelled_tsv(tmp_path / "missing.tsv")


def test_a_directory_is_not_a_file(tmp_path: Path) -> None:
    with pytest.raises(EvaluationInputError, match="is a directory"):
        read_labelled_tsv(tmp_path)


def test_input_errors_are_the_apps_invalid_input() -> None:
    error = EvaluationInputError("x.tsv: file is empty")
    assert isinstance(error, InvalidInput)
    assert error.status == 422
    assert error.detail == "x.tsv: file is empty"


# --- the convention --------------------------------------------------------------------------------------


def test_two_label_data_forces_a_choice_and_zero_counts_as_negative() -> None:
    scorer = fixed_scorer(
        {
            "leans positive": (0.01, NEUTRAL),
            "leans negative": (-0.01, NEUTRAL),
            "exactly zero": (0.0, NEUTRAL),
            "clearly positive": (0.8, POSITIVE),
        }
    )
    data = rows(
        ("leans positive", POSITIVE),
        ("leans negative", NEGATIVE),
        ("exactly zero", POSITIVE),  # wrong: 0 counts as negative
        ("clearly positive", POSITIVE),
    )
    report = evaluate(data, scorer=scorer)
    assert report.accuracy == 0.75
    assert set(report.per_label) == {"positive", "negative"}
    assert report.per_label["positive"]["recall"] == pytest.approx(2 / 3)
    assert report.per_label["negative"]["precision"] == 0.5


def test_three_label_data_keeps_neutral_as_a_class() -> None:
    scorer = fixed_scorer({"a": (0.01, NEUTRAL), "b": (0.0, NEUTRAL), "c": (-0.3, NEGATIVE)})
    report = evaluate(rows(("a", NEUTRAL), ("b", NEUTRAL), ("c", NEGATIVE)), scorer=scorer)
    assert report.accuracy == 1.0
    assert report.macro_f1 == 1.0


def test_macro_f1_on_a_hand_computed_example() -> None:
    # gold:      pos  pos  neg  neu
    # predicted: pos  neg  neg  pos
    # positive: P 1/2 R 1/2 F1 1/2; negative: P 1/2 R 1 F1 2/3; neutral: P 0 R 0 F1 0
    scorer = fixed_scorer(
        {"p1": (0.5, POSITIVE), "p2": (-0.5, NEGATIVE), "n1": (-0.5, NEGATIVE), "u1": (0.5, POSITIVE)}
    )
    data = rows(("p1", POSITIVE), ("p2", POSITIVE), ("n1", NEGATIVE), ("u1", NEUTRAL))
    report = evaluate(data, scorer=scorer)
    assert report.rows == 4
    assert report.accuracy == 0.5
    assert report.per_label["positive"] == {"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2}
    assert report.per_label["negative"]["f1"] == pytest.approx(2 / 3)
    assert report.per_label["neutral"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}
    assert report.macro_f1 == pytest.approx((1 / 2 + 2 / 3 + 0) / 3)


def test_macro_f1_covers_only_the_labels_in_the_gold_data() -> None:
    scorer = fixed_scorer({"a": (0.5, POSITIVE), "b": (-0.5, NEGATIVE)})
    report = evaluate(rows(("a", POSITIVE), ("b", NEUTRAL)), scorer=scorer)
    assert list(report.per_label) == ["positive", "neutral"]
    assert report.macro_f1 == 0.5


def test_the_question_reaches_the_scorer() -> None:
    report = evaluate(
        [
            LabelledText("Nothing", POSITIVE, QuestionKind.IMPROVE),
            LabelledText("Nothing", NEGATIVE, QuestionKind.PRAISE),
        ]
    )
    assert report.accuracy == 1.0


def test_nothing_to_evaluate() -> None:
    with pytest.raises(EvaluationInputError, match="no labelled rows"):
        evaluate([])


def test_json_has_exactly_the_report_keys_rounded() -> None:
    report = EvaluationReport(
        rows=3,
        accuracy=2 / 3,
        macro_f1=0.123456,
        per_label={"positive": {"precision": 1 / 3, "recall": 1.0, "f1": 0.5, "support": 3}},
    )
    line = report.to_json()
    assert "\n" not in line
    assert json.loads(line) == {
        "rows": 3,
        "accuracy": 0.6667,
        "macro_f1": 0.1235,
        "per_label": {"positive": {"precision": 0.3333, "recall": 1.0, "f1": 0.5, "support": 3}},
    }


# --- the command -----------------------------------------------------------------------------------------


def test_evaluate_command_prints_a_table_then_json_last() -> None:
    result = CliRunner().invoke(sentiment, ["evaluate", str(SAMPLE)])
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    figures = json.loads(lines[-1])
    assert set(figures) == {"rows", "accuracy", "macro_f1", "per_label"}
    assert figures["rows"] == len(read_labelled_tsv(SAMPLE))
    assert figures["accuracy"] >= 0.85  # the sample's comments are the kind the scorer is built for
    assert any(line.startswith("negative") for line in lines[:-1])
    assert "macro-F1" in result.output


def test_evaluate_command_measures_the_version_asked_for() -> None:
    rows = read_labelled_tsv(SAMPLE)
    for version in VERSIONS:
        result = CliRunner().invoke(sentiment, ["evaluate", str(SAMPLE), "--version", version])
        assert result.exit_code == 0, result.output
        assert f"rows, scorer {version}" in result.output
        expected = evaluate(rows, scorer=functools.partial(score, version=version))
        assert json.loads(result.output.strip().splitlines()[-1])["accuracy"] == round(expected.accuracy, 4)
    refused = CliRunner().invoke(sentiment, ["evaluate", str(SAMPLE), "--version", "cv-sentiment-9"])
    assert refused.exit_code == 2 and "Traceback" not in refused.output


def test_evaluate_command_reports_bad_input_without_a_traceback(tmp_path: Path) -> None:
    path = write(tmp_path, "text\tlabel\nfine\tgreat\n")
    result = CliRunner().invoke(sentiment, ["evaluate", str(path)])
    assert result.exit_code == 1
    assert "line 2: unknown label 'great'" in result.output
    assert "Traceback" not in result.output
    assert not isinstance(result.exception, EvaluationInputError)


def test_evaluate_command_with_a_missing_file(tmp_path: Path) -> None:
    result = CliRunner().invoke(sentiment, ["evaluate", str(tmp_path / "nope.tsv")])
    assert result.exit_code == 1
    assert "nope.tsv: file not found" in result.output
