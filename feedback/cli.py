"""`sentiment` commands: measure the comment scorer against a labelled TSV file, and re-score stored comments
in the background when a new scorer version becomes the default."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import click

from civicvoice.core.commands import run_db, settings_from_env
from feedback.evaluation import EvaluationInputError, EvaluationReport, evaluate, read_labelled_tsv
from feedback.scoring import MAX_RESCORE_BATCH, RESCORE_BATCH, enqueue_rescore
from feedback.sentiment import SCORER_VERSION, VERSIONS, score


@click.group(name="sentiment")
def sentiment() -> None:
    """Sentiment scoring of survey comments."""


@sentiment.command(name="evaluate")
@click.argument("file", type=click.Path(dir_okay=True, path_type=Path))
@click.option(
    "--version",
    "version",
    type=click.Choice(VERSIONS),
    default=SCORER_VERSION,
    show_default=True,
    help="Scorer version to measure.",
)
def evaluate_command(file: Path, version: str) -> None:
    """Score FILE (TSV: text, label[, question]) and compare with its labels.

    Prints a table, then, as the last line, the figures as one JSON object.
    """
    try:
        rows = read_labelled_tsv(file)
        report = evaluate(rows, scorer=functools.partial(score, version=version))
    except EvaluationInputError as error:
        raise click.ClickException(error.detail) from None
    click.echo(_table(report, file.name, version))
    click.echo(report.to_json())


@sentiment.command(name="rescore")
@click.option(
    "--version",
    "version",
    type=click.Choice(VERSIONS),
    default=SCORER_VERSION,
    show_default=True,
    help="Scorer version to re-score with.",
)
@click.option(
    "--batch-size",
    type=click.IntRange(1, MAX_RESCORE_BATCH),
    default=RESCORE_BATCH,
    show_default=True,
    help="Comments per background job.",
)
def rescore_command(version: str, batch_size: int) -> None:
    """Queue background jobs that re-score every stored comment another scorer version made.

    Each job re-scores one batch; every score keeps the version that made it. Run the worker to do the work.
    Prints what was queued as one JSON object.
    """
    settings = settings_from_env()
    plan = run_db(settings, lambda session: enqueue_rescore(session, version, batch_size=batch_size))
    click.echo(json.dumps({"version": plan.version, "comments": plan.comments, "jobs": plan.jobs}))


def _table(report: EvaluationReport, name: str, version: str) -> str:
    lines = [
        f"{name}: {report.rows} rows, scorer {version}",
        f"{'label':<10} {'precision':>9} {'recall':>7} {'f1':>7} {'support':>8}",
    ]
    for label, stats in report.per_label.items():
        lines.append(
            f"{label:<10} {stats['precision']:>9.4f} {stats['recall']:>7.4f} {stats['f1']:>7.4f} {stats['support']:>8}"
        )
    lines.append(f"accuracy {report.accuracy:.4f}   macro-F1 {report.macro_f1:.4f}")
    return "\n".join(lines)
