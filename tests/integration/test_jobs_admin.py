"""Administrators see dead jobs and retry them: `civicvoice jobs list/retry` and the staff jobs page."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import update

from civicvoice.core.db import unit_of_work
from civicvoice.core.jobs import DEAD, QUEUED, Job, enqueue
from civicvoice.core.settings import Settings
from civicvoice.staff.web import SESSION_COOKIE
from tests.integration.support import TestDatabase
from tests.integration.test_authorisation_matrix import session_cookie
from tests.integration.test_keys_and_cli import invoke
from tests.integration.test_staff_login import make_user

Client = AsyncTestClient[Litestar]


async def a_dead_job(db: TestDatabase, name: str = "no.such.job") -> uuid.UUID:
    async with unit_of_work(db.sessions) as session:
        job_id = await enqueue(session, name, {"thing_id": uuid.uuid4()})
        await session.execute(
            update(Job)
            .where(Job.id == job_id)
            .values(state=DEAD, attempts=8, last_error="RuntimeError: SMTP said [email] is unknown")
        )
        await enqueue(session, "other.job", {})
    return job_id


async def cli(settings: Settings, *args: str) -> tuple[int, str]:
    # The CLI runs its own event loop, so it runs beside the test's.
    return await asyncio.to_thread(invoke, settings, *args)


async def test_cli_lists_dead_jobs_as_json_and_retries_them(settings: Settings, db: TestDatabase) -> None:
    job_id = await a_dead_job(db)
    code, output = await cli(settings, "jobs", "list", "--state", "dead", "--json")
    assert code == 0, output
    [listed] = json.loads(output)
    assert listed["id"] == str(job_id) and listed["state"] == DEAD and listed["attempts"] == 8
    assert listed["last_error"] == "RuntimeError: SMTP said [email] is unknown"
    code, output = await cli(settings, "jobs", "list")
    assert code == 0 and str(job_id) in output and "other.job" in output

    code, output = await cli(settings, "jobs", "retry", str(job_id))
    assert code == 0 and f"Queued no.such.job job {job_id} again." in output
    [job] = [j for j in await db.all(Job) if j.id == job_id]
    assert job.state == QUEUED and job.attempts == 0
    code, output = await cli(settings, "jobs", "list", "--state", "dead", "--json")
    assert json.loads(output) == []


async def test_cli_says_clearly_what_is_wrong_with_a_job_id(settings: Settings, db: TestDatabase) -> None:
    queued = await a_dead_job(db)
    async with unit_of_work(db.sessions) as session:
        await session.execute(update(Job).where(Job.id == queued).values(state=QUEUED))
    unknown = uuid.uuid4()
    cases = {
        "not-a-uuid": "is not a job id",
        f"{unknown}\nrm -rf": "is not a job id",
        str(unknown): f"No job with id {unknown}.",
        str(queued): f"Job {queued} is queued, not dead: only dead jobs can be retried.",
    }
    for given, message in cases.items():
        code, output = await cli(settings, "jobs", "retry", given)
        assert code != 0 and message in output, (given, output)
        assert "Traceback" not in output
    code, output = await cli(settings, "jobs", "list", "--state", "sleeping")
    assert code != 0 and "Invalid value for '--state'" in output
    [job] = [j for j in await db.all(Job) if j.id == queued]
    assert job.state == QUEUED  # nothing changed


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found
    return found.group(1)


async def signed_in(client: Client, db: TestDatabase, role: str) -> None:
    user = await make_user(db, role, email=f"{role}-{uuid.uuid4().hex[:6]}@council.gov.uk")
    client.cookies.set(SESSION_COOKIE, await session_cookie(db, user.id), domain="testserver.local")


async def test_admins_see_dead_jobs_and_retry_them_on_the_staff_page(
    client: Client, app: Litestar, db: TestDatabase
) -> None:
    job_id = await a_dead_job(db)
    await signed_in(client, db, "admin")
    page = await client.get("/staff/jobs")
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    assert str(job_id) in page.text and "SMTP said [email] is unknown" in page.text
    assert "other.job" not in page.text  # dead jobs by default
    assert "other.job" in (await client.get("/staff/jobs?state=queued")).text

    done = await client.post(
        f"/staff/jobs/{job_id}/retry", data={"csrf_token": csrf_of(page.text)}, follow_redirects=False
    )
    assert done.status_code == 303 and done.headers["location"] == "/staff/jobs?done=retried"
    banner = await client.get(done.headers["location"])
    assert "The job was queued again." in banner.text and str(job_id) not in banner.text
    [job] = [j for j in await db.all(Job) if j.id == job_id]
    assert job.state == QUEUED

    again = await client.post(f"/staff/jobs/{job_id}/retry", data={"csrf_token": csrf_of(page.text)})
    assert again.status_code == 400 and "only dead jobs can be retried" in again.text


async def test_other_roles_cannot_retry_jobs(client: Client, app: Litestar, db: TestDatabase) -> None:
    job_id = await a_dead_job(db)
    await signed_in(client, db, "dpo")
    page: Any = await client.get("/staff/jobs", follow_redirects=False)
    assert page.status_code == 403
    refused = await client.post(f"/staff/jobs/{job_id}/retry", headers={"x-csrf-token": "x"})
    assert refused.status_code == 403
    [job] = [j for j in await db.all(Job) if j.id == job_id]
    assert job.state == DEAD
