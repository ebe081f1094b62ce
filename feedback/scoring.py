"""Scoring comments: a job enqueued in the same transaction as the response, storing sentiment in clear; and
re-scoring stored comments in bounded background batches when a new scorer version becomes the default."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from civicvoice.core.clock import utcnow
from civicvoice.core.errors import InvalidInput
from civicvoice.core.jobs import Job, JobContext, JobRegistry, enqueue_many, job_row
from feedback.classification import classify
from feedback.models import CommentClassification, CommentScore
from feedback.sentiment import SCORER_VERSION, VERSIONS, QuestionKind, Sentiment, score
from privacy.exceptions import KeyDestroyed
from privacy.vault import Vault
from surveys.definitions import SurveyDefinition, stored_definition
from surveys.models import Answer, Response, SurveyVersion
from surveys.responses import ResponseSubmitted, read_answer_text

SCORE_RESPONSE_JOB = "feedback.score_response"
RESCORE_JOB = "feedback.rescore_comments"
RESCORE_BATCH: Final = 200  # comments per re-scoring job: one short transaction each
MAX_RESCORE_BATCH: Final = 5_000
JOBS = JobRegistry()


class RescoreRequestInvalid(InvalidInput):
    """A re-scoring request naming an unknown scorer version or an impossible batch size."""

    slug = "rescore-invalid"
    title = "Re-scoring request is invalid"


async def on_responses_submitted(session: AsyncSession, events: Sequence[ResponseSubmitted]) -> None:
    """Scoring of every response with a comment, enqueued in the transaction that stores the responses."""
    await enqueue_many(
        session,
        [
            job_row(SCORE_RESPONSE_JOB, {"response_id": e.response_id}, key=f"{SCORE_RESPONSE_JOB}:{e.response_id}")
            for e in events
            if e.has_text
        ],
    )


def question_context(definition: SurveyDefinition | None, key: str) -> QuestionKind | None:
    """What the comment answered ("What could we do better?"), so its sentiment is read against the question."""
    question = definition.question(key) if definition is not None else None
    if question is None or question.comment_prompt is None:
        return None
    return QuestionKind(question.comment_prompt.value)


def classification_row(
    text: str, response: Response, definition: SurveyDefinition | None, answer: Answer
) -> CommentClassification:
    """The comment's class and themes, read against the question it answered."""
    found = classify(text, question=question_context(definition, answer.question_key))
    return CommentClassification(
        answer_id=answer.id,
        response_id=response.id,
        comment_class=found.comment_class.value,
        confidence=round(found.confidence, 4),
        themes=[{"theme": t.theme.value, "confidence": round(t.confidence, 4)} for t in found.themes],
        classifier_version=found.classifier_version,
        classified_at=utcnow(),
    )


def page_language(response: Response) -> str | None:
    """The language the respondent's page was in, when surveys records it; None is read as English."""
    language = getattr(response, "language", None)
    return str(language) if language else None


def _score(
    text: str, response: Response, definition: SurveyDefinition | None, answer: Answer, version: str
) -> Sentiment:
    return score(
        text,
        question=question_context(definition, answer.question_key),
        language=page_language(response),
        version=version,
    )


async def score_response(session: AsyncSession, vault: Any, response_id: uuid.UUID) -> int:
    """Score every free-text answer of a response not yet scored; returns how many were scored."""
    response = await session.get(Response, response_id)
    if response is None:
        return 0
    version = await session.get(SurveyVersion, response.survey_version_id)
    definition = stored_definition(version.definition) if version else None
    scored = set(
        (await session.scalars(select(CommentScore.answer_id).where(CommentScore.response_id == response_id))).all()
    )
    answers = (
        await session.scalars(
            select(Answer).where(Answer.response_id == response_id, Answer.text_ciphertext.is_not(None))
        )
    ).all()
    count = 0
    for answer in answers:
        if answer.id in scored:
            continue
        try:
            text = await read_answer_text(session, vault, response, answer)
        except KeyDestroyed:
            continue  # erased before scoring: nothing left to score
        if text is None:
            continue
        sentiment = _score(text, response, definition, answer, SCORER_VERSION)
        session.add(classification_row(text, response, definition, answer))
        session.add(
            CommentScore(
                answer_id=answer.id,
                response_id=response_id,
                question_key=answer.question_key,
                polarity=sentiment.polarity,
                label=sentiment.label.value,
                scorer_version=sentiment.scorer_version,
                scored_at=utcnow(),
            )
        )
        count += 1
    return count


@JOBS.job(SCORE_RESPONSE_JOB, max_attempts=5)
async def score_response_job(ctx: JobContext, payload: dict[str, Any]) -> None:
    async with ctx.sessions() as session, session.begin():
        await score_response(session, ctx.service(Vault), uuid.UUID(payload["response_id"]))


# --- Re-scoring ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RescorePlan:
    version: str
    comments: int  # stored scores made by another version
    jobs: int  # jobs enqueued (0 when the same batches were already queued)


