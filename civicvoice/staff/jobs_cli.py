"""`civicvoice jobs`: administrators list background jobs (dead ones above all) and retry dead ones."""

from __future__ import annotations

import json
from typing import Any

import click
from sqlalchemy.ext.asyncio import AsyncSession

from civicvoice.core.audit import Actor
from civicvoice.core.commands import run_db, settings_from_env
from civicvoice.core.jobs import STATES, Job, list_jobs, parse_job_id, retry_job


def job_summary(job: Job) -> dict[str, Any]:
    """What an administrator sees of a job: ids, state, counts and times, and the scrubbed last error."""
    return {
        "id": str(job.id),
        "name": job.name,
        "state": job.state,
        "attempts": job.attempts,
        "max_attempts": job.max_attempts,
        "run_at": job.run_at.isoformat(),
        "created_at": job.created_at.isoformat(),
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
        "last_error": job.last_error,
        "payload": job.payload,
    }


@click.group("jobs")
def jobs_group() -> None:
    """Background jobs: see dead ones and retry them."""


@jobs_group.command("list")
@click.option("--state", type=click.Choice(STATES), default=None, help="Only jobs in this state, e.g. dead.")
@click.option("--limit", type=click.IntRange(1, 10_000), default=200, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON array, for scripts.")
def jobs_list_command(state: str | None, limit: int, as_json: bool) -> None:
    """List jobs, newest first."""

    async def work(session: AsyncSession) -> list[dict[str, Any]]:
        return [job_summary(job) for job in await list_jobs(session, state=state, limit=limit)]

    jobs = run_db(settings_from_env(), work)
    if as_json:
        click.echo(json.dumps(jobs))
        return
    if not jobs:
        click.echo(f"No {state} jobs." if state else "No jobs.")
    for job in jobs:
        error = f"  {job['last_error']}" if job["last_error"] else ""
        attempts = f"attempts {job['attempts']}/{job['max_attempts']}"
        click.echo(f"{job['id']}  {job['name']}  {job['state']}  {attempts}{error}")


@jobs_group.command("retry")
@click.argument("job_id", metavar="ID")
def jobs_retry_command(job_id: str) -> None:
    """Queue a dead job again with a fresh set of attempts (audited)."""
    from civicvoice.app import features, job_registry

    settings = settings_from_env()
    try:
        parsed = parse_job_id(job_id)
    except Exception as exc:
        raise click.BadParameter(getattr(exc, "detail", str(exc)), param_hint="ID") from None
    registry = job_registry(features())

    async def work(session: AsyncSession) -> str:
        job = await retry_job(session, registry, parsed, actor=Actor.cli())
        return job.name

    name = run_db(settings, work)
    click.echo(f"Queued {name} job {parsed} again.")
