"""End-of-chat survey: a widget in the chat window asks the survey's CSAT question and an optional comment.

The chat is tied to its invitation through the contact the chat platform reported for it: the chat id is the
contact event's `external_id` under the platform's `source`, and intake invites a web chat contact on the `chat`
channel (nothing is sent; the invitation waits for the end of the chat). When the chat ends, the platform asks
for a widget token server to server, HMAC-signed like the IVR webhook (`surveys.signed_requests`), and puts it in
the one script tag it adds to the chat window. The token is short-lived, bound to that one invitation and carries
no personal data; the platform's secret never reaches the browser. The widget reads the question and posts the
answer with the token; the answer goes through the one `ResponseRecorder`, so a second answer is refused (409).

The widget speaks any language the survey version offers (Welsh, say): the platform asks for one with the token,
or the page's script tag names it (`data-language`). The question comes from the version, the widget's own words
(buttons, thanks, errors) from the gettext catalogue; a language the version does not offer is refused (400).
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
from civicvoice.core.translations import translator
from privacy.vault import Vault
from surveys.answers import too_long_message
from surveys.definitions import ENGLISH, LanguageTag, Question, QuestionKind, SurveyDefinition
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
    """What the chat platform may send with its request for a token (or an empty body): the language the chat was
    in, if the survey should be asked in it ("cy" for Welsh); one the survey does not offer is refused (400)."""

    language: LanguageTag | None = None


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
    language: str = ENGLISH


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


class ChatMessages(msgspec.Struct, kw_only=True):
    """The widget's own words, in the survey's language (from the gettext catalogue)."""

    send: str
    sending: str
    optional: str
    thanks: str
    answered: str
    closed: str
    choose: str
    failed: str
    privacy: str
    limit: str = ""  # how long the comment may be
    too_long: str = ""  # what a comment over the limit is told


def widget_messages(language: str, comment: Question | None) -> ChatMessages:
    _ = translator(language)
    limit = (comment.max_length or 1200) if comment is not None else 0
    return ChatMessages(
        send=_("Send feedback"),
        sending=_("Sending"),
        optional=_("(optional)"),
        thanks=_("Thank you for your feedback."),
        answered=_("Thank you, we already have your answer."),
        closed=_("This survey has closed."),
        choose=_("Select how satisfied you were"),
        failed=_("Your answer could not be sent. Check your connection and try again."),
        privacy=_("How we use your feedback (privacy notice, opens in a new tab)"),
        limit=_("You can enter up to %(limit)s characters") % {"limit": f"{limit:,}"} if comment else "",
        too_long=too_long_message(comment, language) if comment is not None else "",
    )


class ChatSurvey(msgspec.Struct, kw_only=True):
    """What the widget shows: the CSAT question, then an optional comment, and the widget's own words."""

    title: str
    question: ChatQuestion
    comment: ChatComment | None = None
    language: str = ENGLISH
    messages: ChatMessages | None = None
    # The council's privacy notice (Art. 13): the widget links it, as every public page does.
    privacy_notice_url: str = ""


Rating = Annotated[str, Meta(min_length=1, max_length=2, pattern=r"^[0-9]{1,2}$")]


