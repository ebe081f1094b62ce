"""Storing a survey response: one row per question against the version answered, free text encrypted.

Surveys publishes "response submitted" in the same transaction; higher layers (feedback) subscribe, for
example to enqueue scoring, so their work exists exactly when the response does.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from civicvoice.core.clock import utcnow
from civicvoice.core.db import table
from civicvoice.core.errors import CivicVoiceError
from civicvoice.core.group_commit import FALLBACK, GroupCommit
from civicvoice.core.ids import new_id
from privacy.exceptions import KeyDestroyed
from privacy.models import DataSubject
from privacy.vault import Vault
from surveys.answers import CheckedAnswers, FormValue, check_answers
from surveys.definitions import ENGLISH, Question, SurveyDefinition, stored_definition
from surveys.models import Answer, Contact, Invitation, InvitationState, Response, SurveyVersion, VersionStatus

ANSWER_TEXT_FIELD = "answer.text"
_A = TypeVar("_A", int, str)


@dataclass(frozen=True)
class ResponseSubmitted:
    response_id: uuid.UUID
    has_text: bool


# Called in the transaction that stores the responses, with every response it stores.
Subscriber = Callable[[AsyncSession, Sequence[ResponseSubmitted]], Awaitable[None]]


ALREADY_ANSWERED = "Thank you, we already have your answers to this survey."


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

    def __init__(self, checked: CheckedAnswers, definition: SurveyDefinition) -> None:
        super().__init__("Some answers need changing.")
        self.checked = checked
        self.definition = definition  # the version answered, to show the form again with the problems


CLOSED_STATES = frozenset(state for state in InvitationState if state.closed)


def refusal(invitation: Any, now: datetime) -> CivicVoiceError | None:
    """Why an invitation (a row or a `Invitation`) cannot be answered now, or None if it can."""
    if invitation is None:
        return InvitationClosed("This survey is no longer available.")
    if invitation.subject_id is None or getattr(invitation, "subject_erased_at", None) is not None:
        # Its person was erased (or retention took them out of it): nothing more of theirs is stored, under any
        # key, and an answer stored without them would be a comment nobody can ever erase.
        return InvitationClosed("This survey is no longer available.")
    if invitation.responded_at is not None:
        return AlreadyAnswered(ALREADY_ANSWERED)
    if invitation.expires_at <= now or invitation.state in CLOSED_STATES:
        return InvitationClosed("This survey has closed.")
    return None


async def stored_answers(session: AsyncSession, response_id: uuid.UUID) -> dict[str, int | str | tuple[str, ...]]:
    """A response's scale and choice answers as skip conditions read them (several choices picked: a tuple)."""
    rows = await session.execute(
        select(Answer.question_key, Answer.number, Answer.choice)
        .where(Answer.response_id == response_id, Answer.text_ciphertext.is_(None))
        .order_by(Answer.question_key, Answer.position)
    )
    found: dict[str, int | str | tuple[str, ...]] = {}
    for key, number, choice in rows.tuples():
        if number is not None:
            found[key] = number
        elif choice is not None:
            before = found.get(key)
            found[key] = (
                choice if before is None else (*(before if isinstance(before, tuple) else (str(before),)), choice)
            )
    return found


async def open_invitation(session: AsyncSession, invitation_id: uuid.UUID) -> Invitation:
    """The invitation behind a genuine token, if it can still be answered."""
    invitation = await session.get(Invitation, invitation_id)
    problem = refusal(invitation, utcnow())
    if problem is not None:
        raise problem
    assert invitation is not None
    return invitation


@dataclass(frozen=True)
class Submission:
    """One person's answers to the survey behind one genuine token, as posted."""

    invitation_id: uuid.UUID
    form: Mapping[str, FormValue]
    # The questions the channel asked (an SMS asks only the CSAT question); None: the whole survey.
    asked: frozenset[str] | None = None
    partial: bool = False  # from a channel where a question may go unanswered: none is required (`check_answers`)
    language: str = ENGLISH  # what problems with the answers are told in (a language the version offers)


