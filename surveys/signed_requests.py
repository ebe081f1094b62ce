"""HMAC-signed server-to-server requests: how a platform (a telephony platform calling the IVR webhook, a chat
platform asking for a widget token) proves a request is its own and fresh.

Each platform has a shared secret; it signs the timestamp, the method, the path and the raw body, and the
timestamp must be within a window of our clock, so a captured request cannot be replayed later. Checked before
anything is read or written: a refused request has no side effect.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Final

from litestar.enums import ParamType
from litestar.openapi.spec import Parameter, Schema
from litestar.openapi.spec.enums import OpenAPIType

from civicvoice.core.errors import NotAuthenticated, PermissionDenied

TIMESTAMP_WINDOW: Final = timedelta(minutes=5)  # either side of our clock

PLATFORM_HEADER: Final = "x-civicvoice-platform"
TIMESTAMP_HEADER: Final = "x-civicvoice-timestamp"
SIGNATURE_HEADER: Final = "x-civicvoice-signature"
SIGNATURE_VERSION: Final = "v1"


class SignatureMissing(NotAuthenticated):
    title = "Signed request required"


class SignatureRefused(PermissionDenied):
    title = "Signature not accepted"


def signature(secret: str, timestamp: str, method: str, path: str, body: bytes) -> str:
    """The signature header's value: ``v1=`` and the hex HMAC-SHA256 of ``timestamp\\nMETHOD\\npath\\n`` + body."""
    message = f"{timestamp}\n{method.upper()}\n{path}\n".encode() + body
    return f"{SIGNATURE_VERSION}=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def sign_request(platform: str, secret: str, method: str, path: str, body: bytes, now: datetime) -> dict[str, str]:
    """The headers a platform sends (used by the tests and the README's example)."""
    timestamp = str(int(now.timestamp()))
    return {
        PLATFORM_HEADER: platform,
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: signature(secret, timestamp, method, path, body),
    }


def verify_request(
    secrets: Mapping[str, str],
    headers: Mapping[str, str],
    method: str,
    path: str,
    body: bytes,
    now: datetime,
    *,
    purpose: str = "IVR surveys",
) -> str:
    """The platform that signed this request, or 401 (not signed) / 403 (signed wrongly, unknown, or stale).

    ``secrets`` are the platforms configured for ``purpose`` (named in the refusal of any other platform).
    """
    platform, timestamp, given = (headers.get(h) for h in (PLATFORM_HEADER, TIMESTAMP_HEADER, SIGNATURE_HEADER))
    if not platform or not timestamp or not given:
        raise SignatureMissing(
            f"Sign the request: send {PLATFORM_HEADER}, {TIMESTAMP_HEADER} and {SIGNATURE_HEADER} headers."
        )
    secret = secrets.get(platform)
    if secret is None:
        raise SignatureRefused(f"This platform is not configured for {purpose}.")
    if not timestamp.isdigit() or len(timestamp) > 12:
        raise SignatureRefused("The timestamp must be whole seconds since 1970 (UTC).")
    if abs(now.timestamp() - int(timestamp)) > TIMESTAMP_WINDOW.total_seconds():
        raise SignatureRefused("The request's timestamp is outside the accepted window; check the clock.")
    if not hmac.compare_digest(given.encode(), signature(secret, timestamp, method, path, body).encode()):
        raise SignatureRefused("The signature does not match the request.")
    return platform


def signature_parameters(setting: str) -> list[Parameter]:
    """The three signature headers as OpenAPI parameters, for an operation whose platforms are configured in the
    environment variable ``setting``."""
    described = (
        (PLATFORM_HEADER, f"The platform's name, as configured in {setting} (and its contacts' `source`)."),
        (TIMESTAMP_HEADER, "When the request was signed, in whole seconds since 1970 (UTC); within 5 minutes of ours."),
        (
            SIGNATURE_HEADER,
            "`v1=` and the lower-case hex HMAC-SHA256, under the platform's shared secret, of the timestamp, the "
            "method and the path, each followed by a newline, then the raw body.",
        ),
    )
    return [
        Parameter(
            name=name,
            param_in=ParamType.HEADER,
            required=True,
            description=text,
            schema=Schema(type=OpenAPIType.STRING),
        )
        for name, text in described
    ]
