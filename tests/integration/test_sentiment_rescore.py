"""Re-scoring stored comments with another scorer version, in background jobs of bounded batches."""

from __future__ import annotations

import asyncio
import json

from click.testing import CliRunner
from litestar import Litestar

from civicvoice.cli import cli
from civicvoice.core.jobs import Job
from civicvoice.core.settings import Settings
from feedback.models import CommentScore
from feedback.scoring import RESCORE_JOB, enqueue_rescore
from feedback.sentiment import SCORER_VERSION, V1, VERSIONS, QuestionKind, score
from tests.integration.smtp import SmtpServer
from tests.integration.support import TestDatabase
from tests.integration.test_keys_and_cli import env_for
from tests.integration.test_survey_loop import Client, links, report_and_send, worker_for

ANSWERS = {
    "satisfaction": "2",
    "resolved": "partly",
    "improve": "No",
    "praise": "The man on the phone was polite but nobody came out",
}
# The default survey asks "improve" as a question about what to do better and "praise" about what went well.
QUESTIONS = {"improve": QuestionKind.IMPROVE, "praise": QuestionKind.PRAISE}


async def answered_and_scored(
    client: Client, app: Litestar, auth: dict[str, str], smtp: SmtpServer, db: TestDatabase
) -> dict[str, CommentScore]:
    await report_and_send(client, app, auth, db)
    survey_path, _ = links(smtp.messages[0])
    done = await client.post(survey_path, data=ANSWERS, follow_redirects=False)
    assert done.status_code == 303
    await worker_for(app, db).run_due()
    return {s.question_key: s for s in await db.all(CommentScore)}


async def test_rescore_moves_every_score_to_the_new_version_in_batches(
    loop_client: Client, loop_app: Litestar, auth: dict[str, str], smtp: SmtpServer, db: TestDatabase
) -> None:
    before = await answered_and_scored(loop_client, loop_app, auth, smtp, db)
    assert {s.scorer_version for s in before.values()} == {SCORER_VERSION}
    # to the newest version unless it is the default already (a new version is re-scored to just like an old one)
    old, new = SCORER_VERSION, VERSIONS[-1] if VERSIONS[-1] != SCORER_VERSION else V1
    for key, stored in before.items():
        assert stored.polarity == score(ANSWERS[key], question=QUESTIONS[key], version=old).polarity

    async with db.sessions() as session, session.begin():
        plan = await enqueue_rescore(session, new, batch_size=1)
    assert (plan.version, plan.comments, plan.jobs) == (new, 2, 2)
    jobs = [job for job in await db.all(Job) if job.name == RESCORE_JOB]
    assert len(jobs) == 2
    for job in jobs:  # ids only: the version, the first and last answer id of the batch, its size
        assert set(job.payload) == {"version", "first", "last", "limit"}
        assert job.payload["limit"] == 1 and job.payload["first"] == job.payload["last"]
        assert "polite" not in json.dumps(job.payload)

    # Queuing again before the jobs ran adds nothing.
    async with db.sessions() as session, session.begin():
        again = await enqueue_rescore(session, new, batch_size=1)
    assert (again.comments, again.jobs) == (2, 0)

    await worker_for(loop_app, db).run_due()
    after = {s.question_key: s for s in await db.all(CommentScore)}
    assert {s.id for s in after.values()} == {s.id for s in before.values()}  # re-scored in place
    for key, stored in after.items():
        expected = score(ANSWERS[key], question=QUESTIONS[key], version=new)
        assert (stored.scorer_version, stored.polarity, stored.label) == (new, expected.polarity, expected.label)
    assert {job.state for job in await db.all(Job) if job.name == RESCORE_JOB} == {"done"}

    async with db.sessions() as session, session.begin():
        done = await enqueue_rescore(session, new)
    assert (done.comments, done.jobs) == (0, 0)


async def test_rescore_command_queues_the_jobs_and_refuses_bad_input(
    loop_client: Client,
    loop_app: Litestar,
    auth: dict[str, str],
    smtp: SmtpServer,
    db: TestDatabase,
    mail_settings: Settings,
) -> None:
    await answered_and_scored(loop_client, loop_app, auth, smtp, db)
    other = VERSIONS[-1] if VERSIONS[-1] != SCORER_VERSION else V1
    runner = CliRunner()
    env = env_for(mail_settings)
    # The command runs its own event loop, as it does in a shell: call it from a thread without one.
    result = await asyncio.to_thread(
        runner.invoke, cli, ["sentiment", "rescore", "--version", other, "--batch-size", "50"], env=env
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.output.strip().splitlines()[-1]) == {"version": other, "comments": 2, "jobs": 1}

    for bad in (["--version", "cv-sentiment-9"], ["--batch-size", "0"], ["--batch-size", "many"]):
        refused = await asyncio.to_thread(runner.invoke, cli, ["sentiment", "rescore", *bad], env=env)
        assert refused.exit_code == 2 and "Error" in refused.output and "Traceback" not in refused.output
    assert len([job for job in await db.all(Job) if job.name == RESCORE_JOB]) == 1  # nothing else queued