@dataclass(frozen=True)
class AnonymousSubmission:
    """Answers with no invitation and no person behind them (a kiosk): the version, service and channel they
    belong to, and the questions the channel asked."""

    survey_version_id: uuid.UUID
    service_id: uuid.UUID
    channel: str
    form: Mapping[str, str]
    asked: frozenset[str]
    partial: bool = True  # the channel asks some questions only, and a comment may be left out
    language: str = ENGLISH  # what problems with the answers are told in (a language the version offers)


@dataclass(frozen=True)
class _Anonymous:
    subject_id: None


Outcome = uuid.UUID | CivicVoiceError  # the stored response's id, or why this submission was refused

# What a submission needs to know about its invitation, read (and on PostgreSQL locked) for a whole batch at once.
_INVITATIONS = (
    select(
        Invitation.id,
        Invitation.subject_id,
        Invitation.survey_version_id,
        Invitation.contact_id,
        Invitation.channel,
        Invitation.state,
        Invitation.expires_at,
        Invitation.responded_at,
        Contact.service_id,
        Contact.agent_ref,
        DataSubject.erased_at.label("subject_erased_at"),
    )
    .outerjoin(Contact, Contact.id == Invitation.contact_id)
    .outerjoin(DataSubject, DataSubject.id == Invitation.subject_id)
    .order_by(Invitation.id)  # rows locked in one order by every writer: no deadlock between them
    .with_for_update(of=Invitation)
)
_DEFINITIONS_KEPT = 256


