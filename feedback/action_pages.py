"""Staff pages for the improvement-action register, and the public "You said, we did" page.

Quality reviewers and administrators keep the register; the public page shows only done actions the council
chose to publish, in the words written for the public (no personal data)."""

from __future__ import annotations

from datetime import date
from typing import Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Redirect, Template
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from civicvoice.core.auth import Access
from civicvoice.core.errors import CivicVoiceError, InvalidInput
from civicvoice.core.http import NO_STORE, acting_staff, form_values, service, staff_template
from feedback.actions import (
    ActionStatus,
    ImprovementAction,
    create_action,
    find_action,
    link_case,
    linked_cases,
    linked_comments,
    published_actions,
    register,
    update_action,
)
from feedback.cases import find_case
from privacy.exceptions import KeyDestroyed
from privacy.redaction import redact
from privacy.vault import Vault
from surveys.models import Service
from surveys.responses import read_answer_text

ACTION_ROLES = ("quality_reviewer", "admin")


def _due(raw: str) -> date | None:
    if not raw.strip():
        return None
    try:
        return date.fromisoformat(raw.strip())
    except ValueError:
        raise InvalidInput("Enter the due date as YYYY-MM-DD.", field="due_on") from None


async def _comment_texts(
    request: Request[Any, Any, Any], session: AsyncSession, action: ImprovementAction
) -> list[str]:
    """The linked comments, decrypted for this page only and redacted like every list of comments."""
    texts = []
    for answer, response in await linked_comments(session, action):
        try:
            text = await read_answer_text(session, service(request, Vault), response, answer)
        except KeyDestroyed:
            text = None
        texts.append(redact(text) if text else "(removed: its writer's data was erased)")
    return texts


class ActionPages(Controller):
    path = "/staff/actions"
    include_in_schema = False
    opt = Access.staff(*ACTION_ROLES).opt()

    @get("/")
    async def actions(self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]) -> Template:
        services = (await db_session.execute(select(Service.id, Service.name).order_by(Service.name))).tuples().all()
        return staff_template(
            request,
            "feedback/actions.html.j2",
            rows=await register(db_session),
            services=services,
            values={},
            errors=[],
        )

    @post("/", status_code=303)
    async def create(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]
    ) -> Template | Redirect:
        form = await form_values(request, limit=5000)
        services = (await db_session.execute(select(Service.id, Service.name).order_by(Service.name))).tuples().all()
        try:
            chosen = {str(service_id): service_id for service_id, _ in services}.get(form.get("service", ""))
            action = await create_action(
                db_session,
                title=form.get("title", ""),
                description=form.get("description", ""),
                owner_id=str(request.state.staff_user.id),
                actor=acting_staff(request),
                service_id=chosen,
                due_on=_due(form.get("due_on", "")),
            )
        except CivicVoiceError as exc:
            return staff_template(
                request,
                "feedback/actions.html.j2",
                status_code=422,
                rows=await register(db_session),
                services=services,
                values=form,
                errors=[{"field": exc.field or "title", "message": exc.detail}],
            )
        return Redirect(f"/staff/actions/{action.reference}", status_code=303)

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
        action = await find_action(session, reference)
        return staff_template(
            request,
            "feedback/action.html.j2",
            status_code=status_code,
            action=action,
            status=ActionStatus(action.status),
            statuses=list(ActionStatus),
            cases=await linked_cases(session, action),
            comments=await _comment_texts(request, session, action),
            errors=errors,
        )

    @post("/{reference:str}", status_code=303)
    async def update(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession], reference: FromPath[str]
    ) -> Template | Redirect:
        form = await form_values(request, limit=5000)
        action = await find_action(db_session, reference, lock=True)
        try:
            if form.get("case"):
                await link_case(
                    db_session, action, await find_case(db_session, form["case"]), actor=acting_staff(request)
                )
            else:
                await update_action(
                    db_session,
                    action,
                    status=form.get("status", ""),
                    evidence=form.get("evidence"),
                    you_said=form.get("you_said"),
                    we_did=form.get("we_did"),
                    published=form.get("published") == "yes",
                    actor=acting_staff(request),
                )
        except CivicVoiceError as exc:
            await db_session.rollback()
            errors = [{"field": exc.field or "status", "message": exc.detail}]
            return await self._page(request, db_session, reference, errors, 404 if exc.status == 404 else 422)
        return Redirect(f"/staff/actions/{action.reference}", status_code=303)


class YouSaidWeDid(Controller):
    path = "/you-said-we-did"
    opt = Access.public().opt()
    include_in_schema = False

    @get("/")
    async def page(self, db_session: NamedDependency[AsyncSession]) -> Template:
        return Template(
            template_name="feedback/you_said_we_did.html.j2",
            context={"actions": await published_actions(db_session), "page_title": "You said, we did"},
            headers=NO_STORE,
        )


ROUTES = [ActionPages, YouSaidWeDid]
