"""Scoring comments: a job enqueued in the same transaction as the response, storing sentiment in clear."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from civicvoice.core.clock import utcnow
from civicvoice.core.jobs import JobContext, JobRegistry, enqueue_many, job_row
from feedback.models import CommentScore
from feedback.sentiment import QuestionKind, score
from privacy.exceptions import KeyDestroyed
from privacy.vault import Vault
from surveys.models import Answer, Response, SurveyVersion
from surveys.responses import ResponseSubmitted, read_answer_text

SCORE_RESPONSE_JOB = "feedback.score_response"
JOBS = JobRegistry()


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


def question_context(definition: dict[str, Any], key: str) -> QuestionKind | None:
    for question in definition.get("questions", []):
        if question.get("key") == key and question.get("sentiment_context"):
            try:
                return QuestionKind(question["sentiment_context"])
            except ValueError:
                return None
    return None


async def score_response(session: AsyncSession, vault: Any, response_id: uuid.UUID) -> int:
    """Score every free-text answer of a response not yet scored; returns how many were scored."""
    response = await session.get(Response, response_id)
    if response is None:
        return 0
    version = await session.get(SurveyVersion, response.survey_version_id)
    definition = dict(version.definition) if version else {}
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
        sentiment = score(text, question=question_context(definition, answer.question_key))
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