class ResponseRecorder:
    """Checks and stores survey answers: one row per question, free text encrypted, "response submitted" published.

    `record` stores many submissions in the caller's transaction with one statement per table (the group-commit
    writer's path); `submit` is one submission in its own transaction (the one-at-a-time path). Both run the
    same code.
    """

    def __init__(self, vault: Vault, subscribers: Sequence[Subscriber]) -> None:
        self.vault = vault
        self.subscribers = subscribers
        # A published survey version is never edited (a change is a new version), so its definition is kept.
        self._definitions: dict[uuid.UUID, SurveyDefinition] = {}

    async def submit(self, session: AsyncSession, invitation_id: uuid.UUID, form: Mapping[str, FormValue]) -> uuid.UUID:
        """Store one submission and commit; returns the response id or raises why it was refused."""
        try:
            [outcome] = await self.record(session, [Submission(invitation_id, form)])
            if isinstance(outcome, CivicVoiceError):
                raise outcome
            await session.commit()
            return outcome
        except IntegrityError:
            # Two submissions raced; the unique invitation on response kept one.
            await session.rollback()
            raise AlreadyAnswered(ALREADY_ANSWERED) from None
        except BaseException:
            await session.rollback()
            raise

    async def record(self, session: AsyncSession, submissions: Sequence[Submission]) -> list[Outcome]:
        """Check and store each submission in the caller's transaction and publish; one outcome each, in order.

        A refused submission (closed, already answered, invalid answers) stores nothing and does not affect the
        others. Does not commit.
        """
        now = utcnow()
        ids = sorted({s.invitation_id for s in submissions})
        invitations = {row.id: row for row in await session.execute(_INVITATIONS.where(Invitation.id.in_(ids)))}
        definitions = await self._definitions_for(session, {row.survey_version_id for row in invitations.values()})

        outcomes: list[Outcome | None] = []
        accepted: list[tuple[int, Any, SurveyDefinition, CheckedAnswers]] = []
        taken: set[uuid.UUID] = set()
        for position, submission in enumerate(submissions):
            invitation = invitations.get(submission.invitation_id)
            problem = refusal(invitation, now)
            if problem is None and submission.invitation_id in taken:
                problem = AlreadyAnswered(ALREADY_ANSWERED)
            if problem is None:
                assert invitation is not None  # refusal() refuses a missing one
                definition = definitions[invitation.survey_version_id]
                checked = check_answers(
                    definition,
                    submission.form,
                    language=submission.language,
                    asked=submission.asked,
                    partial=submission.partial,
                )
                if not checked.ok:
                    problem = InvalidAnswers(checked, definition)
                else:
                    taken.add(submission.invitation_id)
                    accepted.append((position, invitation, definition, checked))
            outcomes.append(problem)

        # Every respondent's key unwrapped with one query; the texts are then encrypted without another.
        await self.vault.load_subject_keys(
            session, {inv.subject_id for _, inv, _, checked in accepted if checked.texts and inv.subject_id}
        )
        response_rows: list[dict[str, Any]] = []
        answer_rows: list[dict[str, Any]] = []
        events: list[ResponseSubmitted] = []
        for position, invitation, definition, checked in accepted:
            response_id = new_id()
            try:
                answers = await self._answer_rows(session, invitation, response_id, checked, now)
            except KeyDestroyed:
                # The person was erased after the invitation was sent: nothing of theirs is stored again.
                outcomes[position] = InvitationClosed("This survey is no longer available.")
                continue
            answer_rows.extend(answers)
            response_rows.append(
                {
                    "id": response_id,
                    "invitation_id": invitation.id,
                    "survey_version_id": invitation.survey_version_id,
                    "subject_id": invitation.subject_id,
                    "service_id": invitation.service_id,
                    "contact_id": invitation.contact_id,
                    "agent_ref": invitation.agent_ref,
                    "channel": invitation.channel,
                    "anonymous": invitation.subject_id is None,
                    "submitted_at": now,
                    "satisfaction": _answer_to(definition.csat_question, checked.numbers),
                    "resolved": _answer_to(definition.resolution_question, checked.choices),
                }
            )
            events.append(ResponseSubmitted(response_id, has_text=bool(checked.texts)))
            outcomes[position] = response_id

        if response_rows:
            await session.execute(insert(table(Response)), response_rows)
            if answer_rows:
                await session.execute(insert(table(Answer)), answer_rows)
            answered = [row["invitation_id"] for row in response_rows]
            await session.execute(update(table(Invitation)).where(Invitation.id.in_(answered)).values(responded_at=now))
            for subscriber in self.subscribers:
                await subscriber(session, events)
        done = [outcome for outcome in outcomes if outcome is not None]
        assert len(done) == len(submissions)
        return done

    async def record_anonymous(
        self, session: AsyncSession, submission: AnonymousSubmission, *, adding_to: Response | None = None
    ) -> uuid.UUID:
        """Check and store answers given with no invitation and no person (a kiosk), free text under the month's
        key, in the caller's transaction; publishes "response submitted". Does not commit.

        ``adding_to``: an anonymous response of the same version that these answers complete (the kiosk's comment
        after its tap); a question it already answers is refused. Raises InvalidAnswers, storing nothing.
        """
        definition = await self.definition(session, submission.survey_version_id)
        earlier = await stored_answers(session, adding_to.id) if adding_to is not None else None
        checked = check_answers(
            definition,
            submission.form,
            language=submission.language,
            asked=submission.asked,
            partial=submission.partial,
            earlier=earlier,
        )
        if adding_to is not None:
            assert adding_to.anonymous and adding_to.survey_version_id == submission.survey_version_id
            if checked.numbers or checked.choices:
                raise ValueError("only free text is added to an answered response")
            taken = await session.scalar(
                select(Answer.id).where(Answer.response_id == adding_to.id, Answer.question_key.in_(checked.texts))
            )
            if taken is not None:
                raise AlreadyAnswered(ALREADY_ANSWERED)
        if not checked.ok:
            raise InvalidAnswers(checked, definition)
        anonymous = _Anonymous(subject_id=None)
        if adding_to is None:
            now = utcnow()
            response_id = new_id()
            session.add(
                Response(
                    id=response_id,
                    survey_version_id=submission.survey_version_id,
                    service_id=submission.service_id,
                    channel=submission.channel,
                    anonymous=True,
                    submitted_at=now,
                    satisfaction=_answer_to(definition.csat_question, checked.numbers),
                    resolved=_answer_to(definition.resolution_question, checked.choices),
                )
            )
            await session.flush()
        else:
            # Under the key of the month the response belongs to, which is the one its text is read with.
            now, response_id = adding_to.submitted_at, adding_to.id
        rows = await self._answer_rows(session, anonymous, response_id, checked, now)
        if rows:
            await session.execute(insert(table(Answer)), rows)
        if rows or adding_to is None:
            event = ResponseSubmitted(response_id, has_text=bool(checked.texts))
            for subscriber in self.subscribers:
                await subscriber(session, [event])
        return response_id

    async def _answer_rows(
        self, session: AsyncSession, invitation: Any, response_id: uuid.UUID, checked: CheckedAnswers, now: datetime
    ) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = [
            {"id": new_id(), "response_id": response_id, "question_key": key, "number": number}
            for key, number in checked.numbers.items()
        ]
        rows += [
            {"id": new_id(), "response_id": response_id, "question_key": key, "choice": choice}
            for key, choice in checked.choices.items()
        ]
        rows += [
            {"id": new_id(), "response_id": response_id, "question_key": key, "choice": choice, "position": position}
            for key, picked in checked.selections.items()
            for position, choice in enumerate(picked)
        ]
        for key, text in checked.texts.items():
            answer_id = new_id()
            if invitation.subject_id is not None:
                ciphertext = await self.vault.encrypt(
                    session, invitation.subject_id, ANSWER_TEXT_FIELD, answer_id, text
                )
            else:
                ciphertext = await self.vault.encrypt_anonymous(session, now, ANSWER_TEXT_FIELD, answer_id, text)
            rows.append(
                {
                    "id": answer_id,
                    "response_id": response_id,
                    "question_key": key,
                    "text_ciphertext": ciphertext,
                    "text_length": len(text),
                }
            )
        # One executemany needs every row to name the same columns.
        return [{column: row.get(column, _ANSWER_DEFAULTS.get(column)) for column in _ANSWER_COLUMNS} for row in rows]

    async def definition(self, session: AsyncSession, version_id: uuid.UUID) -> SurveyDefinition:
        """The definition of a survey version, to show its form."""
        return (await self._definitions_for(session, {version_id}))[version_id]

    async def _definitions_for(
        self, session: AsyncSession, version_ids: set[uuid.UUID]
    ) -> dict[uuid.UUID, SurveyDefinition]:
        found = {version_id: self._definitions[version_id] for version_id in version_ids & self._definitions.keys()}
        missing = version_ids - found.keys()
        if missing:
            if len(self._definitions) > _DEFINITIONS_KEPT:
                self._definitions.clear()
            rows = await session.execute(
                select(SurveyVersion.id, SurveyVersion.status, SurveyVersion.definition).where(
                    SurveyVersion.id.in_(missing)
                )
            )
            for version_id, status, stored in rows:
                found[version_id] = stored_definition(stored)
                if status != VersionStatus.draft:  # a draft can still change; a published version never does
                    self._definitions[version_id] = found[version_id]
        return found


