"""The public request page: anyone can ask for their data, its erasure, correction, restriction, portability,
object to being surveyed, or complain about how the council handles their data. No login and no JavaScript
needed; the email address is confirmed with a one-time code before anything becomes a request.

The code page's address carries a random token (masked in logs like survey links). Bad input is shown with the
GOV.UK error summary and nothing is stored; a refused code still counts as an attempt.
"""

from __future__ import annotations

import re
from typing import Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_303_SEE_OTHER
from sqlalchemy.ext.asyncio import AsyncSession

from civicvoice.core.auth import Access
from civicvoice.core.errors import CivicVoiceError
from civicvoice.core.http import NO_STORE, form_values, service
from privacy.closures import council_calendar
from privacy.public_requests import (
    CODE_LIFETIME,
    CodeProblem,
    LinkGone,
    PublicRequestForm,
    PublicRequests,
    check_form,
    masked_email,
)
from privacy.request_states import RequestKind
from privacy.requests import SubjectRequest, acknowledgement_due

BASE = "/your-data/request"
# The code page's token is a secret: masked in every log line.
PUBLIC_REQUEST_PATHS = (re.compile(r"(/your-data/request/(?:confirm|done))/[^/\s?\"']+"),)

# What each kind of request means, in plain words, in the order the page offers them.
KIND_CHOICES = (
    (RequestKind.access, "Get a copy of your information", "Subject access: what we hold about you and how we use it."),
    (RequestKind.rectification, "Correct information that is wrong", "Tell us what is wrong and what it should say."),
    (RequestKind.erasure, "Delete your information", "We delete it unless the law says we must keep it."),
    (
        RequestKind.restriction,
        "Stop us using your information for now",
        "For example while we check it is right. We keep it but do not use it.",
    ),
    (RequestKind.objection, "Stop us surveying you", "We will never invite you to a survey again."),
    (
        RequestKind.portability,
        "Get your information to take elsewhere",
        "What you gave us, in a form a computer can read (JSON and CSV).",
    ),
    (
        RequestKind.complaint,
        "Complain about how we handle your information",
        "We will acknowledge your complaint within 30 days and tell you the outcome.",
    ),
)


def _client(request: Request[Any, Any, Any]) -> str:
    return request.client.host if request.client else "unknown"


def _errors(problems: list[tuple[str, str]]) -> list[dict[str, str]]:
    return [{"field": field, "message": message} for field, message in problems]


def _page(name: str, *, status_code: int = 200, **context: Any) -> Template:
    return Template(template_name=f"privacy/public/{name}", context=context, status_code=status_code, headers=NO_STORE)


def _gone(exc: CivicVoiceError) -> Template:
    return _page("link_gone.html.j2", status_code=exc.status, page_title=exc.title, message=exc.detail, start=BASE)


class PublicRequestPages(Controller):
    path = BASE
    include_in_schema = False
    opt = Access.public().opt()

    def _form(self, values: dict[str, str], errors: list[dict[str, str]], status_code: int = 200) -> Template:
        return _page(
            "request_form.html.j2",
            status_code=status_code,
            page_title="Ask about your information",
            kinds=KIND_CHOICES,
            values=values,
            errors=errors,
            action=BASE,
        )

    @get("/")
    async def request_form(self) -> Template:
        return self._form({}, [])

    @post("/", status_code=HTTP_303_SEE_OTHER)
    async def start_request(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]
    ) -> Template | Redirect:
        values = await form_values(request, limit=4000)
        checked, problems = check_form(
            PublicRequestForm(
                kind=values.get("kind", ""),
                name=values.get("name", ""),
                email=values.get("email", ""),
                phone=values.get("phone", ""),
                contact_reference=values.get("contact_reference", ""),
                details=values.get("details", ""),
            )
        )
        if checked is None:
            return self._form(values, _errors(problems), 400)
        try:
            started = await service(request, PublicRequests).start(db_session, checked, client=_client(request))
        except CivicVoiceError as exc:
            await db_session.rollback()
            field = "email" if exc.status == 429 else (exc.field or "email")
            return self._form(values, [{"field": field, "message": exc.detail}], exc.status)
        return Redirect(f"{BASE}/confirm/{started.link}", status_code=HTTP_303_SEE_OTHER)

    async def _code_page(
        self,
        request: Request[Any, Any, Any],
        session: AsyncSession,
        token: str,
        errors: list[dict[str, str]],
        status_code: int = 200,
    ) -> Template:
        publics = service(request, PublicRequests)
        confirmation = await publics.find(session, token)
        email = await publics.email_of(session, confirmation)
        return _page(
            "confirm_code.html.j2",
            status_code=status_code,
            page_title="Check your email",
            email=masked_email(email) if email else None,
            minutes=int(CODE_LIFETIME.total_seconds() // 60),
            errors=errors,
            action=f"{BASE}/confirm/{token}",
            resent=request.query_params.get("resent") == "1",
        )

    @get("/confirm/{token:str}")
    async def code_form(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession], token: FromPath[str]
    ) -> Template | Redirect:
        try:
            confirmation = await service(request, PublicRequests).find(db_session, token)
            if confirmation.request_id is not None:
                return Redirect(f"{BASE}/done/{token}", status_code=HTTP_303_SEE_OTHER)
            return await self._code_page(request, db_session, token, [])
        except LinkGone as exc:
            return _gone(exc)

    @post("/confirm/{token:str}", status_code=HTTP_303_SEE_OTHER)
    async def confirm_code(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession], token: FromPath[str]
    ) -> Template | Redirect:
        values = await form_values(request, limit=100)
        publics = service(request, PublicRequests)
        try:
            calendar = await council_calendar(db_session, request.app.state.settings)
            outcome = await publics.confirm(db_session, calendar, token, values.get("code", ""))
        except LinkGone as exc:
            return _gone(exc)
        if isinstance(outcome, CodeProblem):
            # The counted attempt is kept (the plugin commits a redirect, not an error page).
            await db_session.commit()
            return await self._code_page(
                request, db_session, token, [{"field": "code", "message": outcome.detail}], 400
            )
        return Redirect(f"{BASE}/done/{token}", status_code=HTTP_303_SEE_OTHER)

    @post("/confirm/{token:str}/resend", status_code=HTTP_303_SEE_OTHER)
    async def resend_code(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession], token: FromPath[str]
    ) -> Template | Redirect:
        try:
            await service(request, PublicRequests).resend(db_session, token, client=_client(request))
        except LinkGone as exc:
            return _gone(exc)
        except CivicVoiceError as exc:
            await db_session.rollback()
            return await self._code_page(
                request, db_session, token, [{"field": "code", "message": exc.detail}], exc.status
            )
        return Redirect(f"{BASE}/confirm/{token}?resent=1", status_code=HTTP_303_SEE_OTHER)

    @get("/done/{token:str}")
    async def request_received(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession], token: FromPath[str]
    ) -> Template | Redirect:
        try:
            confirmation = await service(request, PublicRequests).find(db_session, token)
        except LinkGone as exc:
            return _gone(exc)
        if confirmation.request_id is None:
            return Redirect(f"{BASE}/confirm/{token}", status_code=HTTP_303_SEE_OTHER)
        found = await db_session.get(SubjectRequest, confirmation.request_id)
        if found is None:
            return _gone(LinkGone("This link has expired or is not right. Start your request again."))
        kind = RequestKind(found.kind)
        return _page(
            "request_done.html.j2",
            page_title="Request received",
            item=found,
            kind=kind,
            acknowledge_by=acknowledgement_due(found) if found.acknowledged_on is None else None,
        )


PUBLIC_PAGES = [PublicRequestPages]
