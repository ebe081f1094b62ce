"""IVR post-call survey: a telephony platform calls our webhook with the call id and the keypad digits pressed;
we answer with the next prompt (text for its text-to-speech and the digits allowed) until the survey ends.

The call is tied to its invitation through the contact the platform reported for it: the call id is the contact
event's `external_id` under the platform's `source`, and intake invites a phone contact on the `ivr` channel
(nothing is sent; the invitation waits for the call). At most three questions, the CSAT question first; digits
out of range (or none) repeat the question once, then the call moves on. Answers go through the one
`ResponseRecorder` as a partial response (the IVR asks only some questions).

Requests are HMAC-SHA256 signed server to server with a shared secret per platform (`sign_request` is the
contract, written out in the README), within a timestamp window against replay; the answer to a question names
the question, so a replayed answer to an earlier question changes nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Final, Literal

import msgspec
from msgspec import Meta
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from civicvoice.core.clock import utcnow
from civicvoice.core.errors import CivicVoiceError, Conflict, NotFound
from privacy.vault import Vault
from surveys.definitions import ENGLISH, Question, QuestionKind, SurveyDefinition
from surveys.intake import invitation_waiting
from surveys.models import InvitationState, IvrCall
from surveys.responses import ResponseRecorder, Submission, open_invitation
from surveys.rules import InvitationChannel
from surveys.signed_requests import SignatureRefused

MAX_QUESTIONS: Final = 3
MAX_CHOICES: Final = 9  # one key each, 1 to 9

RETRY_PREFIX: Final = "Sorry, that is not one of the options. "
THANK_YOU: Final = "Thank you for your feedback. Goodbye."
NOTHING_TO_ASK: Final = "Thank you. Goodbye."


# ---------------------------------------------------------------------------------------------------------------
# The wire contract


Digits = Annotated[str, Meta(pattern=r"^[0-9*#]{0,12}$", description="The keys pressed; empty when none were.")]
QuestionRef = Annotated[str, Meta(pattern=r"^[a-z][a-z0-9_]{0,39}$")]


class IvrRequest(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """What the platform sends: nothing to start (or resume) the survey; then the digits pressed for a question."""

    question: QuestionRef | None = None  # the question the digits answer, as our last prompt named it
    digits: Digits | None = None


class IvrPrompt(msgspec.Struct, kw_only=True):
    """What the platform does next: `ask` speaks `prompt` and collects up to `max_digits` keys from `digits`;
    `end` speaks `prompt` and ends the survey (hang up or return to the call flow)."""

    call_id: str
    action: Literal["ask", "end"]
    prompt: str
    question: str | None = None  # send it back with the digits pressed
    digits: list[str] = msgspec.field(default_factory=list)
    max_digits: int = 0
    attempt: int = 0  # 1 the first time a question is asked, 2 when it is repeated
    language: str = ENGLISH


class NoCallSurvey(NotFound):
    slug = "no-ivr-survey"
    title = "No survey for this call"


class StaleAnswer(Conflict):
    slug = "ivr-stale-answer"
    title = "Not the question being asked"


# ---------------------------------------------------------------------------------------------------------------
# What the keypad can ask: pure


@dataclass(frozen=True)
class KeypadQuestion:
    question: Question
    keys: dict[str, str]  # digits pressed -> the value stored (a scale point, or a choice's value)
    prompt: str

    @property
    def id(self) -> str:
        return self.question.id


def keypad_question(question: Question, language: str = ENGLISH) -> KeypadQuestion | None:
    """The question as a keypad prompt, or None if it cannot be answered with keys (text, several choices)."""
    if question.kind is QuestionKind.free_text or question.kind is QuestionKind.multiple_choice:
        return None
    options = question.options()
    if question.kind.scale is not None:
        # Scale points are pressed as themselves (NPS 10 is "1" then "0").
        keys = {option.value: option.value for option in options}
    else:
        if len(options) > MAX_CHOICES:
            return None
        keys = {str(number): option.value for number, option in enumerate(options, start=1)}
    labelled = [(key, option.label_in(language)) for key, option in zip(keys, options, strict=True)]
    if all(label == key for key, label in labelled):
        first, last = labelled[0][0], labelled[-1][0]
        spoken = f"Press a number from {first} to {last}."
    else:
        spoken = " ".join(f"For {label}, press {key}." for key, label in labelled)
    return KeypadQuestion(question, keys, f"{question.text_in(language)} {spoken}")


def keypad_plan(definition: SurveyDefinition, language: str = ENGLISH) -> list[KeypadQuestion]:
    """The questions the IVR asks: CSAT first, then the others the keypad can answer, in order; at most three."""
    askable = [kq for q in definition.questions if (kq := keypad_question(q, language)) is not None]
    askable.sort(key=lambda kq: kq.question.kind is not QuestionKind.csat)  # stable: the rest keep their order
    return askable[:MAX_QUESTIONS]


def next_question(plan: list[KeypadQuestion], outcomes: Mapping[str, str | None]) -> KeypadQuestion | None:
    """The first question not yet done whose skip condition holds on the answers given so far."""
    given: dict[str, int | str] = {}
    for kq in plan:
        value = outcomes.get(kq.id)
        if value is not None:
            given[kq.id] = int(value) if kq.question.kind.scale is not None else value
    for kq in plan:
        if kq.id in outcomes:
            continue
        condition = kq.question.show_if
        if condition is None or condition.holds(given.get(condition.question)):
            return kq
    return None


# ---------------------------------------------------------------------------------------------------------------
# The call, stored


class IvrSurveys:
    """Runs keypad surveys on calls: finds the invitation behind a call, keeps the call's progress, records answers.

    Works in the caller's transaction and never commits (the request commits on success, so a refused request
    changes nothing).
    """

    def __init__(self, vault: Vault, recorder: ResponseRecorder) -> None:
        self.vault = vault
        self.recorder = recorder

    async def invitation_for_call(self, session: AsyncSession, platform: str, call_id: str) -> uuid.UUID:
        invitation_id = await invitation_waiting(session, self.vault, platform, call_id, InvitationChannel.ivr)
        if invitation_id is None:
            raise NoCallSurvey("No IVR survey is waiting for this call; end the call as usual.")
        return invitation_id

    async def step(self, session: AsyncSession, platform: str, call_id: str, request: IvrRequest) -> IvrPrompt:
        """Take the digits for the question asked (if any) and say what to ask next."""
        if (request.digits is None) != (request.question is None):
            raise InvalidIvrRequest("Send both question and digits, or neither (to start or resume the survey).")
        invitation_id = await self.invitation_for_call(session, platform, call_id)
        call = await session.scalar(select(IvrCall).where(IvrCall.invitation_id == invitation_id).with_for_update())
        if call is not None and call.finished_at is not None:
            if request.question is not None:
                raise StaleAnswer("The survey on this call has ended.")
            return IvrPrompt(call_id=call_id, action="end", prompt=THANK_YOU)
        invitation = await open_invitation(session, invitation_id)
        now = utcnow()
        if call is None:
            call = IvrCall(invitation_id=invitation_id, platform=platform, outcomes={}, retries=0, started_at=now)
            session.add(call)
            invitation.state = InvitationState.sent  # the call is where the invitation is delivered
            invitation.sent_at = invitation.state_changed_at = now
            invitation.message_ref = f"ivr.{invitation_id}"
            try:
                await session.flush()
            except IntegrityError:
                raise StaleAnswer("Another request for this call is being answered; send it again.") from None
        elif call.platform != platform:
            raise SignatureRefused("This call belongs to another platform.")
        definition = await self.recorder.definition(session, invitation.survey_version_id)
        plan = keypad_plan(definition)
        outcomes: dict[str, str | None] = dict(call.outcomes)
        asking = next_question(plan, outcomes)
        if request.question is not None:
            if asking is None or request.question != asking.id or request.question != call.current:
                raise StaleAnswer("These digits answer a question that is not being asked now; nothing was changed.")
            assert request.digits is not None
            value = asking.keys.get(request.digits)
            if value is None and call.retries == 0:
                call.retries = 1
                call.updated_at = now
                return _ask(call_id, asking, attempt=2)
            outcomes[asking.id] = value  # None: asked twice without a valid answer, so move on
            call.outcomes = outcomes
            call.retries = 0
            asking = next_question(plan, outcomes)
        call.updated_at = now
        if asking is not None:
            call.current = asking.id
            return _ask(call_id, asking, attempt=call.retries + 1)
        call.current = None
        call.finished_at = now
        form = {key: value for key, value in outcomes.items() if value is not None}
        if not form:
            return IvrPrompt(call_id=call_id, action="end", prompt=NOTHING_TO_ASK)
        [outcome] = await self.recorder.record(session, [Submission(invitation_id, form, partial=True)])
        if isinstance(outcome, CivicVoiceError):
            raise outcome
        call.response_id = outcome
        return IvrPrompt(call_id=call_id, action="end", prompt=THANK_YOU)


class InvalidIvrRequest(CivicVoiceError):
    status = 400
    slug = "invalid-ivr-request"
    title = "Invalid IVR request"


def _ask(call_id: str, kq: KeypadQuestion, *, attempt: int) -> IvrPrompt:
    prompt = kq.prompt if attempt == 1 else RETRY_PREFIX + kq.prompt
    return IvrPrompt(
        call_id=call_id,
        action="ask",
        prompt=prompt,
        question=kq.id,
        digits=list(kq.keys),
        max_digits=max(len(key) for key in kq.keys),
        attempt=attempt,
    )
