"""The DPO's operations racing each other and the public: two erasures of one person, an access package built
while the person is erased, retention while an access package is built, and a survey answer sent while its person
is erased. No error reaches a user (a clear 4xx, such as 410 Gone, is an answer; a 500 is not) and nothing outside
the targets changes. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import io
import random
import uuid
import zipfile
from collections.abc import Awaitable
from datetime import timedelta
from typing import TypeVar

from litestar.testing import AsyncTestClient
from sqlalchemy import func, select

from civicvoice.app import create_app
from civicvoice.core.audit import Actor
from civicvoice.core.clock import utcnow
from civicvoice.core.db import unit_of_work
from civicvoice.core.errors import CivicVoiceError
from civicvoice.core.jobs import DONE, Job, Worker
from civicvoice.core.settings import Settings
from privacy.access import Prepared, prepare, release
from privacy.erasure import PURGE_JOB, ErasureLedger, ErasureResult, erase, read_ledger_file
from privacy.jobs import JOBS
from privacy.retention import RunResult
from privacy.retention import run as retention_run
from privacy.vault import Vault
from surveys.models import Answer, Invitation, Response
from surveys.tokens import Purpose, TokenSigner
from tests.integration.support import TestDatabase
from tests.integration.test_privacy_kills import (
    Dataset,
    aggregates,
    assert_only_targets_changed,
    assert_people_gone,
    comments,
    dataset,
    kill_settings,
    rows_of,
    seal,
    snapshot,
)
from tests.integration.test_response_batch import answers
from tests.integration.test_retention import age

__all__ = ["dataset", "kill_settings"]  # fixtures shared with the kill tests

T = TypeVar("T")


async def outcome(work: Awaitable[T]) -> T | CivicVoiceError:
    """What a user would be told: the result, or a typed error, which must be a 4xx (anything else fails)."""
    try:
        return await work
    except CivicVoiceError as exc:
        refused = exc
    assert 400 <= refused.status < 500, f"{type(refused).__name__} ({refused.status}) would reach a user"
    return refused


async def erased_by(db: TestDatabase, settings: Settings, person: uuid.UUID, pause: float = 0.0) -> ErasureResult:
    await asyncio.sleep(pause)
    async with unit_of_work(db.sessions) as session:
        return await erase(session, settings, person, actor=Actor.cli(), holds=())


async def erased_elsewhere(settings: Settings, person: uuid.UUID, pause: float) -> ErasureResult:
    """The erasure on a thread and event loop of its own: the test client blocks this loop while the app (on
    the client's own thread) answers, so an erasure on this loop would hold its lock for the whole request."""

    async def work() -> ErasureResult:
        database = TestDatabase(settings)
        try:
            return await erased_by(database, settings, person, pause)
        finally:
            await database.close()

    return await asyncio.to_thread(asyncio.run, work())


async def package_for(
    db: TestDatabase, settings: Settings, vault: Vault, person: uuid.UUID, pause: float = 0.0
) -> Prepared:
    await asyncio.sleep(pause)
    async with unit_of_work(db.sessions) as session:
        return await prepare(session, settings, vault, person, actor=Actor.cli())


async def run_purges(db: TestDatabase) -> None:
    """The erasures' purge jobs, run by a job worker as in production."""
    worker = Worker(JOBS, db.sessions, {}, name="race-test")
    while True:
        async with db.sessions() as session:
            pending = (await session.scalars(select(Job.id).where(Job.name == PURGE_JOB, Job.state != DONE))).all()
        if not pending:
            return
        for job_id in pending:
            for job in await worker.claim(job_id=job_id):
                assert await worker.run_one(job) == DONE


def jitter(rng: random.Random) -> float:
    return rng.uniform(0.0, 0.02)


async def test_two_erasures_of_one_person_at_once_erase_them_once(
    dataset: Dataset, db: TestDatabase, kill_settings: Settings
) -> None:
    rng = random.Random()  # noqa: S311 - timing only
    targets, kept = dataset.people[:6], dataset.people[6:]
    vault = dataset.services.get(Vault)
    kept_comments = await comments(db, vault, kept)
    figures = await aggregates(db)
    before = await snapshot(db)
    for person in targets:
        first, second = await asyncio.gather(
            outcome(erased_by(db, kill_settings, person, jitter(rng))),
            outcome(erased_by(db, kill_settings, person, jitter(rng))),
        )
        assert isinstance(first, ErasureResult) and isinstance(second, ErasureResult), (first, second)
        assert sorted([first.erased, second.erased]) == [False, True], "erased once; the other is told it is done"
    await run_purges(db)
    async with db.sessions() as session:
        ledger = (await session.scalars(select(ErasureLedger.erased_subject_id))).all()
        purges = await session.scalar(select(func.count()).where(Job.name == PURGE_JOB))
    assert sorted(ledger) == sorted(targets) and purges == len(targets)
    assert {subject for subject, _ in read_ledger_file(kill_settings)} == set(targets)
    await assert_people_gone(db, before, set(targets))
    after = await snapshot(db)
    assert_only_targets_changed(before, after, rows_of(before, set(targets)), {"audit_event", "job", "erasure_ledger"})
    assert await aggregates(db) == figures
    assert await comments(db, vault, kept) == kept_comments


async def test_an_access_package_built_while_the_person_is_erased_is_whole_or_refused(
    dataset: Dataset, db: TestDatabase, kill_settings: Settings
) -> None:
    rng = random.Random()  # noqa: S311 - timing only
    targets = dataset.people[:6]
    vault = dataset.services.get(Vault)
    figures = await aggregates(db)
    before = await snapshot(db)
    for n, person in enumerate(targets):
        # Half the time the package is asked for first, half the time the erasure.
        first_package = n % 2 == 0
        package, erased = await asyncio.gather(
            outcome(package_for(db, kill_settings, vault, person, 0.0 if first_package else jitter(rng))),
            outcome(erased_by(db, kill_settings, person, jitter(rng) if first_package else 0.0)),
        )
        assert isinstance(erased, ErasureResult) and erased.erased
        if isinstance(package, Prepared):
            # Built from what was there before the erasure, whole: their identity and both their comments.
            archive = zipfile.ZipFile(io.BytesIO(package.content))
            report = archive.read("report.html").decode()
            assert "@example.org" in report and report.count("the &lt;b&gt;wait&lt;/b&gt; was too long") == 1
            # Once they are erased it can no longer be released: it was kept under their key.
            refused = await outcome(released(db, kill_settings, vault, package))
            assert isinstance(refused, CivicVoiceError) and refused.status == 410
        else:
            assert package.status == 410, package  # "this person's data has been erased"
    await run_purges(db)
    await assert_people_gone(db, before, set(targets))
    after = await snapshot(db)
    assert_only_targets_changed(
        before, after, rows_of(before, set(targets)), {"audit_event", "job", "erasure_ledger", "access_package"}
    )
    assert await aggregates(db) == figures


async def released(db: TestDatabase, settings: Settings, vault: Vault, package: Prepared) -> bytes:
    async with unit_of_work(db.sessions) as session:
        return await release(session, settings, vault, package.package.id, actor=Actor.cli())


async def test_retention_racing_access_requests_expires_what_is_due_and_answers_the_rest(
    dataset: Dataset, db: TestDatabase, kill_settings: Settings
) -> None:
    rng = random.Random()  # noqa: S311 - timing only
    expired, kept = dataset.people[:8], dataset.people[8:]
    for person in expired:
        await age(db, person)
    await seal(db, kill_settings)
    vault = dataset.services.get(Vault)
    kept_comments = await comments(db, vault, kept)
    figures = await aggregates(db)
    before = await snapshot(db)
    asked = expired[:4] + kept[:4]

    async def retention() -> RunResult:
        await asyncio.sleep(jitter(rng))
        return await retention_run(db.sessions, kill_settings, [], actor=Actor.cli(), batch=2)

    result, *packages = await asyncio.gather(
        retention(), *(outcome(package_for(db, kill_settings, vault, p, jitter(rng))) for p in asked)
    )
    assert result.finished and result.counts["data_subject"] == len(expired)
    for person, package in zip(asked, packages, strict=True):
        if person in kept:
            assert isinstance(package, Prepared), f"a person retention does not touch was refused: {package}"
        else:
            assert isinstance(package, Prepared) or package.status == 410, package
    await assert_people_gone(db, before, set(expired))
    after = await snapshot(db)
    targets = rows_of(before, set(expired)) | {
        ("data_key", key) for key, row in before["data_key"].items() if row["period"] is not None
    }
    assert_only_targets_changed(before, after, targets, {"audit_event", "erasure_ledger", "access_package"})
    assert await aggregates(db) == figures
    vault.use_keyring(vault.keyring)
    assert await comments(db, vault, kept) == kept_comments


async def test_a_survey_answer_racing_the_erasure_of_its_person_is_stored_and_purged_or_refused(
    dataset: Dataset, db: TestDatabase, kill_settings: Settings
) -> None:
    rng = random.Random()  # noqa: S311 - timing only
    # Open invitations for people who have not answered yet; some answer, some erased first, some at once.
    extra = await fresh_invitations(dataset, db, 9)
    people = {invitation: person for invitation, person in extra}
    figures = await aggregates(db)
    before = await snapshot(db)
    app = create_app(kill_settings, worker=False)
    signer = dataset.services.get(TokenSigner)
    statuses: list[int] = []
    async with AsyncTestClient(app=app, base_url="http://testserver.local") as client:

        async def answer(invitation: uuid.UUID, pause: float) -> int:
            await asyncio.sleep(pause)
            token = signer.sign(invitation, Purpose.survey, utcnow() + timedelta(days=7))
            form = answers(7, improve="I would rather you forgot me.")
            reply = await client.post(f"/s/{token}", data=form, follow_redirects=False)
            assert reply.status_code < 500, reply.text[:500]
            return reply.status_code

        for n, (invitation, person) in enumerate(extra):
            if n % 3 == 2:
                # Erased and purged before the answer arrives: the link is refused, nothing stored.
                await erased_by(db, kill_settings, person)
                await run_purges(db)
                statuses.append(await answer(invitation, 0.0))
                continue
            status, erased = await asyncio.gather(
                answer(invitation, jitter(rng)), outcome(erased_elsewhere(kill_settings, person, jitter(rng)))
            )
            assert isinstance(erased, ErasureResult) and erased.erased
            statuses.append(status)
        await run_purges(db)
    # The answer was either stored before the erasure and then purged with the rest of the person, or refused
    # with the page that says the survey is no longer available.
    assert set(statuses) <= {303, 410}, statuses
    async with db.sessions() as session:
        for invitation in people:
            response = await session.scalar(select(Response).where(Response.invitation_id == invitation))
            if response is None:
                continue
            assert response.subject_id is None and not response.anonymous
            texts = (
                await session.scalars(
                    select(Answer.text_ciphertext).where(
                        Answer.response_id == response.id, Answer.text_ciphertext.is_not(None)
                    )
                )
            ).all()
            assert texts == [], "nothing they wrote is kept, under any key"
    await assert_people_gone(db, before, set(people.values()))
    after = await snapshot(db)
    # New rows: only the responses stored before an erasure (and their answers, their scoring jobs, ...).
    assert_only_targets_changed(
        before,
        after,
        rows_of(before, set(people.values())),
        {"audit_event", "job", "erasure_ledger", "response", "answer", "key_holder"},  # the app says it holds keys
    )
    new_responses = set(after["response"]) - set(before["response"])
    new_answers = set(after["answer"]) - set(before["answer"])
    assert all(after["response"][key]["invitation_id"] in people for key in new_responses)
    stored = {after["response"][key]["id"] for key in new_responses}
    assert all(after["answer"][key]["response_id"] in stored for key in new_answers)
    assert len(new_responses) == statuses.count(303), "each answer told 'thank you' is stored, no other"
    # The figures grew by exactly the scores given in the answers stored; nothing else moved.
    responses, _ = await aggregates(db)
    assert sum(responses.values()) == sum(figures[0].values()) + len(new_responses)
    assert not figures[0] - responses, "no response that was there before left the figures"


async def fresh_invitations(dataset: Dataset, db: TestDatabase, count: int) -> list[tuple[uuid.UUID, uuid.UUID]]:
    from tests.integration.test_response_batch import invite

    invitations = await invite(dataset.services, db, count, prefix="race")
    async with db.sessions() as session:
        rows = await session.execute(select(Invitation.id, Invitation.subject_id).where(Invitation.id.in_(invitations)))
        found = {row.id: row.subject_id for row in rows}
    return [(invitation, found[invitation]) for invitation in invitations]
