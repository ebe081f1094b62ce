"""Staff pages: sign in, sign out, and the administrator's user pages (create, reset password, deactivate)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter
from litestar.response import Redirect, Template
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from civicvoice.core.auth import Access, StaffUser
from civicvoice.core.cookies import delete_cookie, read_cookie, set_cookie
from civicvoice.core.errors import CivicVoiceError
from civicvoice.core.http import NO_STORE, form_values
from civicvoice.core.services import Services
from civicvoice.staff.accounts import (
    SESSION_LIFETIME,
    SignInFailed,
    create_staff_user,
    deactivate,
    reset_password,
    sign_in,
    sign_out,
    staff_actor,
)
from civicvoice.staff.passwords import PasswordWorkers
from civicvoice.staff.throttle import LoginThrottler, TooManyAttempts
from civicvoice.staff.web import (
    CSRF_FIELD,
    HOME_PATH,
    SESSION_COOKIE,
    SIGN_IN_CSRF_COOKIE,
    SIGN_IN_PATH,
    current_user,
    new_sign_in_csrf,
    safe_next,
    staff_context,
    tokens_match,
)

ROLE_NAMES = {
    "admin": "Administrator",
    "quality_reviewer": "Quality reviewer",
    "service_manager": "Service manager",
    "agent": "Agent",
    "dpo": "Data protection officer",
}


def passwords(request: Request[Any, Any, Any]) -> PasswordWorkers:
    services: Services = request.app.state.services
    return services.get(PasswordWorkers)


def _sign_in_page(
    request: Request[Any, Any, Any],
    *,
    next_path: str,
    error: str | None = None,
    email: str = "",
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> Template:
    csrf = new_sign_in_csrf()
    response = Template(
        template_name="staff/sign_in.html.j2",
        context={"csrf_token": csrf, "next": next_path, "error": error, "email": email},
        status_code=status_code,
        headers={**NO_STORE, **(headers or {})},
    )
    # Double-submit for the one form before a session exists (login CSRF); strict, so no other site sends it.
    set_cookie(response, request, SIGN_IN_CSRF_COOKIE, csrf, max_age=3600, samesite="strict")
    return response


class SignInPages(Controller):
    path = "/staff"
    include_in_schema = False
    opt = Access.public().opt()

    @get("/sign-in")
    async def show_sign_in(
        self,
        request: Request[Any, Any, Any],
        next_path: Annotated[str | None, QueryParameter(name="next", required=False)] = None,
    ) -> Template:
        return _sign_in_page(request, next_path=safe_next(next_path))

    @post("/sign-in", status_code=303)
    async def submit_sign_in(self, request: Request[Any, Any, Any]) -> Template | Redirect:
        form = await form_values(request, limit=10_000)
        next_path = safe_next(form.get("next"))
        email = form.get("email", "")[:254]
        if not tokens_match(read_cookie(request, SIGN_IN_CSRF_COOKIE), form.get(CSRF_FIELD)):
            return _sign_in_page(
                request,
                next_path=next_path,
                email=email,
                status_code=403,
                error="The sign-in form expired. Enter your email address and password again.",
            )
        services = request.app.state.services
        address = request.client.host if request.client else "unknown"
        try:
            signed_in = await sign_in(
                request.app.state.sessions,
                services.get(LoginThrottler),
                services.get(PasswordWorkers),
                email=email,
                password=form.get("password", "")[:1000],
                address=address,
            )
        except TooManyAttempts as exc:
            return _sign_in_page(
                request,
                next_path=next_path,
                email=email,
                error=exc.detail,
                status_code=429,
                headers={"retry-after": str(exc.retry_after_seconds)},
            )
        except SignInFailed as exc:
            return _sign_in_page(request, next_path=next_path, email=email, error=exc.detail, status_code=401)
        response = Redirect(next_path, status_code=303)
        set_cookie(response, request, SESSION_COOKIE, signed_in.token, max_age=int(SESSION_LIFETIME.total_seconds()))
        delete_cookie(response, request, SIGN_IN_CSRF_COOKIE)
        return response


class StaffHome(Controller):
    path = "/staff"
    include_in_schema = False
    opt = Access.staff().opt()

    @get("/")
    async def home(self) -> Redirect:
        return Redirect(HOME_PATH, status_code=303)

    @post("/sign-out", status_code=303)
    async def sign_out(self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]) -> Redirect:
        await sign_out(db_session, request.state.staff_session_token, current_user(request))
        response = Redirect(SIGN_IN_PATH, status_code=303)
        delete_cookie(response, request, SESSION_COOKIE)
        return response


def _user_form_page(request: Request[Any, Any, Any], values: dict[str, str], error: CivicVoiceError | None) -> Template:
    return Template(
        template_name="staff/user_new.html.j2",
        context=staff_context(
            request,
            values=values,
            roles=ROLE_NAMES,
            errors=[{"field": error.field or "email", "message": error.detail}] if error else [],
        ),
        status_code=400 if error else 200,
        headers=NO_STORE,
    )


class UserPages(Controller):
    """Administrators manage staff accounts; every change is audited with the administrator as the actor."""

    path = "/staff/users"
    include_in_schema = False
    opt = Access.staff("admin").opt()

    @get("/")
    async def list_users(self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]) -> Template:
        ordered = select(StaffUser).order_by(StaffUser.active.desc(), StaffUser.email)
        users = (await db_session.scalars(ordered)).all()
        return Template(
            template_name="staff/users.html.j2",
            context=staff_context(request, users=users, roles=ROLE_NAMES, done=request.query_params.get("done")),
            headers=NO_STORE,
        )

    @get("/new")
    async def new_user(self, request: Request[Any, Any, Any]) -> Template:
        return _user_form_page(request, {}, None)

    @post("/new", status_code=303)
    async def create_user(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]
    ) -> Template | Redirect:
        form = await form_values(request, limit=10_000)
        values = {k: form.get(k, "")[:300] for k in ("email", "display_name", "role", "service_scope", "agent_ref")}
        try:
            password_hash = await passwords(request).hash(form.get("password", "")[:1000])
            await create_staff_user(
                db_session,
                email=values["email"],
                display_name=values["display_name"],
                password_hash=password_hash,
                role=values["role"],
                actor=staff_actor(current_user(request)),
                service_scope=[s.strip() for s in values["service_scope"].split(",") if s.strip()],
                agent_ref=values["agent_ref"].strip() or None,
            )
        except CivicVoiceError as exc:
            return _user_form_page(request, values, exc)
        return Redirect("/staff/users?done=created", status_code=303)

    @get("/{user_id:uuid}")
    async def show_user(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession], user_id: FromPath[uuid.UUID]
    ) -> Template:
        return await self._user_page(request, db_session, user_id, None)

    async def _user_page(
        self, request: Request[Any, Any, Any], session: AsyncSession, user_id: uuid.UUID, error: str | None
    ) -> Template:
        user = await session.get(StaffUser, user_id)
        if user is None:
            return Template(template_name="staff/not_found.html.j2", context=staff_context(request), status_code=404)
        return Template(
            template_name="staff/user.html.j2",
            context=staff_context(request, user=user, roles=ROLE_NAMES, error=error),
            status_code=400 if error else 200,
            headers=NO_STORE,
        )

    @post("/{user_id:uuid}/password", status_code=303)
    async def reset_user_password(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession], user_id: FromPath[uuid.UUID]
    ) -> Template | Redirect:
        form = await form_values(request, limit=10_000)
        try:
            password_hash = await passwords(request).hash(form.get("password", "")[:1000])
            await reset_password(
                db_session, actor=staff_actor(current_user(request)), password_hash=password_hash, user_id=user_id
            )
        except CivicVoiceError as exc:
            await db_session.rollback()
            return await self._user_page(request, db_session, user_id, exc.detail)
        return Redirect("/staff/users?done=password", status_code=303)

    @post("/{user_id:uuid}/deactivate", status_code=303)
    async def deactivate_user(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession], user_id: FromPath[uuid.UUID]
    ) -> Template | Redirect:
        if user_id == current_user(request).id:
            return await self._user_page(request, db_session, user_id, "You cannot deactivate your own account.")
        try:
            await deactivate(db_session, actor=staff_actor(current_user(request)), user_id=user_id)
        except CivicVoiceError as exc:
            await db_session.rollback()
            return await self._user_page(request, db_session, user_id, exc.detail)
        return Redirect("/staff/users?done=deactivated", status_code=303)


ROUTES = [SignInPages, StaffHome, UserPages]
