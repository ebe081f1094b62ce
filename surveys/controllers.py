"""HTTP API for contact systems: report contacts one at a time or in batches."""

from __future__ import annotations

from litestar import Controller, Request, post
from litestar.di import NamedDependency, Provide
from litestar.params import JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_202_ACCEPTED
from sqlalchemy.ext.asyncio import AsyncSession

from civicvoice.core.auth import Access, ApiPrincipal
from civicvoice.core.errors import CivicVoiceError
from civicvoice.core.http import problem_responses
from surveys.intake import ContactIntake
from surveys.intake_batch import BatchingIntake
from surveys.schemas import BatchItem, BatchResult, ContactAccepted, ContactBatch, ContactEvent, EventProblem

CONTACTS_WRITE = "contacts:write"


def api_principal(request: Request) -> ApiPrincipal:  # type: ignore[type-arg]
    principal: ApiPrincipal = request.state.api_principal
    return principal


def provide_intake(request: Request) -> ContactIntake:  # type: ignore[type-arg]
    intake: ContactIntake = request.app.state.services["contact_intake"]
    return intake


def provide_writer(request: Request) -> BatchingIntake:  # type: ignore[type-arg]
    writer: BatchingIntake = request.app.state.services["contact_writer"]
    return writer


class ContactController(Controller):
    path = "/api/v1/contacts"
    tags = ["Contacts"]  # noqa: RUF012 - Litestar's own attribute
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
        api_principal(request).require_source(data.source)
        result = await writer.report(db_session, data)
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
        principal = api_principal(request)
        results: list[BatchItem] = []
        for index, event in enumerate(data.events):
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


ROUTES = [ContactController]
API_SCOPES = {CONTACTS_WRITE: "Report contact events"}
