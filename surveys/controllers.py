"""HTTP API for contact systems: report contacts one at a time or in batches, and look up the services."""

from __future__ import annotations

import uuid
from typing import TypeVar

import msgspec
from litestar import Controller, Request, get, post
from litestar.di import NamedDependency, Provide
from litestar.exceptions import ValidationException
from litestar.params import JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_202_ACCEPTED
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from civicvoice.core.auth import API_KEY_SECURITY, Access, ApiPrincipal
from civicvoice.core.clock import utcnow
from civicvoice.core.errors import CivicVoiceError
from civicvoice.core.http import problem_responses
from civicvoice.core.services import Services
from civicvoice.core.settings import Settings
from surveys.intake import ContactIntake, Outcome
from surveys.models import Service
from surveys.schemas import (
    BatchItem,
    BatchResult,
    ContactAccepted,
    ContactBatch,
    ContactEvent,
    DecisionOut,
    EventProblem,
    InvalidBody,
    ServiceList,
    ServiceOut,
    decode_strictly,
)
from surveys.tokens import TokenSigner
from surveys.web_links import survey_links, wants_link

T = TypeVar("T")

CONTACTS_WRITE = "contacts:write"


def api_principal(request: Request) -> ApiPrincipal:  # type: ignore[type-arg]
    principal: ApiPrincipal = request.state.api_principal
    return principal


async def strictly(request: Request, schema: type[T]) -> T:  # type: ignore[type-arg]
    """The body again under strict decoding (Litestar's own is lax: it takes 0 for false), refused as Litestar
    refuses any other body that does not match its schema: a 400 problem naming the field."""
    try:
        return decode_strictly(await request.body(), schema)
    except InvalidBody as exc:
        raise ValidationException(detail="Validation failed", extra=[{"message": str(exc), "key": "data"}]) from None


async def web_survey_links(
    request: Request,  # type: ignore[type-arg]
    session: AsyncSession,
    invitations: list[tuple[uuid.UUID, DecisionOut]],
) -> dict[uuid.UUID, str]:
    """The survey links of the web-link invitations among the answers (stored when the request commits)."""
    if not invitations:
        return {}
    services: Services = request.app.state.services
    settings = services.get(Settings)
    return await survey_links(session, services.get(TokenSigner), settings.base_url, invitations, utcnow())


def provide_intake(request: Request) -> ContactIntake:  # type: ignore[type-arg]
    services: Services = request.app.state.services
    return services.get(ContactIntake)