def _check(version: str, batch_size: int) -> None:
    if version not in VERSIONS:
        raise RescoreRequestInvalid(f"unknown scorer version {version!r}; known: {', '.join(VERSIONS)}")
    if not 1 <= batch_size <= MAX_RESCORE_BATCH:
        raise RescoreRequestInvalid(f"batch size must be between 1 and {MAX_RESCORE_BATCH}, got {batch_size}")


async def enqueue_rescore(
    session: AsyncSession, version: str = SCORER_VERSION, *, batch_size: int = RESCORE_BATCH
) -> RescorePlan:
    """Enqueue jobs that re-score, with ``version``, every stored comment score another version made.

    Each job covers a run of at most ``batch_size`` scores by answer id (first and last id in its payload: ids
    only); scores made meanwhile by ``version`` are left alone, so running the plan twice does no harm."""
    _check(version, batch_size)
    stale = (
        select(CommentScore.answer_id)
        .where(CommentScore.scorer_version != version)
        .order_by(CommentScore.answer_id)
        .execution_options(yield_per=10_000)
    )
    batches: list[tuple[uuid.UUID, uuid.UUID]] = []
    comments = 0
    first: uuid.UUID | None = None
    last: uuid.UUID | None = None
    async for answer_id in await session.stream_scalars(stale):  # only each batch's first and last id are kept
        if comments % batch_size == 0:
            if first is not None and last is not None:
                batches.append((first, last))
            first = answer_id
        last = answer_id
        comments += 1
    if first is not None and last is not None:
        batches.append((first, last))
    rows = [
        job_row(
            RESCORE_JOB,
            {"version": version, "first": first, "last": last, "limit": batch_size},
            key=f"{RESCORE_JOB}:{version}:{first}:{last}",
        )
        for first, last in batches
    ]
    keys = [row["dedupe_key"] for row in rows]
    queued: set[str | None] = set()
    for start in range(0, len(keys), 500):
        chunk = keys[start : start + 500]
        queued.update((await session.scalars(select(Job.dedupe_key).where(Job.dedupe_key.in_(chunk)))).all())
    fresh = [row for row in rows if row["dedupe_key"] not in queued]
    await enqueue_many(session, fresh)
    return RescorePlan(version=version, comments=comments, jobs=len(fresh))


async def rescore_comments(
    session: AsyncSession, vault: Any, version: str, first: uuid.UUID, last: uuid.UUID, limit: int
) -> int:
    """Re-score with ``version`` the stored scores of answers ``first`` .. ``last`` (at most ``limit``) that
    another version made; each keeps the version that made it. Returns how many were re-scored."""
    _check(version, limit)
    stored = (
        await session.scalars(
            select(CommentScore)
            .where(
                CommentScore.answer_id >= first,
                CommentScore.answer_id <= last,
                CommentScore.scorer_version != version,
            )
            .order_by(CommentScore.answer_id)
            .limit(limit)
        )
    ).all()
    if not stored:
        return 0
    answers = {
        a.id: a
        for a in (await session.scalars(select(Answer).where(Answer.id.in_([s.answer_id for s in stored])))).all()
    }
    responses: dict[uuid.UUID, Response | None] = {}
    definitions: dict[uuid.UUID, SurveyDefinition | None] = {}
    count = 0
    for comment in stored:
        answer = answers.get(comment.answer_id)
        if answer is None:
            continue
        if answer.response_id not in responses:
            responses[answer.response_id] = await session.get(Response, answer.response_id)
        response = responses[answer.response_id]
        if response is None:
            continue
        if response.survey_version_id not in definitions:
            survey_version = await session.get(SurveyVersion, response.survey_version_id)
            definitions[response.survey_version_id] = (
                stored_definition(survey_version.definition) if survey_version else None
            )
        try:
            text = await read_answer_text(session, vault, response, answer)
        except KeyDestroyed:
            continue  # erased: the comment is gone, its old score stays with the version that made it
        if text is None:
            continue
        sentiment = _score(text, response, definitions[response.survey_version_id], answer, version)
        comment.polarity = sentiment.polarity
        comment.label = sentiment.label.value
        comment.scorer_version = sentiment.scorer_version
        comment.scored_at = utcnow()
        count += 1
    return count


# Payloads carry ids only, so the version and batch size a rescore job takes are declared.
@JOBS.job(RESCORE_JOB, max_attempts=5, payload_values={"version": VERSIONS, "limit": range(1, MAX_RESCORE_BATCH + 1)})
async def rescore_comments_job(ctx: JobContext, payload: dict[str, Any]) -> None:
    async with ctx.sessions() as session, session.begin():
        await rescore_comments(
            session,
            ctx.service(Vault),
            str(payload["version"]),
            uuid.UUID(payload["first"]),
            uuid.UUID(payload["last"]),
            int(payload["limit"]),
        )
