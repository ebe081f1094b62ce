"""HTTP edge: RFC 9457 problem details for every error, security headers on every response, and an access log
without tokens."""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any, Final, TypeVar

import msgspec
import structlog
from litestar import Litestar, MediaType, Request, Response
from litestar._openapi.schema_generation import SchemaCreator
from litestar._openapi.schema_generation.plugins.struct import StructSchemaPlugin
from litestar.datastructures import MutableScopeHeaders
from litestar.enums import ScopeType
from litestar.exceptions import HTTPException, ValidationException
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Example, Schema
from litestar.response import Template
from litestar.types import ASGIApp, Message, Receive, ReceiveMessage, Scope, Send
from litestar.typing import FieldDefinition

from civicvoice.core.audit import Actor
from civicvoice.core.errors import CivicVoiceError
from civicvoice.core.extensions import STAFF_AREA
from civicvoice.core.services import Extensions, Services

T = TypeVar("T")
log = structlog.get_logger("civicvoice.http")
PROBLEM_JSON = "application/problem+json"
# Pages with personal data, one-time links or form tokens in them: kept by no browser or shared cache.
NO_STORE: Final[dict[str, str]] = {"cache-control": "no-store"}


class FieldError(msgspec.Struct):
    field: str | None
    message: str


class Problem(msgspec.Struct, omit_defaults=True):
    """RFC 9457 problem details."""

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    field: str | None = None
    errors: list[FieldError] | None = None


def problem_response(problem: Problem, headers: dict[str, str] | None = None) -> Response[Problem]:
    return Response(content=problem, status_code=problem.status, media_type=PROBLEM_JSON, headers=headers)


# The app's templates provide this page; it gets the problem's status, title, detail and field errors.
ERROR_PAGE = "errors/problem.html.j2"
_MACHINE_PATHS = ("/api/", "/schema", "/health")


def wants_page(request: Request[Any, Any, Any]) -> bool:
    """A browser asking for a page gets the problem as an HTML page; API clients and anything else get JSON."""
    path = str(request.scope.get("path", ""))
    if path.startswith(_MACHINE_PATHS):
        return False
    accept = request.headers.get("accept", "")
    return "text/html" in accept


def back_link(request: Request[Any, Any, Any]) -> str:
    """Where an error page sends people back to: the staff home for staff pages (the staff package says which)."""
    path = str(request.scope.get("path", ""))
    extensions: Extensions | None = request.app.state.get("extensions")
    for area in extensions.items(STAFF_AREA) if extensions is not None else ():
        if path.startswith(area.prefix):
            return area.home
    return "/"


def error_response(
    request: Request[Any, Any, Any], problem: Problem, headers: dict[str, str] | None = None
) -> Response[Any]:
    """The problem as RFC 9457 JSON, or as a page with the same status for a browser (`wants_page`)."""
    if not wants_page(request):
        return problem_response(problem, headers)
    context = {"page_title": problem.title, "problem": problem, "back_to": back_link(request)}
    return Template(
        template_name=ERROR_PAGE,
        context=context,
        status_code=problem.status,
        headers={**(headers or {}), **NO_STORE},
    )


_TITLES = {
    400: "Bad request",
    401: "Not authenticated",
    403: "Permission denied",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Request too large",
    415: "Unsupported media type",
    422: "Invalid input",
    429: "Too many requests",
}


_MISSING = re.compile(r"missing required field `([^`]+)`")
_AT = re.compile(r" - at `\$\.?([^`]*)`")


def _field_error(item: dict[str, Any]) -> FieldError:
    """Name the field a person must fix, from msgspec's message (``- at `$.customer.email` ``)."""
    message = str(item.get("message", "invalid value"))
    at = _AT.search(message)
    path = at.group(1) if at else ""
    missing = _MISSING.search(message)
    if missing:
        path = f"{path}.{missing.group(1)}" if path else missing.group(1)
    if not path:
        key = item.get("key")
        path = "" if key in (None, "", "data") else str(key).removeprefix("$.")
    clean = _AT.sub("", message)
    return FieldError(path or None, clean)