class ContactController(Controller):
    path = "/api/v1/contacts"
    tags = ["Contacts"]  # noqa: RUF012 - Litestar's own attribute
    security = API_KEY_SECURITY
    dependencies = {  # noqa: RUF012 - Litestar's own attribute
        "intake": Provide(provide_intake, sync_to_thread=False),
    }
    opt = Access.api(CONTACTS_WRITE).opt()

    @post(
        "/",
        status_code=HTTP_202_ACCEPTED,
        responses=problem_responses(400, 401, 403, 413, 422),
        summary="Report one contact",
        description=(
            "Reports one finished contact. The API key must be bound to the event's `source` (403 otherwise), so "
            "a contact system reports only its own contacts. The same (source, external_id) reported again "
            "creates no new contact and answers with the first result (duplicate: true): only a key of that "
            "source ever sees it. The answer carries the invitation decision and its reason. A contact invited on "
            "the `web_link` channel (a `web_form` contact: an online transaction) also gets `survey_url`, the survey "
            "link to show the customer on the transaction's confirmation page; nothing is sent to them."
        ),
    )
    async def report_contact(
        self,
        request: Request,  # type: ignore[type-arg]
        data: JSONBody[ContactEvent],
        db_session: NamedDependency[AsyncSession],
        intake: NamedDependency[ContactIntake],
    ) -> ContactAccepted:
        event = await strictly(request, ContactEvent)
        api_principal(request).require_source(event.source)
        accepted = (await intake.report(db_session, event)).accepted
        if wants_link(accepted.decision, accepted.invitation_id):
            assert accepted.invitation_id is not None
            links = await web_survey_links(request, db_session, [(accepted.invitation_id, accepted.decision)])
            accepted = msgspec.structs.replace(accepted, survey_url=links.get(accepted.invitation_id))
        return accepted

    @post(
        "/batch",
        status_code=HTTP_200_OK,
        responses=problem_responses(400, 401, 403, 413),
        summary="Report up to 1,000 contacts",
        description=(
            "Each event is stored or refused on its own; the answer reports every event by its index. An event "
            "of a source the API key is not bound to is refused on its own (status 403 in its `error`)."
        ),
    )
    async def report_batch(
        self,
        request: Request,  # type: ignore[type-arg]
        data: JSONBody[ContactBatch],
        db_session: NamedDependency[AsyncSession],
        intake: NamedDependency[ContactIntake],
    ) -> BatchResult:
        batch = await strictly(request, ContactBatch)
        principal = api_principal(request)
        results: list[BatchItem] = []
        # A source the key is not bound to is refused per event, like every other refusal in a batch; the key's
        # own events all go through the bulk writer together.
        outcomes: dict[int, Outcome] = {}
        allowed: list[tuple[int, ContactEvent]] = []
        for index, event in enumerate(batch.events):
            try:
                principal.require_source(event.source)
                allowed.append((index, event))
            except CivicVoiceError as exc:
                outcomes[index] = exc
        stored = await intake.report_many(db_session, [event for _, event in allowed])
        outcomes.update(zip([index for index, _ in allowed], stored, strict=True))
        links = await web_survey_links(
            request,
            db_session,
            [
                (o.accepted.invitation_id, o.accepted.decision)
                for o in outcomes.values()
                if not isinstance(o, CivicVoiceError)
                and wants_link(o.accepted.decision, o.accepted.invitation_id)
                and o.accepted.invitation_id is not None
            ],
        )
        for index in range(len(batch.events)):
            outcome = outcomes[index]
            if isinstance(outcome, CivicVoiceError):
                results.append(
                    BatchItem(
                        index=index,
                        status="rejected",
                        error=EventProblem(
                            title=outcome.title, status=outcome.status, detail=outcome.detail, field=outcome.field
                        ),
                    )
                )
                continue
            accepted = outcome.accepted
            results.append(
                BatchItem(
                    index=index,
                    status="duplicate" if accepted.duplicate else "accepted",
                    contact_id=accepted.contact_id,
                    decision=accepted.decision,
                    invitation_id=accepted.invitation_id,
                    survey_url=links.get(accepted.invitation_id) if accepted.invitation_id else None,
                )
            )
        return BatchResult(
            accepted=sum(r.status == "accepted" for r in results),
            duplicates=sum(r.status == "duplicate" for r in results),
            rejected=sum(r.status == "rejected" for r in results),
            results=results,
        )


class ServiceController(Controller):
    """The services a contact may name: the lookup behind the `service` field's pattern."""

    path = "/api/v1/services"
    tags = ["Contacts"]  # noqa: RUF012 - Litestar's own attribute
    security = API_KEY_SECURITY
    opt = Access.api(CONTACTS_WRITE).opt()

    @get(
        "/",
        responses=problem_responses(401, 403),
        summary="List the services a contact may name",
        description=(
            "The active services, by slug. A contact naming any other `service` is refused with a 422 problem "
            "(unknown-service). Contacts about a service marked `survey_excluded` are stored but never surveyed."
        ),
    )
    async def list_services(self, db_session: NamedDependency[AsyncSession]) -> ServiceList:
        rows = await db_session.scalars(select(Service).where(Service.active.is_(True)).order_by(Service.slug))
        return ServiceList(
            services=[ServiceOut(slug=row.slug, name=row.name, survey_excluded=row.survey_excluded) for row in rows]
        )


ROUTES = [ContactController, ServiceController]
API_SCOPES = {CONTACTS_WRITE: "Report contact events"}
