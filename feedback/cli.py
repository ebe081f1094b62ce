"""`sentiment` commands: measure the comment scorer against a labelled TSV file."""

from __future__ import annotations

from pathlib import Path

import click

from feedback.evaluation import EvaluationInputError, EvaluationReport, evaluate, read_labelled_tsv
from feedback.sentiment import SCORER_VERSION


@click.group(name="sentiment")
def sentiment() -> None:
    """Sentiment scoring of survey comments."""


@sentiment.command(name="evaluate")
@click.argument("file", type=click.Path(dir_okay=True, path_type=Path))
def evaluate_command(file: Path) -> None:
    """Score FILE (TSV: text, label[, question]) and compare with its labels.

    Prints a table, then, as the last line, the figures as one JSON object.
    """
    try:
        rows = read_labelled_tsv(file)
        report = evaluate(rows)
    except EvaluationInputError as error:
        raise click.ClickException(error.detail) from None
    click.echo(_table(report, file.name))
    click.echo(report.to_json())


def _table(report: EvaluationReport, name: str) -> str:
    lines = [
        f"{name}: {report.rows} rows, scorer {SCORER_VERSION}",
        f"{'label':<10} {'precision':>9} {'recall':>7} {'f1':>7} {'support':>8}",
    ]
    for label, stats in report.per_label.items():
        lines.append(
            f"{label:<10} {stats['precision']:>9.4f} {stats['recall']:>7.4f} {stats['f1']:>7.4f} {stats['support']:>8}"
        )
    lines.append(f"accuracy {report.accuracy:.4f}   macro-F1 {report.macro_f1:.4f}")
    return "\n".join(lines)
