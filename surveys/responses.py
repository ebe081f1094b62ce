"""Storing a survey response: one row per question against the version answered, free text encrypted.

Surveys publishes "response submitted" in the same transaction; higher layers (feedback) subscribe, for
example to enqueue scoring, so their work exists exactly when the response does.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from civicvoice.core.clock import utcnow
from civicvoice.core.errors import CivicVoiceError
from privacy.vault import Vault
from surveys.answers import CheckedAnswers, check_answers
from surveys.models import Answer, Contact, Invitation, Response, SurveyVersion

ANSWER_TEXT_FIELD = "answer.text"


@dataclass(frozen=True)
class ResponseSubmitted:
    response_id: uuid.UUID
    has_text: bool


Subscriber = Callable[[AsyncSession, ResponseSubmitted], Awaitable[None]]


class AlreadyAnswered(CivicVoiceError):
    status = 409
    slug = "already-answered"
    title = "You have already answered this survey"


class InvitationClosed(CivicVoiceError):
    status = 410
    slug = "expired-link"
    title = "This survey has closed"


class InvalidAnswers(CivicVoiceError):
    status = 400
    slug = "invalid-answers"
    title = "There is a problem with your answers"

    def __init__(self, checked: CheckedAnswers) -> None:
        super().__init__("Some answers need changing.")
        self.checked = checked


async def open_invitation(session: AsyncSession, invitation_id: uuid.UUID, *, lock: bool = False) -> Invitation:
    """The invitation behind a genuine token, if it can still be answered."""
    stmt = select(Invitation).where(Invitation.id == invitation_id)
    invitation = await session.scalar(stmt.with_for_update() if lock else stmt)
    if invitation is None:
        raise InvitationClosed("This survey is no longer available.")
    if invitation.responded_at is not None:
        raise AlreadyAnswered("Thank you, we already have your answers to this survey.")
    if invitation.expires_at <= utcnow() or invitation.state in ("expired", "cancelled", "failed"):
        raise InvitationClosed("This survey has closed.")
    return invitation


async def survey_definition(session: AsyncSession, version_id: uuid.UUID) -> dict[str, object]:
    version = await session.get(SurveyVersion, version_id)
    assert version is not None
    return dict(version.definition)


class ResponseRecorder:
    def __init__(self, vault: Vault, subscribers: list[Subscriber]) -> None:
        self.vault = vault
        self.subscribers = subscribers

    async def submit(self, session: AsyncSession, invitation_id: uuid.UUID, form: Mapping[str, str]) -> Response:
        """Check and store the answers, mark the invitation answered and publish; commits."""
        try:
            response = await self._submit(session, invitation_id, form)
            await session.commit()
            return response
        except IntegrityError:
            # Two submissions raced; the unique invitation on response kept one.
            await session.rollback()
            raise AlreadyAnswered("Thank you, we already have your answers to this survey.") from None
        except BaseException:
            await session.rollback()
            raise

    async def _submit(self, session: AsyncSession, invitation_id: uuid.UUID, form: Mapping[str, str]) -> Response:
        invitation = await open_invitation(session, invitation_id, lock=True)
        version = await session.get(SurveyVersion, invitation.survey_version_id)
        assert version is not None
        checked = check_answers(version.definition, form)
        if not checked.ok:
            raise InvalidAnswers(checked)
        now = utcnow()
        contact = await session.get(Contact, invitation.contact_id)
        response = Response(
            invitation_id=invitation.id,
            survey_version_id=version.id,
            subject_id=invitation.subject_id,
            service_id=contact.service_id if contact else None,
            contact_id=invitation.contact_id,
            channel=invitation.channel,
            anonymous=invitation.subject_id is None,
            submitted_at=now,
            satisfaction=checked.numbers.get("satisfaction"),
            resolved=checked.choices.get("resolved"),
        )
        session.add(response)
        await session.flush()
        for key, number in checked.numbers.items():
            session.add(Answer(response_id=response.id, question_key=key, number=number))
        for key, choice in checked.choices.items():
            session.add(Answer(response_id=response.id, question_key=key, choice=choice))
        for key, text in checked.texts.items():
            answer = Answer(response_id=response.id, question_key=key, text_length=len(text))
            if invitation.subject_id is not None:
                answer.text_ciphertext = await self.vault.encrypt(
                    session, invitation.subject_id, ANSWER_TEXT_FIELD, answer.id, text
                )
            else:
                answer.text_ciphertext = await self.vault.encrypt_anonymous(
                    session, now, ANSWER_TEXT_FIELD, answer.id, text
                )
            session.add(answer)
        invitation.responded_at = now
        await session.flush()
        event = ResponseSubmitted(response.id, has_text=bool(checked.texts))
        for subscriber in self.subscribers:
            await subscriber(session, event)
        return response


async def read_answer_text(session: AsyncSession, vault: Vault, response: Response, answer: Answer) -> str | None:
    if answer.text_ciphertext is None:
        return None
    if response.subject_id is not None:
        return await vault.decrypt(session, response.subject_id, ANSWER_TEXT_FIELD, answer.id, answer.text_ciphertext)
    return await vault.decrypt_anonymous(
        session, response.submitted_at, ANSWER_TEXT_FIELD, answer.id, answer.text_ciphertext
    )
