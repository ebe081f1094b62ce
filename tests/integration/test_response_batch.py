"""Group commit for survey answers: concurrent submissions stored in shared transactions, each as if on its own."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from civicvoice.app import build_services, features
from civicvoice.core.clock import utcnow
from civicvoice.core.errors import CivicVoiceError
from civicvoice.core.jobs import Job
from civicvoice.core.settings import Settings
from feedback.scoring import SCORE_RESPONSE_JOB
from privacy.models import DataKey
from privacy.vault import Vault
from surveys.intake import ContactIntake
from surveys.models import Answer, Invitation, Response
from surveys.responses import (
    AlreadyAnswered,
    GroupedResponses,
    InvalidAnswers,
    InvitationClosed,
    ResponseRecorder,
    read_answer_text,
)
from tests.integration.support import TestDatabase
from tests.integration.test_intake_batch import POLICY, contact


def answers(n: int, **overrides: str) -> dict[str, str]:
    form = {
        "satisfaction": str(n % 5 + 1),
        "resolved": ("yes", "partly", "no")[n % 3],
        "improve": f"Comment number {n}: the <b>wait</b> was too long & the line kept dropping.",
        "praise": f"Person {n} liked the advisor.",
    }
    form.update(overrides)
    return {k: v for k, v in form.items() if v != ""}


@pytest.fixture
async def setup(settings: Settings, db: TestDatabase) -> AsyncIterator[tuple[GroupedResponses, dict[str, Any]]]:
    await db.load_catalogue(POLICY)
    services = await build_services(settings, db.sessions, features())
    writer = GroupedResponses(services.get(ResponseRecorder), db.sessions)
    try:
        yield writer, services
    finally:
        await writer.aclose()


async def invite(services: dict[str, Any], db: TestDatabase, count: int, prefix: str = "p") -> list[uuid.UUID]:
    """``count`` open invitations, each for a different person."""
    ids = []
    for n in range(count):
        async with db.sessions() as session:
            result = await services.get(ContactIntake).report(
                session, contact(f"{prefix}-{n}", email=f"{prefix}.{n}@example.org")
            )
        assert result.accepted.invitation_id is not None
        ids.append(result.accepted.invitation_id)
    return ids


async def submit(writer: GroupedResponses, db: TestDatabase, invitation_id: uuid.UUID, form: dict[str, str]) -> Any:
    async with db.sessions() as session:
        try:
            return await writer.submit(session, invitation_id, form)
        except CivicVoiceError as exc:
            return exc


async def test_concurrent_answers_are_grouped_and_each_refused_or_stored_on_its_own(
    setup: tuple[GroupedResponses, dict[str, Any]], db: TestDatabase
) -> None:
    writer, services = setup
    invitations = await invite(services, db, 14)
    answered, invalid, expired = invitations[:12], invitations[12], invitations[13]
    async with db.sessions() as session, session.begin():
        await session.execute(
            update(Invitation).where(Invitation.id == expired).values(expires_at=utcnow() - timedelta(minutes=1))
        )

    submissions = [(i, answers(n)) for n, i in enumerate(answered)]
    submissions += [(answered[n], answers(100 + n)) for n in range(3)]  # the same links again, at the same time
    submissions += [(invalid, answers(50, satisfaction="")), (invalid, answers(51, improve="x" * 1201))]
    submissions += [(expired, answers(52)), (uuid.uuid4(), answers(53))]
    outcomes = await asyncio.gather(*(submit(writer, db, i, form) for i, form in submissions))

    assert writer.group.fallbacks == 0, repr(writer.group.last_error)
    assert 0 < writer.group.batches < len(submissions)  # answers really were grouped

    # One response per invitation; the second submission of a link is told it has already been answered.
    stored = {o for o in outcomes if isinstance(o, uuid.UUID)}
    assert len(stored) == 12
    for n in range(3):
        first, again = outcomes[n], outcomes[12 + n]
        assert sum(isinstance(o, uuid.UUID) for o in (first, again)) == 1
        assert sum(isinstance(o, AlreadyAnswered) for o in (first, again)) == 1
    # Bad answers are refused alone, with the field and the version to show the form again.
    bad_satisfaction, too_long = outcomes[15], outcomes[16]
    assert isinstance(bad_satisfaction, InvalidAnswers) and isinstance(too_long, InvalidAnswers)
    assert [p.key for p in bad_satisfaction.checked.problems] == ["satisfaction"]
    assert [p.key for p in too_long.checked.problems] == ["improve"]
    assert too_long.definition.questions
    assert isinstance(outcomes[17], InvitationClosed) and isinstance(outcomes[18], InvitationClosed)

    responses = await db.all(Response)
    assert {r.id for r in responses} == stored
    assert {r.invitation_id for r in responses} == set(answered)
    by_invitation = {i.id: i for i in await db.all(Invitation)}
    assert all(by_invitation[i].responded_at is not None for i in answered)
    assert by_invitation[invalid].responded_at is None and by_invitation[expired].responded_at is None

    # Each answer row is the one submitted for that link, its comment encrypted under its person's key.
    sent = {}
    for (_, form), outcome in zip(submissions, outcomes, strict=True):
        if isinstance(outcome, uuid.UUID):
            sent[outcome] = form
    async with db.sessions() as session:
        vault = services.get(Vault)
        for response in responses:
            rows = (await session.scalars(select(Answer).where(Answer.response_id == response.id))).all()
            assert {a.question_key for a in rows} == {"satisfaction", "resolved", "improve", "praise"}
            texts = {a.question_key: await read_answer_text(session, vault, response, a) for a in rows}
            assert texts["improve"] == sent[response.id]["improve"]
            assert texts["praise"] == sent[response.id]["praise"]
            improve = next(a for a in rows if a.question_key == "improve")
            assert improve.text_ciphertext is not None and b"wait" not in improve.text_ciphertext
            assert response.satisfaction == int(sent[response.id]["satisfaction"])
            assert response.resolved == sent[response.id]["resolved"]
            assert response.service_id is not None and response.subject_id is not None

    # Scoring was enqueued in the same transactions: one job per stored response, none for the refused.
    jobs = [j for j in await db.all(Job) if j.name == SCORE_RESPONSE_JOB]
    assert sorted(str(j.payload["response_id"]) for j in jobs) == sorted(str(r) for r in stored)


async def test_a_failed_batch_leaves_nothing_behind_and_each_answer_is_stored_on_its_own(
    setup: tuple[GroupedResponses, dict[str, Any]], db: TestDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer, services = setup
    invitations = await invite(services, db, 6)
    recorder = writer.recorder
    real = recorder.record
    calls = 0

    async def failing(session: Any, batch: Any) -> Any:
        nonlocal calls
        calls += 1
        outcomes = await real(session, batch)  # every row written ...
        if calls == 1:
            raise RuntimeError("lost a race")  # ... then the first batch fails before commit
        return outcomes

    monkeypatch.setattr(recorder, "record", failing)
    submissions = [*invitations, invitations[0], invitations[1]]
    outcomes = await asyncio.gather(*(submit(writer, db, i, answers(n)) for n, i in enumerate(submissions)))

    # The first batch failed; every submission in it was then stored on its own (the per-item path).
    assert writer.group.fallbacks == 1 and writer.group.batches == 0
    assert calls == 1 + len(submissions)
    assert await db.count(Response) == 6
    assert sum(isinstance(o, uuid.UUID) for o in outcomes) == 6
    assert sum(isinstance(o, AlreadyAnswered) for o in outcomes) == 2
    assert await db.count(Answer) == 6 * 4
    assert len([j for j in await db.all(Job) if j.name == SCORE_RESPONSE_JOB]) == 6


async def test_an_erased_person_cannot_answer_and_nothing_of_theirs_is_stored(
    setup: tuple[GroupedResponses, dict[str, Any]], db: TestDatabase
) -> None:
    writer, services = setup
    erased, kept = await invite(services, db, 2, prefix="erase")
    async with db.sessions() as session, session.begin():
        subject_id = await session.scalar(select(Invitation.subject_id).where(Invitation.id == erased))
        await session.execute(
            update(DataKey).where(DataKey.subject_id == subject_id).values(wrapped=None, destroyed_at=utcnow())
        )

    outcomes = await asyncio.gather(submit(writer, db, erased, answers(1)), submit(writer, db, kept, answers(2)))

    assert isinstance(outcomes[0], InvitationClosed)
    assert isinstance(outcomes[1], uuid.UUID)
    assert [r.invitation_id for r in await db.all(Response)] == [kept]
    assert await db.count(Answer) == 4
