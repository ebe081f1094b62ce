"""The end-of-chat survey over HTTP: the signed token endpoint a chat platform calls server to server, the two
calls the widget makes from the chat platform's page (cross-origin, for the origins in
CIVICVOICE_CHAT_ALLOWED_ORIGINS only), and the widget's own script and style sheet."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Final

import msgspec
from litestar import Controller, Litestar, Request, Response, get, post
from litestar.datastructures import MutableScopeHeaders
from litestar.di import NamedDependency
from litestar.enums import ScopeType
from litestar.openapi.spec import OpenAPIMediaType, Operation, RequestBody, Schema
from litestar.openapi.spec.enums import OpenAPIType
from litestar.params import FromPath, QueryParameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_204_NO_CONTENT, HTTP_304_NOT_MODIFIED
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from sqlalchemy.ext.asyncio import AsyncSession

from civicvoice.core.auth import Access
from civicvoice.core.clock import utcnow
from civicvoice.core.crypto import content_digest
from civicvoice.core.http import NO_STORE, PROBLEM_JSON, Problem, problem_responses, service
from civicvoice.core.settings import Settings
from surveys.channels.chat import (
    WIDGET_SCRIPT_PATH,
    WIDGET_STYLE_PATH,
    ChatAnswer,
    ChatAnswered,
    ChatSurvey,
    ChatSurveys,
    ChatTokenIssued,
    ChatTokenRequest,
    InvalidChatRequest,
    bearer_token,
)
from surveys.schemas import InvalidBody, decode_strictly
from surveys.signed_requests import signature_parameters, verify_request

# ---------------------------------------------------------------------------------------------------------------
# Server to server: the token


@dataclass
class _SignedOperation(Operation):
    """The operation with its signature headers and (empty) body documented: the handler reads the raw body, to
    check its signature before anything is decoded."""

    def __post_init__(self) -> None:
        self.request_body = RequestBody(
            required=False,
            description='Empty, `{}`, or the language to ask the survey in: `{"language": "cy"}`.',
            content={
                "application/json": OpenAPIMediaType(
                    schema=Schema(
                        type=OpenAPIType.OBJECT,
                        additional_properties=False,
                        properties={
                            "language": Schema(
                                type=OpenAPIType.STRING,
                                pattern=r"^[a-z]{2,3}$",
                                description="A language the survey version offers (`cy` for Welsh); default `en`.",
                            )
                        },
                    )
                )
            },
        )
        self.parameters = [*(self.parameters or []), *signature_parameters("CIVICVOICE_CHAT_SECRETS")]


class ChatTokenController(Controller):
    path = "/api/v1/chat/chats"
    tags = ["Web chat"]  # noqa: RUF012 - Litestar's own attribute
    # No API key or session: the HMAC signature is checked by the handler before anything else.
    opt = Access.public().opt()

    @post(
        "/{chat_id:str}/token",
        status_code=HTTP_201_CREATED,
        operation_class=_SignedOperation,
        responses=problem_responses(400, 401, 403, 404, 409, 410, 413),
        summary="Token for one chat's end-of-chat survey widget",
        description=(
            "Called by a chat platform's server when a chat ends. `chat_id` is the `external_id` of the web chat "
            "contact the platform reported (under its own `source`); intake invited it on the `chat` channel. "
            "The answer holds a token for this chat alone, valid for CIVICVOICE_CHAT_TOKEN_MINUTES, and `embed`, "
            "the one script tag to put in the chat window; the widget asks the satisfaction question and an "
            "optional comment, and posts the answer with the token. No secret reaches the browser. "
            "Asking again gives a new token for the same chat. Send `language` (`cy` for Welsh) to have the widget "
            "ask in a language the survey offers; 400 for one it does not. 404 when no survey waits for the chat "
            "(show no widget), 409 when it has been answered, 410 when the invitation has closed."
        ),
    )
    async def issue_token(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession], chat_id: FromPath[str]
    ) -> Response[ChatTokenIssued]:
        body = await request.body()
        now = utcnow()
        platform = verify_request(
            service(request, Settings).chat_secrets,
            request.headers,
            "POST",
            request.url.path,
            body,
            now,
            purpose="end-of-chat surveys",
        )
        try:
            asked = decode_strictly(body, ChatTokenRequest) if body.strip() else ChatTokenRequest()
        except InvalidBody as exc:
            raise InvalidChatRequest(str(exc)) from None
        if not 1 <= len(chat_id) <= 200:
            raise InvalidChatRequest("The chat id must be 1 to 200 characters.", field="chat_id")
        issued = await service(request, ChatSurveys).issue(db_session, platform, chat_id, now, asked.language)
        return Response(issued, status_code=HTTP_201_CREATED, headers=NO_STORE)


# ---------------------------------------------------------------------------------------------------------------
# From the browser: cross-origin, for the allowed origins only

_PREFLIGHT_MAX_AGE: Final = "600"
_ALLOWED_HEADERS: Final = "authorization, content-type"


# The method each of the widget's paths is called with, for the preflight.
_PREFLIGHT_METHODS: Final = {"/api/v1/chat/survey": "GET", "/api/v1/chat/answers": "POST"}


class ChatCors:
    """CORS for the widget's calls, decided here for every one of them: a response to a request from an allowed
    origin names that origin (and only it), so the chat platform's page may read it, errors included; any other
    origin's page may not. A preflight is answered here too, with the one method and the headers the widget uses,
    or refused (403) for an origin not allowed. No cookies are involved (the token travels in the Authorization
    header), so credentials are never allowed."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        origin = _origin(scope)
        allowed = origin is not None and origin in Litestar.from_scope(scope).state.settings.chat_allowed_origins
        if scope["method"] == "OPTIONS":
            await _preflight(send, origin if allowed else None, _PREFLIGHT_METHODS.get(scope["path"], "GET"))
            return

        async def with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableScopeHeaders.from_message(message)
                headers.add("vary", "Origin")
                if allowed and origin is not None:
                    headers["access-control-allow-origin"] = origin
            await send(message)

        await self.app(scope, receive, with_cors)