def _answer_to(question: Question | None, answers: Mapping[str, _A]) -> _A | None:
    return answers.get(question.id) if question is not None else None


_ANSWER_COLUMNS = (
    "id",
    "response_id",
    "question_key",
    "number",
    "choice",
    "text_ciphertext",
    "text_length",
    "position",
)
_ANSWER_DEFAULTS = {"position": 0}


class GroupedResponses:
    """Answers from many requests stored by one writer in one transaction (`civicvoice.core.group_commit`).

    The same ``submit(session, invitation_id, form)`` as `ResponseRecorder`; ``session`` is used only when the
    batch failed and the submission is stored on its own.
    """

    def __init__(
        self, recorder: ResponseRecorder, sessions: async_sessionmaker[AsyncSession], *, max_batch: int = 64
    ) -> None:
        self.recorder = recorder
        self.group: GroupCommit[Submission, Outcome] = GroupCommit(
            sessions,
            lambda session, batch: self.recorder.record(session, batch),
            name="survey-response-writer",
            max_batch=max_batch,
        )

    async def submit(self, session: AsyncSession, invitation_id: uuid.UUID, form: Mapping[str, FormValue]) -> uuid.UUID:
        outcome = await self.group.submit(Submission(invitation_id, form))
        if outcome is FALLBACK:
            return await self.recorder.submit(session, invitation_id, form)
        if isinstance(outcome, CivicVoiceError):
            raise outcome
        assert isinstance(outcome, uuid.UUID)
        return outcome

    async def aclose(self) -> None:
        await self.group.aclose()


async def read_answer_text(session: AsyncSession, vault: Vault, response: Response, answer: Answer) -> str | None:
    if answer.text_ciphertext is None:
        return None
    if response.subject_id is not None:
        return await vault.decrypt(session, response.subject_id, ANSWER_TEXT_FIELD, answer.id, answer.text_ciphertext)
    return await vault.decrypt_anonymous(
        session, response.submitted_at, ANSWER_TEXT_FIELD, answer.id, answer.text_ciphertext
    )
