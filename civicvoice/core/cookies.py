"""Cookies the app sets (the staff session, a kiosk's device key): HttpOnly, Secure and ``__Host-`` prefixed
whenever the configured base URL is https, with the attributes they were set with when they are deleted."""

from __future__ import annotations

from typing import Any, Literal

from litestar import Response
from litestar.connection import ASGIConnection

HOST_PREFIX = "__Host-"


def cookie_name(connection: ASGIConnection[Any, Any, Any, Any], name: str) -> str:
    """On an https site a cookie's name carries the ``__Host-`` prefix: a browser then keeps it only if it is
    Secure, for this host alone and path /, so no sibling subdomain or plain-http page can plant or read it."""
    return HOST_PREFIX + name if connection.app.state.settings.serves_https else name


def read_cookie(connection: ASGIConnection[Any, Any, Any, Any], name: str) -> str | None:
    return connection.cookies.get(cookie_name(connection, name))


def cookie_is_secure(connection: ASGIConnection[Any, Any, Any, Any]) -> bool:
    # The base URL decides, never the request's scheme (behind a TLS proxy every request looks like http).
    settings = connection.app.state.settings
    return bool(settings.secure_cookies) or bool(settings.serves_https)


def set_cookie(
    response: Response[Any],
    connection: ASGIConnection[Any, Any, Any, Any],
    name: str,
    value: str,
    *,
    max_age: int | None = None,
    samesite: Literal["lax", "strict", "none"] = "lax",
) -> None:
    response.set_cookie(
        key=cookie_name(connection, name),
        value=value,
        max_age=max_age,
        path="/",
        secure=cookie_is_secure(connection),
        httponly=True,
        samesite=samesite,
    )


def delete_cookie(
    response: Response[Any],
    connection: ASGIConnection[Any, Any, Any, Any],
    name: str,
    *,
    samesite: Literal["lax", "strict", "none"] = "lax",
) -> None:
    # With the attributes it was set with: a browser ignores a __Host- cookie's deletion that is not Secure.
    set_cookie(response, connection, name, "", max_age=0, samesite=samesite)
