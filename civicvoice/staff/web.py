"""The staff side of the HTTP edge: the session cookie, CSRF tokens and the staff guard.

The app's one authorisation guard (civicvoice.core.auth.authorize) hands every staff route to ``staff_guard``,
which finds the signed-in user, checks the role the route allows and, for anything but a safe method, the
CSRF token. So every staff form is CSRF-protected by default, while capability-authenticated routes
(survey and unsubscribe links, RFC 8058 one-click unsubscribe) and the API (bearer keys) never need one.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any
from urllib.parse import quote

from litestar import Request, Response
from litestar.connection import ASGIConnection
from litestar.response import Redirect

from civicvoice.core.auth import Access, StaffUser
from civicvoice.core.cookies import read_cookie
from civicvoice.core.errors import NotAuthenticated, PermissionDenied
from civicvoice.core.extensions import STAFF_NAV
from civicvoice.core.http import handle_civicvoice_error
from civicvoice.core.services import Extensions
from civicvoice.staff.accounts import session_user

SESSION_COOKIE = "cv_staff_session"
SIGN_IN_CSRF_COOKIE = "cv_sign_in_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
SIGN_IN_PATH = "/staff/sign-in"
HOME_PATH = "/staff/feedback"


class SignInRequired(NotAuthenticated):
    """No valid staff session: pages send the browser to the sign-in page, other requests get a 401 problem."""


class CsrfRejected(PermissionDenied):
    slug = "csrf"
    title = "The form has expired"


def csrf_token_for(session_token: str) -> str:
    # Bound to the session: a page from another browser's session, or a forged form, never carries it.
    return hmac.new(session_token.encode(), b"civicvoice csrf", hashlib.sha256).hexdigest()


def new_sign_in_csrf() -> str:
    return secrets.token_urlsafe(24)


def tokens_match(expected: str | None, given: str | None) -> bool:
    return bool(expected) and bool(given) and hmac.compare_digest(str(expected), str(given))


def safe_next(target: str | None) -> str:
    """Only a path on the staff side of this site; never another host (an open redirect)."""
    if target and target.startswith("/staff/") and "//" not in target and "\\" not in target and len(target) < 500:
        return target
    return HOME_PATH


async def staff_guard(connection: ASGIConnection[Any, Any, Any, Any], access: Access) -> None:
    token = read_cookie(connection, SESSION_COOKIE)
    if not token or len(token) > 100:
        raise SignInRequired("Sign in to continue.")
    async with connection.app.state.sessions() as session, session.begin():
        user = await session_user(session, token)
    if user is None:
        raise SignInRequired("Your session has ended. Sign in again to continue.")
    if user.role not in access.roles:
        raise PermissionDenied("Your role does not give access to this page.")
    csrf = csrf_token_for(token)
    if connection.scope.get("method", "GET") not in SAFE_METHODS:
        given = connection.headers.get(CSRF_HEADER)
        if given is None and isinstance(connection, Request):
            form = await connection.form()
            value = form.get(CSRF_FIELD)
            given = value if isinstance(value, str) else None
        if not tokens_match(csrf, given):
            raise CsrfRejected(
                "The form has expired or did not come from this site. Go back, reload the page and try again."
            )
    connection.state.staff_user = user
    connection.state.staff_session_token = token
    connection.state.csrf_token = csrf
    # What every staff page's layout needs (read by feature pages through core's `staff_template`).
    extensions: Extensions = connection.app.state.extensions
    nav = sorted(
        (item for item in extensions.items(STAFF_NAV) if not item.roles or user.role in item.roles),
        key=lambda item: (item.position, item.label),
    )
    connection.state.staff_page = {"staff_user": user, "csrf_token": csrf, "staff_nav": nav}


def current_user(request: Request[Any, Any, Any]) -> StaffUser:
    user: StaffUser = request.state.staff_user
    return user


def staff_context(request: Request[Any, Any, Any], **context: Any) -> dict[str, Any]:
    """What every staff page template needs besides its own data: who is signed in, the CSRF token."""
    return {**request.state.staff_page, **context}


def handle_sign_in_required(request: Request[Any, Any, Any], exc: SignInRequired) -> Response[Any]:
    if request.method in ("GET", "HEAD") and not request.url.path.startswith("/api/"):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return Redirect(f"{SIGN_IN_PATH}?next={quote(safe_next(target), safe='/')}", status_code=303)
    return handle_civicvoice_error(request, exc)


EXCEPTION_HANDLERS: dict[Any, Any] = {SignInRequired: handle_sign_in_required}
