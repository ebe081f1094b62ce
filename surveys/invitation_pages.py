"""Staff pages: recent invitations and each one's timeline (decided, queued, sent, delivered or failed, replies,
reminded, answered, expired). They show no personal data: no address, number or reply text is ever stored."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from litestar import Controller, Request, get
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter
from litestar.response import Template
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from civicvoice.core.auth import Access
from civicvoice.core.errors import NotFound
from civicvoice.core.http import staff_template
from surveys.models import Contact, Invitation, InvitationState, Service
from surveys.timeline import timeline

INVITATION_ROLES = ("quality_reviewer", "admin")


class InvitationPages(Controller):
    path = "/staff/invitations"
    include_in_schema = False
    opt = Access.staff(*INVITATION_ROLES).opt()

    @get("/")
    async def invitations(
        self,
        request: Request[Any, Any, Any],
        db_session: NamedDependency[AsyncSession],
        wanted: Annotated[str | None, QueryParameter(name="state")] = None,
    ) -> Template:
        stmt = (
            select(Invitation, Service.name)
            .outerjoin(Contact, Contact.id == Invitation.contact_id)
            .outerjoin(Service, Service.id == Contact.service_id)
            .order_by(Invitation.created_at.desc())
            .limit(100)
        )
        states = [s.value for s in InvitationState]
        chosen = wanted if wanted in states else None
        if chosen is not None:
            stmt = stmt.where(Invitation.state == chosen)
        rows = (await db_session.execute(stmt)).tuples().all()
        return staff_template(request, "surveys/invitations.html.j2", rows=rows, states=states, state=chosen)

    @get("/{invitation_id:uuid}")
    async def invitation(
        self,
        request: Request[Any, Any, Any],
        db_session: NamedDependency[AsyncSession],
        invitation_id: FromPath[uuid.UUID],
    ) -> Template:
        invitation = await db_session.get(Invitation, invitation_id)
        if invitation is None:
            raise NotFound("There is no such invitation.")
        service_name = await db_session.scalar(
            select(Service.name)
            .join(Contact, Contact.service_id == Service.id)
            .where(Contact.id == invitation.contact_id)
        )
        entries = await timeline(db_session, invitation)
        return staff_template(
            request, "surveys/invitation.html.j2", invitation=invitation, service=service_name, entries=entries
        )
