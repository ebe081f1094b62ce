"""Staff pages for complaint cases: the open cases with their next deadline (overdue flagged), opening a case
from a complaint in the inbox, and a case's page where it is acknowledged, answered, escalated or closed.

Quality reviewers and administrators see every case; a service manager sees the cases of their services only.
"""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Redirect, Template
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from civicvoice.core.auth import Access, StaffUser, normalise_staff_email
from civicvoice.core.clock import utcnow
from civicvoice.core.errors import CivicVoiceError, InvalidInput, NotFound
from civicvoice.core.http import acting_staff, form_values, service, staff_template
from feedback.cases import (
    CaseNote,
    CasePolicy,
    CaseStatus,
    ComplaintCase,
    Outcome,
    acknowledge,
    add_note,
    answer_stage,
    close,
    escalate,
    find_case,
    open_case,
    open_cases,
    read_note,
)
from privacy.closures import council_calendar
from privacy.deadlines import london_day
from privacy.vault import Vault
from surveys.models import Service

CASE_ROLES = ("quality_reviewer", "admin", "service_manager")


async def _scope(session: AsyncSession, viewer: StaffUser) -> list[uuid.UUID] | None:
    """The services a viewer's cases are limited to (None: every service)."""
    if viewer.role != "service_manager":
        return None
    slugs = list(viewer.service_scope or [])
    return list((await session.scalars(select(Service.id).where(Service.slug.in_(slugs)))).all())


async def _visible(request: Request[Any, Any, Any], session: AsyncSession, reference: str) -> ComplaintCase:
    case = await find_case(session, reference, lock=request.method == "POST")
    scope = await _scope(session, request.state.staff_user)
    if scope is not None and case.service_id not in scope:
        raise NotFound(f"No complaint case {reference!r}.", field="reference")
    return case


class CasePages(Controller):
    path = "/staff/cases"
    include_in_schema = False
    opt = Access.staff(*CASE_ROLES).opt()

    @get("/")
    async def cases(self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]) -> Template:
        found = await open_cases(db_session, service_ids=await _scope(db_session, request.state.staff_user))
        today = london_day(utcnow())
        names = dict((await db_session.execute(select(Service.id, Service.name))).tuples().all())
        rows = sorted(found, key=lambda c: (not c.overdue(today), c.due or c.received_on))
        return staff_template(
            request, "feedback/cases.html.j2", cases=rows, today=today, services=names, statuses=CaseStatus
        )

    @post("/new", status_code=303)
    async def new_case(self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]) -> Redirect:
        form = await form_values(request, limit=20000)
        try:
            answer_id = uuid.UUID(form.get("answer_id", ""))
        except ValueError:
            raise InvalidInput("Choose the comment the case is about.", field="answer_id") from None
        case = await open_case(
            db_session,
            await council_calendar(db_session, request.app.state.settings),
            answer_id=answer_id,
            owner_id=str(request.state.staff_user.id),
            actor=acting_staff(request),
            policy=CasePolicy.from_settings(request.app.state.settings),
        )
        return Redirect(f"/staff/cases/{case.reference}", status_code=303)

    @get("/{reference:str}")
    async def show(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession], reference: FromPath[str]
    ) -> Template:
        return await self._page(request, db_session, reference, [])

    async def _page(
        self,
        request: Request[Any, Any, Any],
        session: AsyncSession,
        reference: str,
        errors: list[dict[str, str]],
        status_code: int = 200,
    ) -> Template:
        case = await _visible(request, session, reference)
        vault = service(request, Vault)
        notes = (await session.scalars(select(CaseNote).where(CaseNote.case_id == case.id).order_by(CaseNote.at))).all()
        shown = [(note, await read_note(session, vault, case, note)) for note in notes]
        owners = {
            str(user.id): user.display_name
            for user in (await session.scalars(select(StaffUser))).all()
            if str(user.id) in {case.owner_id, case.stage2_owner_id}
        }
        return staff_template(
            request,
            "feedback/case.html.j2",
            status_code=status_code,
            case=case,
            status=CaseStatus(case.status),
            notes=shown,
            owners=owners,
            outcomes=list(Outcome),
            today=london_day(utcnow()),
            errors=errors,
        )

    @post("/{reference:str}/{action:str}", status_code=303)
    async def act(
        self,
        request: Request[Any, Any, Any],
        db_session: NamedDependency[AsyncSession],
        reference: FromPath[str],
        action: FromPath[str],
    ) -> Template | Redirect:
        form = await form_values(request, limit=20000)
        case = await _visible(request, db_session, reference)
        actor = acting_staff(request)
        calendar = await council_calendar(db_session, request.app.state.settings)
        policy = CasePolicy.from_settings(request.app.state.settings)
        try:
            if action == "acknowledge":
                await acknowledge(db_session, calendar, case, actor=actor, policy=policy)
            elif action == "answer":
                await answer_stage(
                    db_session,
                    service(request, Vault),
                    case,
                    outcome=form.get("outcome", ""),
                    letter=form.get("letter", ""),
                    actor=actor,
                )
            elif action == "escalate":
                officer = await _officer(db_session, form.get("stage2_owner", ""))
                await escalate(
                    db_session,
                    calendar,
                    case,
                    stage2_owner_id=officer,
                    actor=actor,
                    policy=policy,
                )
            elif action == "close":
                await close(db_session, case, actor=actor)
            elif action == "notes":
                await add_note(db_session, service(request, Vault), case, form.get("text", ""), actor=actor)
            else:
                raise NotFound("No such action on a case.", field="action")
        except CivicVoiceError as exc:
            if exc.status == 404:
                raise
            await db_session.rollback()
            errors = [{"field": exc.field or "status", "message": exc.detail}]
            return await self._page(request, db_session, reference, errors, exc.status)
        return Redirect(f"/staff/cases/{case.reference}", status_code=303)


async def _officer(session: AsyncSession, email: str) -> str:
    user = await session.scalar(select(StaffUser).where(StaffUser.email == normalise_staff_email(email)))
    if user is None or not user.active or user.role not in CASE_ROLES:
        raise InvalidInput("Give the email of an active officer who handles complaints.", field="stage2_owner")
    return str(user.id)


ROUTES = [CasePages]
