"""End-of-chat survey: a widget in the chat window asks the survey's CSAT question and an optional comment.

The chat is tied to its invitation through the contact the chat platform reported for it: the chat id is the
contact event's `external_id` under the platform's `source`, and intake invites a web chat contact on the `chat`
channel (nothing is sent; the invitation waits for the end of the chat). When the chat ends, the platform asks
for a widget token server to server, HMAC-signed like the IVR webhook (`surveys.signed_requests`), and puts it in
the one script tag it adds to the chat window. The token is short-lived, bound to that one invitation and carries
no personal data; the platform's secret never reaches the browser. The widget reads the question and posts the
answer with the token; the answer goes through the one `ResponseRecorder`, so a second answer is refused (409).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Final

import msgspec
from msgspec import Meta
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from civicvoice.core.errors import CivicVoiceError, InvalidInput, NotAuthenticated, NotFound
from privacy.vault import Vault
from surveys.definitions import ENGLISH, Question, QuestionKind, SurveyDefinition
from surveys.intake import invitation_waiting
from surveys.models import InvitationState
from surveys.responses import (
    ALREADY_ANSWERED,
    AlreadyAnswered,
    InvalidAnswers,
    ResponseRecorder,
    Submission,
    open_invitation,
)
from surveys.rules import InvitationChannel
from surveys.timeline import record_event
from surveys.tokens import BadToken, ExpiredToken, Purpose, TokenSigner

WIDGET_SCRIPT_PATH: Final = "/chat/widget.js"
WIDGET_STYLE_PATH: Final = "/chat/widget.css"
WIDGET_DELIVERED: Final = "end-of-chat widget token issued"

# ---------------------------------------------------------------------------------------------------------------
# The wire contract

ChatId = Annotated[str, Meta(min_length=1, max_length=200)]


class ChatTokenRequest(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """What the chat platform may send with its request for a token: nothing yet (an empty body or `{}`)."""


class ChatTokenIssued(msgspec.Struct, kw_only=True):
    """A token for one chat's widget, and how to use it: put `embed` in the chat window (or a script tag of your
    own with `script_url` and `data-token`); `survey_url` is the same survey as a page, for a chat client without
    JavaScript (send it as a chat message)."""

    chat_id: str
    token: str
    expires_at: datetime
    script_url: str
    embed: str
    survey_url: str


class ChatChoice(msgspec.Struct):
    value: str
    label: str


class ChatQuestion(msgspec.Struct, kw_only=True):
    id: str
    text: str
    hint: str = ""
    choices: list[ChatChoice]


class ChatComment(msgspec.Struct, kw_only=True):
    id: str
    text: str
    hint: str = ""
    max_length: int


class ChatSurvey(msgspec.Struct, kw_only=True):
    """What the widget shows: the CSAT question, then an optional comment."""

    title: str
    question: ChatQuestion
    comment: ChatComment | None = None
    language: str = ENGLISH
    # The council's privacy notice (Art. 13): the widget links it, as every public page does.
    privacy_notice_url: str = ""


Rating = Annotated[str, Meta(min_length=1, max_length=2, pattern=r"^[0-9]{1,2}$")]


class ChatAnswer(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """The widget's answer: the `value` of the choice picked, and the comment if one was written."""

    rating: Rating
    comment: Annotated[str, Meta(max_length=10_000)] | None = None


class ChatAnswered(msgspec.Struct, kw_only=True):
    status: str = "answered"
    message: str = "Thank you for your feedback."


class NoChatSurvey(NotFound):
    slug = "no-chat-survey"
    title = "No survey for this chat"


class ChatTokenMissing(NotAuthenticated):
    slug = "chat-token-missing"
    title = "Chat survey token required"


class ChatTokenInvalid(NotAuthenticated):
    slug = "chat-token-invalid"
    title = "Chat survey token not valid"


class ChatTokenExpired(CivicVoiceError):
    status = 410
    slug = "chat-token-expired"
    title = "This survey has closed"


class InvalidChatRequest(InvalidInput):
    status = 400
    slug = "invalid-chat-request"
    title = "Invalid chat survey request"


class InvalidChatAnswer(InvalidInput):
    status = 400
    slug = "invalid-chat-answer"
    title = "There is a problem with the answer"


# ---------------------------------------------------------------------------------------------------------------
# What the widget asks: pure


@dataclass(frozen=True)
class WidgetPlan:
    question: Question  # the CSAT question
    comment: Question | None  # the first free-text question asked of everyone, if the survey has one

    @property
    def asked(self) -> frozenset[str]:
        return frozenset({self.question.id, *([self.comment.id] if self.comment else [])})


def widget_plan(definition: SurveyDefinition) -> WidgetPlan | None:
    """The CSAT question and the comment the widget asks, or None when the version has no CSAT question."""
    csat = definition.csat_question
    if csat is None:
        return None
    comment = next((q for q in definition.questions if q.kind is QuestionKind.free_text and q.show_if is None), None)
    return WidgetPlan(csat, comment)


def widget_survey(definition: SurveyDefinition, plan: WidgetPlan, language: str = ENGLISH) -> ChatSurvey:
    question = plan.question
    comment = plan.comment
    return ChatSurvey(
        title=definition.title_in(language),
        question=ChatQuestion(
            id=question.id,
            text=question.text_in(language),
            hint=question.hint_in(language),
            choices=[ChatChoice(option.value, option.label_in(language)) for option in question.options()],
        ),
        comment=None
        if comment is None
        else ChatComment(
            id=comment.id,
            text=comment.text_in(language),
            hint=comment.hint_in(language),
            max_length=comment.max_length or 1200,
        ),
        language=language,
    )


