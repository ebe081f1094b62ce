"""Staff pages for contact quality evaluation: the sampled queue and the evaluation form for reviewers, and the
scores page every role sees within its scope (agents their own, service managers their services)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Redirect, Template
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from civicvoice.core.audit import Actor
from civicvoice.core.auth import Access
from civicvoice.core.clock import utcnow
from civicvoice.core.errors import CivicVoiceError, NotFound
from civicvoice.core.http import service, staff_template
from feedback.case_pages import _scope
from feedback.quality import MAX_MARK, QualityForm, averages, calibrations, evaluate, evaluation_queue
from surveys.models import Contact, Response, Service

REVIEWERS = ("quality_reviewer", "admin")
# Agents and service managers find their scores in the navigation; reviewers reach them from the queue.
SCORE_ROLES = ("agent", "service_manager")


class QualityPages(Controller):
    path = "/staff/quality"
    include_in_schema = False
    opt = Access.staff(*REVIEWERS).opt()

    @get("/")
    async def queue(self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]) -> Template:
        contacts = await evaluation_queue(
            db_session, since=utcnow() - timedelta(days=31), rate=request.app.state.settings.evaluation_sample_rate
        )
        names = dict((await db_session.execute(select(Service.id, Service.name))).tuples().all())
        return staff_template(request, "feedback/quality_queue.html.j2", contacts=contacts, services=names)

    @get("/contacts/{contact_id:uuid}")
    async def form(
        self,
        request: Request[Any, Any, Any],
        db_session: NamedDependency[AsyncSession],
        contact_id: FromPath[uuid.UUID],
    ) -> Template:
        return await self._form(request, db_session, contact_id, [], 200)

    async def _form(
        self,
        request: Request[Any, Any, Any],
        session: AsyncSession,
        contact_id: uuid.UUID,
        errors: list[dict[str, str]],
        status_code: int,
    ) -> Template:
        contact = await session.get(Contact, contact_id)
        if contact is None:
            raise NotFound("No such contact.", field="contact")
        response = await session.scalar(select(Response).where(Response.contact_id == contact_id))
        contact_service = await session.get(Service, contact.service_id)
        return staff_template(
            request,
            "feedback/quality_form.html.j2",
            status_code=status_code,
            contact=contact,
            response=response,
            service=contact_service,
            form=service(request, QualityForm).criteria,
            marks=range(MAX_MARK + 1),
            errors=errors,
        )

    @post("/contacts/{contact_id:uuid}", status_code=303)
    async def save(
        self,
        request: Request[Any, Any, Any],
        db_session: NamedDependency[AsyncSession],
        contact_id: FromPath[uuid.UUID],
    ) -> Template | Redirect:
        form = await request.form()
        marks: dict[str, int] = {}
        form_in_use = service(request, QualityForm).criteria
        for criterion in form_in_use:
            raw = str(form.get(criterion.key, ""))
            if raw.isdigit():
                marks[criterion.key] = int(raw)
        reviewer = str(request.state.staff_user.id)
        try:
            await evaluate(
                db_session, contact_id, marks, reviewer_id=reviewer, actor=Actor("staff", reviewer), form=form_in_use
            )
        except CivicVoiceError as exc:
            if exc.status == 404:
                raise
            await db_session.rollback()
            errors = [{"field": exc.field or form_in_use[0].key, "message": exc.detail}]
            return await self._form(request, db_session, contact_id, errors, exc.status)
        return Redirect("/staff/quality", status_code=303)


class QualityScores(Controller):
    path = "/staff/quality/scores"
    include_in_schema = False
    opt = Access.staff("agent", "service_manager", *REVIEWERS).opt()

    @get("/")
    async def scores(self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]) -> Template:
        viewer = request.state.staff_user
        names = {str(k): v for k, v in (await db_session.execute(select(Service.id, Service.name))).tuples().all()}
        if viewer.role == "agent":
            by_agent = await averages(db_session, by="agent", agent_ref=viewer.agent_ref or "\x00none")
            return staff_template(
                request, "feedback/quality_scores.html.j2", agents=by_agent, services=[], names=names, calibration=[]
            )
        scope = await _scope(db_session, viewer)
        return staff_template(
            request,
            "feedback/quality_scores.html.j2",
            agents=await averages(db_session, by="agent", service_ids=scope) if scope is None else [],
            services=await averages(db_session, by="service", service_ids=scope),
            names=names,
            calibration=await calibrations(db_session) if viewer.role in REVIEWERS else [],
        )


ROUTES = [QualityPages, QualityScores]