def handle_civicvoice_error(request: Request[Any, Any, Any], exc: CivicVoiceError) -> Response[Any]:
    if exc.status >= 500:
        log.error("configuration_error", error_type=type(exc).__name__, path=request.scope.get("path_template"))
    return error_response(
        request,
        Problem(
            type=f"/problems/{exc.slug}",
            title=exc.title,
            status=exc.status,
            detail=exc.detail,
            field=exc.field,
            errors=[FieldError(field, message) for field, message in exc.field_errors]
            or ([FieldError(exc.field, exc.detail)] if exc.field else None),
        ),
    )


def handle_http_exception(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    status = exc.status_code
    errors: list[FieldError] | None = None
    detail = exc.detail or _TITLES.get(status, "Error")
    if isinstance(exc, ValidationException) or status == 400:
        raw = exc.extra if isinstance(exc.extra, list) else []
        errors = [_field_error(item) for item in raw if isinstance(item, dict)] or None
        if errors:
            first = errors[0]
            detail = f"{first.field}: {first.message}" if first.field else first.message
        if "malformed" in detail.lower() or "decode" in detail.lower():
            detail = "The request body is not valid JSON."
    if status >= 500:
        log.error("http_error", status=status, path=request.scope.get("path_template"))
        detail = "Something went wrong on our side. Nothing you sent was stored in part; please try again."
    slug = _TITLES.get(status, "error").lower().replace(" ", "-")
    headers = {k: v for k, v in (exc.headers or {}).items()}
    return error_response(
        request,
        Problem(
            type=f"/problems/{slug}",
            title=_TITLES.get(status, "Error" if status < 500 else "Server error"),
            status=status,
            detail=detail,
            field=errors[0].field if errors else None,
            errors=errors,
        ),
        headers=headers or None,
    )


def handle_unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    log.error("unhandled_error", error_type=type(exc).__name__, path=request.scope.get("path_template"), exc_info=exc)
    return error_response(
        request,
        Problem(
            type="/problems/server-error",
            title="Server error",
            status=500,
            detail="Something went wrong on our side and it has been logged. Please try again later.",
        ),
    )


def handle_undecodable(request: Request[Any, Any, Any], exc: UnicodeDecodeError) -> Response[Any]:
    return error_response(
        request,
        Problem(
            type="/problems/bad-request", title="Bad request", status=400, detail="The request is not valid UTF-8."
        ),
    )


EXCEPTION_HANDLERS: dict[Any, Any] = {
    CivicVoiceError: handle_civicvoice_error,
    UnicodeDecodeError: handle_undecodable,
    HTTPException: handle_http_exception,
    Exception: handle_unexpected,
}


def problem_responses(*statuses: int) -> dict[int, ResponseSpec]:
    """OpenAPI documentation of the problem responses an operation can give."""
    return {
        status: ResponseSpec(
            data_container=Problem,
            media_type=PROBLEM_JSON,
            description=_TITLES.get(status, "Error"),
            examples=[
                Example(
                    value={
                        "type": "/problems/invalid-input",
                        "title": _TITLES.get(status, "Error"),
                        "status": status,
                        "detail": "What went wrong and how to fix it.",
                    }
                )
            ],
        )
        for status in statuses
    }


class ClosedStructSchemaPlugin(StructSchemaPlugin):
    """OpenAPI for a msgspec Struct that forbids unknown fields says so (``additionalProperties: false``), so
    the published schema refuses what the decoder refuses. Litestar's own struct plugin leaves it open; this one
    is consulted first and only adds that one keyword."""

    def is_plugin_supported_field(self, field_definition: FieldDefinition) -> bool:
        return super().is_plugin_supported_field(field_definition) and bool(
            field_definition.type_.__struct_config__.forbid_unknown_fields
        )

    def to_openapi_schema(self, field_definition: FieldDefinition, schema_creator: SchemaCreator) -> Schema:
        schema = super().to_openapi_schema(field_definition, schema_creator)
        schema.additional_properties = False
        return schema


SECURITY_HEADERS = {
    "content-security-policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "referrer-policy": "no-referrer",
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "permissions-policy": "camera=(), microphone=(), geolocation=(), interest-cohort=()",
    "cross-origin-opener-policy": "same-origin",
}


HSTS = "max-age=31536000; includeSubDomains"


async def add_security_headers(message: Message, scope: Scope) -> None:
    """A before-send hook: it sees every response, routed or not (a 404 for an unknown path included).

    HSTS follows the configured base URL, not the request's scheme: behind a TLS-terminating proxy every
    request arrives as plain http, and the proxy's forwarded scheme is not to be relied on."""
    if message["type"] != "http.response.start":
        return
    headers = MutableScopeHeaders.from_message(message)
    for name, value in SECURITY_HEADERS.items():
        if name not in headers:
            headers[name] = value
    if Litestar.from_scope(scope).state.settings.serves_https:
        headers["strict-transport-security"] = HSTS


# What is read and thrown away at most after an early answer: a client that sends its whole body before it
# reads (Python's urllib, many simple scripts) then gets the answer instead of a reset connection.
DRAIN_BYTES = 16 * 1024 * 1024
DRAIN_SECONDS = 10.0


class DrainUnreadBody:
    """Before an answer goes out while the request body is still arriving (a 413 for a body over the limit, a
    401 for a bad key on a large POST), read the rest of the body, within a bound, and discard it.

    Otherwise the server closes the connection with the body unread, the kernel answers the client's further
    data with a reset, and a client still sending never sees the answer. Past the bound the connection closes
    as before.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP or not _has_body(scope):
            await self.app(scope, receive, send)
            return
        received_all = False

        async def tracking_receive() -> ReceiveMessage:
            nonlocal received_all
            message = await receive()
            if message["type"] != "http.request" or not message.get("more_body", False):
                received_all = True
            return message

        async def draining_send(message: Message) -> None:
            nonlocal received_all
            if message["type"] == "http.response.start" and not received_all:
                received_all = True
                await _drain(receive)
            await send(message)

        await self.app(scope, tracking_receive, draining_send)


def _has_body(scope: Scope) -> bool:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            return value.strip() not in (b"", b"0")
        if name == b"transfer-encoding":
            return True
    return False


async def _drain(receive: Receive) -> None:
    drained = 0
    try:
        async with asyncio.timeout(DRAIN_SECONDS):
            while drained <= DRAIN_BYTES:
                message = await receive()
                if message["type"] != "http.request":
                    return
                drained += len(message.get("body", b""))
                if not message.get("more_body", False):
                    return
    except TimeoutError:
        return


class AccessLogMiddleware:
    """Logs each request by route template, never by raw path (survey tokens live in paths)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status_holder: dict[str, int] = {}

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            log.info(
                "request",
                method=scope.get("method"),
                route=scope.get("path_template") or "[unrouted]",
                status=status_holder.get("status", 500),
                ms=round((time.perf_counter() - started) * 1000, 1),
            )


__all__ = [
    "EXCEPTION_HANDLERS",
    "SECURITY_HEADERS",
    "AccessLogMiddleware",
    "ClosedStructSchemaPlugin",
    "DrainUnreadBody",
    "MediaType",
    "Problem",
    "add_security_headers",
    "problem_responses",
]


def staff_template(
    request: Request[Any, Any, Any], template_name: str, *, status_code: int = 200, **context: Any
) -> Template:
    """A feature's staff page: the layout's context (who is signed in, the CSRF token, the navigation), which the
    staff package's guard puts on the request when it admits it, plus the page's own. Never cached."""
    return Template(
        template_name=template_name,
        context={**request.state.staff_page, **context},
        status_code=status_code,
        headers=NO_STORE,
    )


# --- what every staff page handler needs ----------------------------------------------------------------------


def acting_staff(request: Request[Any, Any, Any]) -> Actor:
    """The signed-in staff member as the audit log records them (by id, never by name or email)."""
    return Actor("staff", str(request.state.staff_user.id))


def service(request: Request[Any, Any, Any], kind: type[T]) -> T:
    """One of the app's services, by type."""
    services: Services = request.app.state.services
    return services.get(kind)


async def form_values(request: Request[Any, Any, Any], *, limit: int = 4000) -> dict[str, str]:
    """A posted form's text fields, each cut to ``limit`` characters (files and repeated fields are not read)."""
    form = await request.form()
    return {key: value[:limit] for key, value in form.items() if isinstance(value, str)}