def _origin(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"origin":
            return value.decode("latin-1").lower()
    return None


async def _preflight(send: Send, origin: str | None, method: str) -> None:
    if origin is None:
        problem = Problem(
            type="/problems/chat-origin-not-allowed",
            title="Origin not allowed",
            status=403,
            detail="This origin may not call the chat survey; add it to CIVICVOICE_CHAT_ALLOWED_ORIGINS to allow it.",
        )
        body = msgspec.json.encode(problem)
        headers = [(b"content-type", PROBLEM_JSON.encode()), (b"content-length", str(len(body)).encode())]
        status = 403
    else:
        body = b""
        headers = [
            (b"access-control-allow-origin", origin.encode("latin-1")),
            (b"access-control-allow-methods", method.encode()),
            (b"access-control-allow-headers", _ALLOWED_HEADERS.encode()),
            (b"access-control-max-age", _PREFLIGHT_MAX_AGE.encode()),
        ]
        status = HTTP_204_NO_CONTENT
    await send({"type": "http.response.start", "status": status, "headers": [*headers, (b"vary", b"Origin")]})
    await send({"type": "http.response.body", "body": body, "more_body": False})


_HOW_TO_CALL = (
    " Send the chat's widget token as `Authorization: Bearer <token>`: 401 without a valid one, 410 once it has "
    "expired or the survey has closed, 409 once the chat has been answered. Cross-origin calls are allowed from "
    "the origins in CIVICVOICE_CHAT_ALLOWED_ORIGINS only."
)


@dataclass
class _AnswerOperation(Operation):
    """The answer's body documented by hand: the handler reads the raw body after checking the token, so a caller
    without a valid token learns nothing about the body."""

    def __post_init__(self) -> None:
        self.request_body = RequestBody(
            required=True,
            content={
                "application/json": OpenAPIMediaType(
                    schema=Schema(
                        type=OpenAPIType.OBJECT,
                        additional_properties=False,
                        required=["rating"],
                        properties={
                            "rating": Schema(
                                type=OpenAPIType.STRING,
                                pattern=r"^[0-9]{1,2}$",
                                description="The `value` of the choice picked (CSAT: 1 to 5).",
                            ),
                            "comment": Schema(
                                type=OpenAPIType.STRING,
                                max_length=10_000,
                                description="The optional comment; the survey's own limit applies (`max_length`).",
                            ),
                            "language": Schema(
                                type=OpenAPIType.STRING,
                                pattern=r"^[a-z]{2,3}$",
                                description="The language the widget was shown in: problems are told in it.",
                            ),
                        },
                    )
                )
            },
        )


class ChatWidgetController(Controller):
    path = "/api/v1/chat"
    tags = ["Web chat"]  # noqa: RUF012 - Litestar's own attribute
    # The widget token is the capability, checked by the handler; no key, session or cookie.
    opt = Access.public().opt()
    middleware = [ChatCors]  # noqa: RUF012 - Litestar's own attribute

    @get(
        "/survey",
        responses=problem_responses(400, 401, 404, 409, 410),
        summary="The question the end-of-chat widget shows",
        description=(
            "The survey's satisfaction question with its choices, the optional comment and the widget's own words, "
            "in `language` (a language the survey offers, `cy` for Welsh; default `en`; 400 for another)."
            + _HOW_TO_CALL
        ),
    )
    async def show(
        self,
        request: Request[Any, Any, Any],
        db_session: NamedDependency[AsyncSession],
        language: Annotated[str | None, QueryParameter(name="language")] = None,
    ) -> Response[ChatSurvey]:
        token = bearer_token(request.headers.get("authorization"))
        survey = await service(request, ChatSurveys).survey(db_session, token, utcnow(), language)
        return Response(survey, headers=NO_STORE)

    @post(
        "/answers",
        status_code=HTTP_201_CREATED,
        responses=problem_responses(400, 401, 404, 409, 410, 413),
        operation_class=_AnswerOperation,
        summary="Answer the end-of-chat survey",
        description="Stores the rating (a choice's `value`) and the optional comment, once." + _HOW_TO_CALL,
    )
    async def answer(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]
    ) -> Response[ChatAnswered]:
        token = bearer_token(request.headers.get("authorization"))
        try:
            answer = decode_strictly(await request.body(), ChatAnswer)
        except InvalidBody as exc:
            raise InvalidChatRequest(str(exc)) from None
        answered = await service(request, ChatSurveys).answer(db_session, token, answer, utcnow())
        return Response(answered, status_code=HTTP_201_CREATED, headers=NO_STORE)


