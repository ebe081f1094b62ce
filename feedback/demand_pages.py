"""Tagging demand: the contacts API (a contact system tags its own contacts) and the inbox's one-action forms
(a reviewer tags a response's contact, or a complaint comment)."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Any, Literal

import msgspec
from litestar import Controller, Request, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from litestar.response import Redirect
from litestar.status_codes import HTTP_200_OK
from msgspec import Meta
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from civicvoice.core.auth import API_KEY_SECURITY, Access, StaffUser
from civicvoice.core.errors import InvalidInput, NotFound
from civicvoice.core.http import acting_staff, form_values, problem_responses, service
from feedback.demand import REASON_LIMIT, DemandTag, check_demand, tag_complaint, tag_contact
from feedback.inbox import REVIEWERS, scoped
from privacy.vault import Vault
from surveys.controllers import CONTACTS_WRITE, api_principal, strictly
from surveys.intake import find_contact
from surveys.models import Answer, Contact, Response, Service
from surveys.schemas import ExternalId, Source

DemandKind = Literal["value", "excess", "failure", "preventable", "co_dependent"]


class DemandIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """The demand type of a contact the key's contact system reported."""

    source: Source
    external_id: ExternalId
    type: Annotated[
        DemandKind,
        Meta(
            description=(
                "value: what the council exists to provide; non-value demand: excess (more contact than the need "
                "requires), failure (a failure to do something or do it right), preventable (avoidable with "
                "information or self-service), co_dependent (caused by another organisation or service)."
            )
        ),
    ]
    reason: (
        Annotated[
            str,
            Meta(
                max_length=REASON_LIMIT,
                description="Why: required for non-value demand. Identifiers in it are removed before it is stored.",
            ),
        ]
        | None
    ) = None


class DemandOut(msgspec.Struct):
    contact_id: uuid.UUID
    type: str
    reason: str | None
    month: date
    replaced: bool


class DemandApi(Controller):
    path = "/api/v1/contacts/demand"
    tags = ["Contacts"]  # noqa: RUF012 - Litestar's own attribute
    security = API_KEY_SECURITY
    opt = Access.api(CONTACTS_WRITE).opt()

    @put(
        "/",
        status_code=HTTP_200_OK,
        responses=problem_responses(400, 401, 403, 404, 422),
        summary="Tag a contact's demand type",
        description=(
            "Tags a contact already reported as value demand or non-value demand of a kind, with the reason "
            "(required for non-value demand). Tagging again replaces the earlier tag. The API key must be bound to "
            "the contact's `source` (403 otherwise); an unknown contact is a 404."
        ),
    )
    async def tag(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[DemandIn],
        db_session: NamedDependency[AsyncSession],
    ) -> DemandOut:
        body = await strictly(request, DemandIn)
        principal = api_principal(request)
        principal.require_source(body.source)
        choice = check_demand(body.type, body.reason)
        contact = await find_contact(db_session, service(request, Vault), body.source, body.external_id)
        if contact is None:
            raise NotFound("No contact with that source and external_id has been reported.", field="external_id")
        before = await db_session.scalar(select(DemandTag.id).where(DemandTag.contact_id == contact.id))
        tag = await tag_contact(db_session, contact, choice, actor=principal.actor)
        return DemandOut(contact.id, tag.demand_type, tag.reason, tag.month, before is not None)


def _back(form: dict[str, str]) -> str:
    back = form.get("back", "")
    return back if back.startswith("/staff/feedback") and "//" not in back else "/staff/feedback"


async def _visible_response(session: AsyncSession, viewer: StaffUser, response_id: uuid.UUID) -> Response:
    stmt = scoped(
        select(Response).join(Service, Service.id == Response.service_id).where(Response.id == response_id), viewer
    )
    found: Response | None = await session.scalar(stmt)
    if found is None:
        raise NotFound("No such response.", field="response")
    return found


class DemandTagging(Controller):
    """The inbox's demand forms: reviewers tag in one action (choose the type, give the reason, save)."""

    path = "/staff/feedback"
    include_in_schema = False
    opt = Access.staff(*REVIEWERS).opt()

    @post("/responses/{response_id:uuid}/demand", status_code=303)
    async def tag_response_contact(
        self,
        request: Request[Any, Any, Any],
        db_session: NamedDependency[AsyncSession],
        response_id: FromPath[uuid.UUID],
    ) -> Redirect:
        form = await form_values(request, limit=2000)
        response = await _visible_response(db_session, request.state.staff_user, response_id)
        choice = check_demand(form.get("demand_type", ""), form.get("reason"))
        contact = await db_session.get(Contact, response.contact_id) if response.contact_id else None
        if contact is None:
            raise InvalidInput("This response has no contact to tag (tag its complaint instead).", field="response")
        await tag_contact(db_session, contact, choice, actor=acting_staff(request))
        return Redirect(_back(form), status_code=303)

    @post("/comments/{answer_id:uuid}/demand", status_code=303)
    async def tag_complaint_comment(
        self,
        request: Request[Any, Any, Any],
        db_session: NamedDependency[AsyncSession],
        answer_id: FromPath[uuid.UUID],
    ) -> Redirect:
        form = await form_values(request, limit=2000)
        answer = await db_session.get(Answer, answer_id)
        if answer is None:
            raise NotFound("No such comment.", field="answer_id")
        await _visible_response(db_session, request.state.staff_user, answer.response_id)
        choice = check_demand(form.get("demand_type", ""), form.get("reason"))
        await tag_complaint(db_session, answer_id, choice, actor=acting_staff(request))
        return Redirect(_back(form), status_code=303)


ROUTES = [DemandApi, DemandTagging]
