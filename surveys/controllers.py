"""HTTP API for contact systems: report contacts one at a time or in batches, and look up the services."""

from __future__ import annotations

from typing import TypeVar

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency, Provide
from litestar.exceptions import ValidationException
from litestar.params import JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_202_ACCEPTED
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from civicvoice.core.auth import API_KEY_SECURITY, Access, ApiPrincipal
from civicvoice.core.errors import CivicVoiceError
from civicvoice.core.http import problem_responses
from surveys.intake import ContactIntake
from surveys.intake_batch import BatchingIntake
from surveys.models import Service
from surveys.schemas import (
    BatchItem,
    BatchResult,
    ContactAccepted,
    ContactBatch,
    ContactEvent,
    EventProblem,
    InvalidBody,
    ServiceList,
    ServiceOut,
    decode_strictly,
)

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


def provide_intake(request: Request) -> ContactIntake:  # type: ignore[type-arg]
    intake: ContactIntake = request.app.state.services["contact_intake"]
    return intake


def provide_writer(request: Request) -> BatchingIntake:  # type: ignore[type-arg]
    writer: BatchingIntake = request.app.state.services["contact_writer"]
    return writer


class ContactController(Controller):
    path = "/api/v1/contacts"
    tags = ["Contacts"]  # noqa: RUF012 - Litestar's own attribute
    security = API_KEY_SECURITY
    dependencies = {  # noqa: RUF012 - Litestar's own attribute
        "intake": Provide(provide_intake, sync_to_thread=False),
        "writer": Provide(provide_writer, sync_to_thread=False),
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
            "source ever sees it. The answer carries the invitation decision and its reason."
        ),
    )
    async def report_contact(
        self,
        request: Request,  # type: ignore[type-arg]
        data: JSONBody[ContactEvent],
        db_session: NamedDependency[AsyncSession],
        writer: NamedDependency[BatchingIntake],
    ) -> ContactAccepted:
        event = await strictly(request, ContactEvent)
        api_principal(request).require_source(event.source)
        result = await writer.report(db_session, event)
        return result.accepted

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
        for index, event in enumerate(batch.events):
            try:
                # Checked per event, like every other refusal in a batch: the key's own events still go in.
                principal.require_source(event.source)
                outcome = await intake.report(db_session, event)
            except CivicVoiceError as exc:
                results.append(
                    BatchItem(
                        index=index,
                        status="rejected",
                        error=EventProblem(title=exc.title, status=exc.status, detail=exc.detail, field=exc.field),
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
