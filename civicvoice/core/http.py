"""HTTP edge: RFC 9457 problem details for every error, security headers on every response, and an access log
without tokens."""

from __future__ import annotations

import re
import time
from typing import Any, Final

import msgspec
import structlog
from litestar import MediaType, Request, Response
from litestar.datastructures import MutableScopeHeaders
from litestar.enums import ScopeType
from litestar.exceptions import HTTPException, ValidationException
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Example
from litestar.response import Template
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from civicvoice.core.errors import CivicVoiceError
from civicvoice.core.extensions import STAFF_AREA
from civicvoice.core.services import Extensions

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
            errors=[FieldError(exc.field, exc.detail)] if exc.field else None,
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


async def add_security_headers(message: Message, scope: Scope) -> None:
    """A before-send hook: it sees every response, routed or not (a 404 for an unknown path included)."""
    if message["type"] != "http.response.start":
        return
    headers = MutableScopeHeaders.from_message(message)
    for name, value in SECURITY_HEADERS.items():
        if name not in headers:
            headers[name] = value
    if scope.get("scheme") == "https":
        headers["strict-transport-security"] = "max-age=31536000; includeSubDomains"


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
