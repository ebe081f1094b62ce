"""HTTP API for contact systems: report contacts one at a time or in batches."""

from __future__ import annotations

from litestar import Controller, Request, post
from litestar.di import NamedDependency, Provide
from litestar.params import JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_202_ACCEPTED
from sqlalchemy.ext.asyncio import AsyncSession

from civicvoice.core.auth import Access
from civicvoice.core.errors import CivicVoiceError
from civicvoice.core.http import problem_responses
from civicvoice.core.services import Services
from surveys.intake import ContactIntake
from surveys.intake_batch import BatchingIntake
from surveys.schemas import BatchItem, BatchResult, ContactAccepted, ContactBatch, ContactEvent, EventProblem

CONTACTS_WRITE = "contacts:write"


def provide_intake(request: Request) -> ContactIntake:  # type: ignore[type-arg]
    services: Services = request.app.state.services
    return services.get(ContactIntake)


def provide_writer(request: Request) -> BatchingIntake:  # type: ignore[type-arg]
    services: Services = request.app.state.services
    return services.get(BatchingIntake)


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
            "Reports one finished contact. The same (source, external_id) reported again creates no new contact "
            "and answers with the first result (duplicate: true). The answer carries the invitation decision "
            "and its reason."
        ),
    )
    async def report_contact(
        self,
        data: JSONBody[ContactEvent],
        db_session: NamedDependency[AsyncSession],
        writer: NamedDependency[BatchingIntake],
    ) -> ContactAccepted:
        result = await writer.report(db_session, data)
        return result.accepted

    @post(
        "/batch",
        status_code=HTTP_200_OK,
        responses=problem_responses(400, 401, 403, 413),
        summary="Report up to 1,000 contacts",
        description="Each event is stored or refused on its own; the answer reports every event by its index.",
    )
    async def report_batch(
        self,
        data: JSONBody[ContactBatch],
        db_session: NamedDependency[AsyncSession],
        intake: NamedDependency[ContactIntake],
    ) -> BatchResult:
        results: list[BatchItem] = []
        for index, event in enumerate(data.events):
            try:
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
