"""Typed errors every feature raises; the app maps them once to RFC 9457 problem details."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar


class CivicVoiceError(Exception):
    """Base of every error a person can act on.

    ``status`` is the HTTP status the app answers with; ``slug`` names the problem type
    (``/problems/<slug>``); ``title`` is a short, stable summary. ``detail`` is the message
    for a person, and must never carry personal data. ``field_errors`` lists several problems at once
    as (field or None, message), for the problem's ``errors``.
    """

    status: ClassVar[int] = 400
    slug: ClassVar[str] = "bad-request"
    title: ClassVar[str] = "Bad request"

    def __init__(
        self,
        detail: str,
        *,
        field: str | None = None,
        extra: dict[str, Any] | None = None,
        field_errors: Sequence[tuple[str | None, str]] = (),
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.field = field
        self.extra = extra or {}
        self.field_errors = tuple(field_errors)


class InvalidInput(CivicVoiceError):
    status = 422
    slug = "invalid-input"
    title = "Invalid input"


class NotFound(CivicVoiceError):
    status = 404
    slug = "not-found"
    title = "Not found"


class Conflict(CivicVoiceError):
    status = 409
    slug = "conflict"
    title = "Conflict"


class NotAuthenticated(CivicVoiceError):
    status = 401
    slug = "not-authenticated"
    title = "Not authenticated"


class PermissionDenied(CivicVoiceError):
    status = 403
    slug = "permission-denied"
    title = "Permission denied"


class ConfigurationError(CivicVoiceError):
    """A setting or key is missing or wrong; the service must not start."""

    status = 500
    slug = "configuration"
    title = "Configuration error"
