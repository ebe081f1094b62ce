"""The one page that shows a comment as written: it asks why, then shows it once and records that it did."""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Template
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from civicvoice.core.auth import Access, StaffUser
from civicvoice.core.errors import InvalidInput, NotFound
from civicvoice.core.http import acting_staff, form_values, service, staff_template
from feedback.inbox import scoped
from feedback.originals import comment_and_response, read_original, require_original_permission
from privacy.redaction import redact
from privacy.vault import Vault
from surveys.models import Answer, Response, Service
from surveys.responses import read_answer_text


async def _visible_comment(session: AsyncSession, viewer: StaffUser, answer_id: uuid.UUID) -> tuple[Answer, Response]:
    """The comment, if the viewer's role lets them see its response at all (the grant never widens a scope)."""
    await require_original_permission(session, viewer)
    answer, response = await comment_and_response(session, answer_id)
    stmt = scoped(
        select(Response.id).join(Service, Service.id == Response.service_id).where(Response.id == response.id), viewer
    )
    if await session.scalar(stmt) is None:
        raise NotFound("No such comment.", field="answer_id")
    return answer, response


class OriginalComment(Controller):
    path = "/staff/feedback/comments/{answer_id:uuid}/original"
    include_in_schema = False
    # Every role may ask; only staff an administrator granted the permission get past the page's own check.
    opt = Access.staff().opt()

    @get("/")
    async def ask(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession], answer_id: FromPath[uuid.UUID]
    ) -> Template:
        answer, response = await _visible_comment(db_session, request.state.staff_user, answer_id)
        redacted = await read_answer_text(db_session, service(request, Vault), response, answer)
        return staff_template(
            request,
            "feedback/original.html.j2",
            answer_id=answer_id,
            redacted=redact(redacted or ""),
            original=None,
            errors=[],
            reason="",
        )

    @post("/", status_code=200)
    async def show(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession], answer_id: FromPath[uuid.UUID]
    ) -> Template:
        form = await form_values(request, limit=2000)
        answer, response = await _visible_comment(db_session, request.state.staff_user, answer_id)
        vault = service(request, Vault)
        try:
            original = await read_original(
                db_session, vault, answer, response, reason=form.get("reason", ""), actor=acting_staff(request)
            )
        except InvalidInput as exc:
            redacted = await read_answer_text(db_session, vault, response, answer)
            return staff_template(
                request,
                "feedback/original.html.j2",
                status_code=exc.status,
                answer_id=answer_id,
                redacted=redact(redacted or ""),
                original=None,
                errors=[{"field": "reason", "message": exc.detail}],
                reason=form.get("reason", ""),
            )
        return staff_template(
            request,
            "feedback/original.html.j2",
            answer_id=answer_id,
            redacted=None,
            original=original if original is not None else "",
            errors=[],
            reason="",
        )


ROUTES = [OriginalComment]