# ---------------------------------------------------------------------------------------------------------------
# The widget's script and style sheet


@dataclass(frozen=True)
class WidgetAsset:
    body: bytes
    media_type: str
    etag: str

    @classmethod
    def load(cls, name: str, media_type: str) -> WidgetAsset:
        body = (Path(__file__).parent / "static" / "chat" / name).read_bytes()
        return cls(body, media_type, '"' + content_digest(body.decode())[:32] + '"')


SCRIPT = WidgetAsset.load("widget.js", "text/javascript; charset=utf-8")
STYLE = WidgetAsset.load("widget.css", "text/css; charset=utf-8")

# The script tag's URL is stable (chat platforms paste it once), so browsers keep the files for an hour and then
# revalidate by ETag; an update reaches every chat window within the hour. Any page may load them (they are the
# same for everyone and hold nothing personal): CORP cross-origin, and CORS * for a page that loads them with
# `crossorigin` and Subresource Integrity. The CSP is the strictest there is: the files are never documents.
ASSET_HEADERS: Final = {
    "cache-control": "public, max-age=3600",
    "cross-origin-resource-policy": "cross-origin",
    "access-control-allow-origin": "*",
    "content-security-policy": "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    "x-content-type-options": "nosniff",
}


def asset_response(request: Request[Any, Any, Any], asset: WidgetAsset) -> Response[bytes]:
    headers = {**ASSET_HEADERS, "etag": asset.etag}
    if request.headers.get("if-none-match") == asset.etag:
        return Response(b"", status_code=HTTP_304_NOT_MODIFIED, headers=headers, media_type=asset.media_type)
    return Response(asset.body, status_code=HTTP_200_OK, headers=headers, media_type=asset.media_type)


class ChatWidgetAssets(Controller):
    path = "/chat"
    include_in_schema = False
    opt = Access.public().opt()

    @get(WIDGET_SCRIPT_PATH.removeprefix("/chat"))
    async def script(self, request: Request[Any, Any, Any]) -> Response[bytes]:
        return asset_response(request, SCRIPT)

    @get(WIDGET_STYLE_PATH.removeprefix("/chat"))
    async def style(self, request: Request[Any, Any, Any]) -> Response[bytes]:
        return asset_response(request, STYLE)


ROUTES = [ChatTokenController, ChatWidgetController, ChatWidgetAssets]
