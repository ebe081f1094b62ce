"""Staff pages for callbacks: what is due (overdue first), the person's contact details on request (audited),
and recording what happened on the call."""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Redirect, Template
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from civicvoice.core.audit import record
from civicvoice.core.auth import Access
from civicvoice.core.clock import utcnow
from civicvoice.core.errors import CivicVoiceError, NotFound
from civicvoice.core.http import acting_staff, service, staff_template
from feedback.callbacks import Callback, CallbackOutcome, CallbackReason, complete
from feedback.case_pages import CASE_ROLES, _scope
from privacy.exceptions import KeyDestroyed
from privacy.models import DataSubject
from privacy.vault import Vault
from surveys.models import Response, Service


class CallbackPages(Controller):
    path = "/staff/callbacks"
    include_in_schema = False
    opt = Access.staff(*CASE_ROLES).opt()

    async def _list(
        self,
        request: Request[Any, Any, Any],
        session: AsyncSession,
        *,
        contact: dict[uuid.UUID, str] | None = None,
        errors: list[dict[str, str]] | None = None,
        status_code: int = 200,
    ) -> Template:
        stmt = (
            select(Callback, Service.name, Response.satisfaction)
            .join(Response, Response.id == Callback.response_id)
            .outerjoin(Service, Service.id == Callback.service_id)
            .where(Callback.done_at.is_(None))
            .order_by(Callback.due_at)
        )
        scope = await _scope(session, request.state.staff_user)
        if scope is not None:
            stmt = stmt.where(Callback.service_id.in_(scope))
        rows = (await session.execute(stmt)).tuples().all()
        return staff_template(
            request,
            "feedback/callbacks.html.j2",
            status_code=status_code,
            rows=rows,
            now=utcnow(),
            reasons=CallbackReason,
            outcomes=list(CallbackOutcome),
            contact=contact or {},
            errors=errors or [],
        )

    @get("/")
    async def callbacks(self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]) -> Template:
        return await self._list(request, db_session)

    async def _visible(
        self, request: Request[Any, Any, Any], session: AsyncSession, callback_id: uuid.UUID
    ) -> Callback:
        callback = await session.get(Callback, callback_id)
        scope = await _scope(session, request.state.staff_user)
        if callback is None or (scope is not None and callback.service_id not in scope):
            raise NotFound("No such callback.", field="callback")
        return callback

    @post("/{callback_id:uuid}/contact", status_code=200)
    async def contact_details(
        self,
        request: Request[Any, Any, Any],
        db_session: NamedDependency[AsyncSession],
        callback_id: FromPath[uuid.UUID],
    ) -> Template:
        """Who to call: decrypted for this page only, and the viewing is audited."""
        callback = await self._visible(request, db_session, callback_id)
        shown = "They did not leave contact details, or their record has been erased."
        person = await db_session.get(DataSubject, callback.subject_id) if callback.subject_id else None
        if person is not None:
            try:
                identity = await service(request, Vault).identity(db_session, person)
                details = [*identity.phones, *identity.emails]
                shown = (f"{identity.name}: " if identity.name else "") + (
                    ", ".join(details) or "no phone or email held"
                )
            except KeyDestroyed:
                pass
        record(
            db_session,
            acting_staff(request),
            "feedback.callback.contact_viewed",
            target_kind="callback",
            target_id=callback.id,
        )
        return await self._list(request, db_session, contact={callback.id: shown})

    @post("/{callback_id:uuid}/done", status_code=303)
    async def done(
        self,
        request: Request[Any, Any, Any],
        db_session: NamedDependency[AsyncSession],
        callback_id: FromPath[uuid.UUID],
    ) -> Template | Redirect:
        await self._visible(request, db_session, callback_id)
        form = await request.form()
        try:
            await complete(
                db_session,
                service(request, Vault),
                callback_id,
                outcome=str(form.get("outcome", "")),
                note=str(form.get("note", ""))[:4000],
                actor=acting_staff(request),
            )
        except CivicVoiceError as exc:
            await db_session.rollback()
            errors = [{"field": exc.field or "outcome", "message": exc.detail}]
            return await self._list(request, db_session, errors=errors, status_code=exc.status)
        return Redirect("/staff/callbacks", status_code=303)


ROUTES = [CallbackPages]