class ChatAnswer(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """The widget's answer: the `value` of the choice picked, and the comment if one was written."""

    rating: Rating
    comment: Annotated[str, Meta(max_length=10_000)] | None = None
    # The language the widget was shown in: problems with the answer are told in it.
    language: LanguageTag | None = None


class ChatAnswered(msgspec.Struct, kw_only=True):
    status: str = "answered"
    message: str = "Thank you for your feedback."
    language: str = ENGLISH


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


class ChatLanguageNotOffered(InvalidChatRequest):
    slug = "chat-language-not-offered"
    title = "The survey is not offered in that language"


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


def chat_language(definition: SurveyDefinition, asked: str | None) -> str:
    """The language asked for, if the version offers it; English when none was asked for; else refused."""
    if asked is None or asked == "":
        return ENGLISH
    if asked not in definition.languages:
        offered = ", ".join(repr(language) for language in definition.languages)
        raise ChatLanguageNotOffered(
            f"The survey for this chat is not offered in {asked[:20]!r}; ask for one of {offered}, or for none "
            "(English).",
            field="language",
        )
    return asked


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
        messages=widget_messages(language, comment),
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

    async def issue(
        self, session: AsyncSession, platform: str, chat_id: str, now: datetime, language: str | None = None
    ) -> ChatTokenIssued:
        """A token for the chat's widget, in ``language`` if the survey offers it; the invitation counts as sent
        (the widget is where it is delivered)."""
        invitation = await open_invitation(session, await self.invitation_for_chat(session, platform, chat_id))
        chosen = chat_language(await self.recorder.definition(session, invitation.survey_version_id), language)
        if invitation.state == InvitationState.queued:
            invitation.state = InvitationState.sent
            invitation.sent_at = invitation.state_changed_at = now
            invitation.message_ref = f"chat.{invitation.id}"
            await record_event(session, invitation.id, InvitationState.sent, WIDGET_DELIVERED, at=now)
        expires_at = min(now + self.token_lifetime, invitation.expires_at)
        token = self.signer.sign(invitation.id, Purpose.chat, expires_at)
        script_url = self.base_url + WIDGET_SCRIPT_PATH
        survey_token = self.signer.sign(invitation.id, Purpose.survey, invitation.expires_at)
        # The language is one of the version's tags (two or three letters a-z): no escaping needed either.
        in_language = "" if chosen == ENGLISH else f' data-language="{chosen}"'
        return ChatTokenIssued(
            chat_id=chat_id,
            token=token,
            # The signed expiry is whole minutes, rounded down.
            expires_at=datetime.fromtimestamp(int(expires_at.timestamp()) // 60 * 60, tz=expires_at.tzinfo),
            script_url=script_url,
            # The token is base64url and the URL is ours: nothing here needs escaping in HTML.
            embed=f'<script src="{script_url}" data-token="{token}"{in_language} async></script>',
            survey_url=f"{self.base_url}/s/{survey_token}" + ("" if chosen == ENGLISH else f"?lang={chosen}"),
            language=chosen,
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

    async def survey(self, session: AsyncSession, token: str, now: datetime, language: str | None = None) -> ChatSurvey:
        """What the widget shows for this token, in ``language`` (English unless asked); 409 once answered, 410
        once closed or expired, 400 for a language the survey does not offer."""
        invitation = await open_invitation(session, self._invitation_id(token, now))
        definition, plan = await self._plan(session, invitation.survey_version_id)
        shown = widget_survey(definition, plan, chat_language(definition, language))
        return msgspec.structs.replace(shown, privacy_notice_url=self.privacy_notice_url)

    async def answer(self, session: AsyncSession, token: str, answer: ChatAnswer, now: datetime) -> ChatAnswered:
        """Store the widget's answer as the invitation's response (once: a second answer is refused with 409)."""
        invitation = await open_invitation(session, self._invitation_id(token, now))
        definition, plan = await self._plan(session, invitation.survey_version_id)
        language = chat_language(definition, answer.language)
        form = {plan.question.id: answer.rating}
        if plan.comment is not None and answer.comment:
            form[plan.comment.id] = answer.comment
        elif answer.comment and answer.comment.strip():
            raise InvalidChatAnswer("This survey asks for no comment; send the rating alone.", field="comment")
        try:
            [outcome] = await self.recorder.record(
                session, [Submission(invitation.id, form, asked=plan.asked, partial=True, language=language)]
            )
        except IntegrityError:
            raise AlreadyAnswered(ALREADY_ANSWERED) from None
        if isinstance(outcome, InvalidAnswers):
            problem = outcome.checked.problems[0]  # told in the widget's language
            field = "rating" if problem.key == plan.question.id else "comment"
            raise InvalidChatAnswer(problem.message + ".", field=field)
        if isinstance(outcome, CivicVoiceError):
            raise outcome
        return ChatAnswered(message=widget_messages(language, None).thanks, language=language)