def bearer_token(authorization: str | None) -> str:
    """The widget token from ``Authorization: Bearer <token>``; 401 without one."""
    if not authorization or not authorization.startswith("Bearer ") or not authorization[7:].strip():
        raise ChatTokenMissing("Send the chat survey token as 'Authorization: Bearer <token>'.")
    return authorization[7:].strip()


# ---------------------------------------------------------------------------------------------------------------
# The chat, stored


class ChatSurveys:
    """Issues widget tokens for chats and takes their answers. Works in the caller's transaction and never commits
    (the request commits on success, so a refused request changes nothing)."""

    def __init__(
        self,
        vault: Vault,
        recorder: ResponseRecorder,
        signer: TokenSigner,
        *,
        base_url: str,
        token_lifetime: timedelta,
        privacy_notice_url: str = "",
    ) -> None:
        self.vault = vault
        self.recorder = recorder
        self.signer = signer
        self.base_url = base_url.rstrip("/")
        self.token_lifetime = token_lifetime
        # The widget is on another site's page: a link to our own notice must name our origin.
        self.privacy_notice_url = (
            self.base_url + privacy_notice_url if privacy_notice_url.startswith("/") else privacy_notice_url
        )

    async def invitation_for_chat(self, session: AsyncSession, platform: str, chat_id: str) -> uuid.UUID:
        invitation_id = await invitation_waiting(session, self.vault, platform, chat_id, InvitationChannel.chat)
        if invitation_id is None:
            raise NoChatSurvey("No survey is waiting for this chat; end the chat as usual, without the widget.")
        return invitation_id

    async def issue(self, session: AsyncSession, platform: str, chat_id: str, now: datetime) -> ChatTokenIssued:
        """A token for the chat's widget; the invitation counts as sent (the widget is where it is delivered)."""
        invitation = await open_invitation(session, await self.invitation_for_chat(session, platform, chat_id))
        if invitation.state == InvitationState.queued:
            invitation.state = InvitationState.sent
            invitation.sent_at = invitation.state_changed_at = now
            invitation.message_ref = f"chat.{invitation.id}"
            await record_event(session, invitation.id, InvitationState.sent, WIDGET_DELIVERED, at=now)
        expires_at = min(now + self.token_lifetime, invitation.expires_at)
        token = self.signer.sign(invitation.id, Purpose.chat, expires_at)
        script_url = self.base_url + WIDGET_SCRIPT_PATH
        survey_token = self.signer.sign(invitation.id, Purpose.survey, invitation.expires_at)
        return ChatTokenIssued(
            chat_id=chat_id,
            token=token,
            # The signed expiry is whole minutes, rounded down.
            expires_at=datetime.fromtimestamp(int(expires_at.timestamp()) // 60 * 60, tz=expires_at.tzinfo),
            script_url=script_url,
            # The token is base64url and the URL is ours: nothing here needs escaping in HTML.
            embed=f'<script src="{script_url}" data-token="{token}" async></script>',
            survey_url=f"{self.base_url}/s/{survey_token}",
        )

    def _invitation_id(self, token: str, now: datetime) -> uuid.UUID:
        try:
            return self.signer.verify(token, Purpose.chat, now=now).invitation_id
        except ExpiredToken:
            raise ChatTokenExpired("This survey has closed: the chat survey token has expired.") from None
        except BadToken:
            raise ChatTokenInvalid("The chat survey token is not valid.") from None

    async def _plan(self, session: AsyncSession, version_id: uuid.UUID) -> tuple[SurveyDefinition, WidgetPlan]:
        definition = await self.recorder.definition(session, version_id)
        plan = widget_plan(definition)
        if plan is None:
            raise NoChatSurvey("The survey for this chat has no satisfaction question to ask.")
        return definition, plan

    async def survey(self, session: AsyncSession, token: str, now: datetime) -> ChatSurvey:
        """What the widget shows for this token; 409 once answered, 410 once closed or expired."""
        invitation = await open_invitation(session, self._invitation_id(token, now))
        definition, plan = await self._plan(session, invitation.survey_version_id)
        return msgspec.structs.replace(widget_survey(definition, plan), privacy_notice_url=self.privacy_notice_url)

    async def answer(self, session: AsyncSession, token: str, answer: ChatAnswer, now: datetime) -> ChatAnswered:
        """Store the widget's answer as the invitation's response (once: a second answer is refused with 409)."""
        invitation = await open_invitation(session, self._invitation_id(token, now))
        _, plan = await self._plan(session, invitation.survey_version_id)
        form = {plan.question.id: answer.rating}
        if plan.comment is not None and answer.comment:
            form[plan.comment.id] = answer.comment
        elif answer.comment and answer.comment.strip():
            raise InvalidChatAnswer("This survey asks for no comment; send the rating alone.", field="comment")
        try:
            [outcome] = await self.recorder.record(
                session, [Submission(invitation.id, form, asked=plan.asked, partial=True)]
            )
        except IntegrityError:
            raise AlreadyAnswered(ALREADY_ANSWERED) from None
        if isinstance(outcome, InvalidAnswers):
            problem = outcome.checked.problems[0]
            field = "rating" if problem.key == plan.question.id else "comment"
            raise InvalidChatAnswer(problem.message + ".", field=field)
        if isinstance(outcome, CivicVoiceError):
            raise outcome
        return ChatAnswered()
