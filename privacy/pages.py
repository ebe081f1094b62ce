"""The data protection officer's staff pages: the request queue with ICO deadlines, a request's page with its
history and next steps, recording a new request, and the retention schedule with its dry-run report.

Only the dpo role reaches them. Each handler gets its database session injected; the plugin commits when the
answer is a success or a redirect and rolls back otherwise, so a refused change leaves nothing behind.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from civicvoice.core.auth import Access
from civicvoice.core.errors import CivicVoiceError, InvalidInput
from civicvoice.core.http import acting_staff, form_values, service, staff_template
from civicvoice.core.services import Extensions
from privacy.closures import council_calendar
from privacy.fulfilment import AUTOMATIC, fulfil, link_person
from privacy.holds import LEGAL_HOLDS
from privacy.rectification import Correction
from privacy.request_states import RequestKind, RequestState, allowed_moves
from privacy.requests import (
    Requester,
    acknowledge,
    acknowledgement_due,
    find_request,
    history,
    move,
    open_request,
    queue,
    requester_of,
)
from privacy.restriction import lift, restrictions_for_request
from privacy.retention import CLASS_LABELS, report, retention_months, set_retention_months
from privacy.vault import Vault

DPO = Access.staff("dpo")


def _errors(exc: CivicVoiceError) -> list[dict[str, str]]:
    return [{"field": exc.field or "state", "message": exc.detail}]


class PrivacyPages(Controller):
    path = "/staff/privacy"
    include_in_schema = False
    opt = DPO.opt()

    @get("/requests")
    async def request_queue(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]
    ) -> Template:
        items = await queue(db_session, await council_calendar(db_session, request.app.state.settings))
        return staff_template(request, "privacy/queue.html.j2", items=items, overdue=sum(i.overdue for i in items))

    @get("/requests/new")
    async def new_request_form(self, request: Request[Any, Any, Any]) -> Template:
        return staff_template(request, "privacy/request_new.html.j2", kinds=list(RequestKind), values={}, errors=[])

    @post("/requests/new", status_code=303)
    async def create_request(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]
    ) -> Template | Redirect:
        form = await form_values(request)
        try:
            kind = _kind(form.get("kind", ""))
            received_at = _received(form.get("received", ""))
            created = await open_request(
                db_session,
                service(request, Vault),
                await council_calendar(db_session, request.app.state.settings),
                kind=kind,
                requester=Requester(
                    name=form.get("name", "").strip()[:200],
                    email=form.get("email", "").strip()[:254] or None,
                    phone=form.get("phone", "").strip()[:40] or None,
                    address=form.get("address", "").strip()[:500] or None,
                    details=form.get("details", "").strip(),
                ),
                channel="staff",
                actor=acting_staff(request),
                identity_required=form.get("identity_required") == "yes",
                received_at=received_at,
            )
        except CivicVoiceError as exc:
            return staff_template(
                request,
                "privacy/request_new.html.j2",
                status_code=exc.status if 400 <= exc.status < 500 else 422,
                kinds=list(RequestKind),
                values=form,
                errors=_errors(exc),
            )
        await link_person(db_session, service(request, Vault), created, actor=acting_staff(request))
        return Redirect(f"/staff/privacy/requests/{created.reference}", status_code=303)

    @get("/requests/{reference:str}")
    async def show_request(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession], reference: FromPath[str]
    ) -> Template:
        return await self._request_page(request, db_session, reference, [])

    async def _request_page(
        self,
        request: Request[Any, Any, Any],
        session: AsyncSession,
        reference: str,
        errors: list[dict[str, str]],
        status_code: int = 200,
    ) -> Template:
        found = await find_request(session, reference)
        vault = service(request, Vault)
        steps = await history(session, found)
        state = RequestState(found.state)
        restrictions = await restrictions_for_request(session, found.id)
        return staff_template(
            request,
            "privacy/request.html.j2",
            status_code=status_code,
            item=found,
            kind=RequestKind(found.kind),
            state=state,
            requester=await requester_of(session, vault, found),
            steps=steps,
            moves=sorted(allowed_moves(state), key=lambda s: list(RequestState).index(s)),
            automatic=RequestKind(found.kind) in AUTOMATIC
            and state in (RequestState.in_progress, RequestState.extended),
            errors=errors,
            done=request.query_params.get("done"),
            restrictions=restrictions,
            standing=[r for r in restrictions if r.lifted_at is None],
            acknowledge_by=acknowledgement_due(found) if found.acknowledged_on is None else None,
        )

    @post("/requests/{reference:str}/move", status_code=303)
    async def move_request(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession], reference: FromPath[str]
    ) -> Template | Redirect:
        form = await form_values(request)
        found = await find_request(db_session, reference, lock=True)
        try:
            target = RequestState(form.get("state", ""))
        except ValueError:
            return await self._request_page(
                request, db_session, reference, [{"field": "state", "message": "Choose what happens next."}], 422
            )
        try:
            months = int(form["months"]) if form.get("months") else None
            await move(
                db_session,
                service(request, Vault),
                await council_calendar(db_session, request.app.state.settings),
                found,
                target,
                actor=acting_staff(request),
                reason=form.get("reason") or None,
                months=months,
                identity_method=form.get("identity_method") or None,
            )
        except ValueError:
            return await self._request_page(
                request, db_session, reference, [{"field": "months", "message": "Give 1 or 2 months."}], 422
            )
        except CivicVoiceError as exc:
            await db_session.rollback()
            return await self._request_page(
                request, db_session, reference, _errors(exc), 409 if exc.status == 409 else 422
            )
        return Redirect(f"/staff/privacy/requests/{found.reference}", status_code=303)

    @post("/requests/{reference:str}/fulfil", status_code=303)
    async def fulfil_request(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession], reference: FromPath[str]
    ) -> Template | Redirect:
        found = await find_request(db_session, reference, lock=True)
        extensions: Extensions = request.app.state.extensions
        form = await form_values(request)
        correction = Correction(
            name=form.get("name") or None,
            old_email=form.get("old_email") or None,
            new_email=form.get("new_email") or None,
            old_phone=form.get("old_phone") or None,
            new_phone=form.get("new_phone") or None,
            address=form.get("address") or None,
        )
        try:
            await fulfil(
                db_session,
                service(request, Vault),
                await council_calendar(db_session, request.app.state.settings),
                request.app.state.settings,
                found,
                actor=acting_staff(request),
                holds=extensions.items(LEGAL_HOLDS),
                correction=correction,
            )
        except CivicVoiceError as exc:
            await db_session.rollback()
            return await self._request_page(request, db_session, reference, _errors(exc), exc.status)
        done = "restricted" if found.kind == RequestKind.restriction else "fulfilled"
        return Redirect(f"/staff/privacy/requests/{found.reference}?done={done}", status_code=303)

    @post("/requests/{reference:str}/acknowledge", status_code=303)
    async def acknowledge_complaint(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession], reference: FromPath[str]
    ) -> Template | Redirect:
        """A data-protection complaint's acknowledgement, sent by the DPO, is recorded (due within 30 days)."""
        form = await form_values(request)
        found = await find_request(db_session, reference, lock=True)
        try:
            await acknowledge(
                db_session, service(request, Vault), found, actor=acting_staff(request), note=form.get("note")
            )
        except CivicVoiceError as exc:
            await db_session.rollback()
            return await self._request_page(request, db_session, reference, _errors(exc), 422)
        return Redirect(f"/staff/privacy/requests/{found.reference}?done=acknowledged", status_code=303)

    @post("/requests/{reference:str}/lift-restriction", status_code=303)
    async def lift_restriction(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession], reference: FromPath[str]
    ) -> Template | Redirect:
        """Lift the restriction placed for this request (the request stays open); the reason is recorded."""
        form = await form_values(request)
        found = await find_request(db_session, reference, lock=True)
        standing = [r for r in await restrictions_for_request(db_session, found.id) if r.lifted_at is None]
        try:
            if not standing:
                raise InvalidInput("No restriction stands for this request.", field="lift_reason")
            for restriction in standing:
                await lift(db_session, restriction.id, actor=acting_staff(request), reason=form.get("lift_reason", ""))
        except CivicVoiceError as exc:
            await db_session.rollback()
            return await self._request_page(request, db_session, reference, _errors(exc), 422)
        return Redirect(f"/staff/privacy/requests/{found.reference}?done=lifted", status_code=303)

    @get("/retention")
    async def retention(self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]) -> Template:
        return await self._retention_page(request, db_session, [], None)

    async def _retention_page(
        self,
        request: Request[Any, Any, Any],
        session: AsyncSession,
        errors: list[dict[str, str]],
        done: str | None,
        status_code: int = 200,
    ) -> Template:
        extensions: Extensions = request.app.state.extensions
        rows = await report(session, extensions.items(LEGAL_HOLDS))
        return staff_template(
            request,
            "privacy/retention.html.j2",
            status_code=status_code,
            months=await retention_months(session),
            labels=CLASS_LABELS,
            rows=rows,
            errors=errors,
            done=done,
        )

    @post("/retention", status_code=303)
    async def set_retention(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]
    ) -> Template | Redirect:
        form = await form_values(request)
        try:
            months = int(form.get("months", "").strip())
        except ValueError:
            return await self._retention_page(
                request, db_session, [{"field": "months", "message": "Give a whole number of months."}], None, 422
            )
        try:
            await set_retention_months(db_session, form.get("retention_class", ""), months, actor=acting_staff(request))
        except CivicVoiceError as exc:
            return await self._retention_page(request, db_session, _errors(exc), None, 422)
        return Redirect("/staff/privacy/retention", status_code=303)


def _kind(raw: str) -> RequestKind:
    try:
        return RequestKind(raw)
    except ValueError:
        raise InvalidInput("Choose the kind of request.", field="kind") from None


def _received(raw: str) -> datetime | None:
    if not raw.strip():
        return None
    try:
        day = date.fromisoformat(raw.strip())
    except ValueError:
        raise InvalidInput("Enter the day received as YYYY-MM-DD, for example 2026-11-30.", field="received") from None
    return datetime(day.year, day.month, day.day, 12, tzinfo=UTC)


PAGES = [PrivacyPages]
