"""The subject-request API: other systems (the council's case management, its web forms) hand requests they
received to the DPO's queue, and read back how each stands. Scope `privacy:requests`.

A key sees only the requests it recorded. Answers carry the reference, state and time limits, never the
requester's details (the system that sent them has them already).
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.exceptions import ValidationException
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED
from msgspec import Meta
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from civicvoice.core.auth import API_KEY_SECURITY, Access, ApiPrincipal
from civicvoice.core.clock import utcnow
from civicvoice.core.errors import InvalidInput, NotFound
from civicvoice.core.http import problem_responses, service
from privacy.blind_index import normalise_email, normalise_phone
from privacy.closures import council_calendar
from privacy.deadlines import london_day
from privacy.exceptions import InvalidIdentifier
from privacy.fulfilment import link_person
from privacy.request_states import RequestKind, RequestState
from privacy.requests import Requester, SubjectRequest, acknowledgement_due, open_request
from privacy.schemas import EMAIL_PATTERN, PHONE_PATTERN, TRIMMED_TEXT, InvalidBody, decode_strictly
from privacy.vault import Vault

PRIVACY_REQUESTS = "privacy:requests"
API_SCOPES = {PRIVACY_REQUESTS: "Record data-protection requests received by other systems, and read their status"}

Text200 = Annotated[str, Meta(min_length=1, max_length=200, pattern=TRIMMED_TEXT)]


class RequesterIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Who asked and how to reach them (stored encrypted). At least one of email, phone or address."""

    name: Text200
    email: (
        Annotated[
            str,
            Meta(
                min_length=3,
                max_length=254,
                pattern=EMAIL_PATTERN,
                extra_json_schema={"extra": {"format": "email"}},
                description="The requester's email address, e.g. jo.bloggs@example.org.uk.",
            ),
        ]
        | None
    ) = None
    phone: (
        Annotated[
            str,
            Meta(
                min_length=3,
                max_length=32,
                pattern=PHONE_PATTERN,
                description="A UK number (07911 123456) or any number in international form (+33 1 23 45 67 89).",
            ),
        ]
        | None
    ) = None
    address: Annotated[str, Meta(min_length=1, max_length=500)] | None = None
    contact_reference: Annotated[str, Meta(min_length=1, max_length=100, pattern=TRIMMED_TEXT)] | None = None


class SubjectRequestIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A data-protection request received by another system."""

    kind: Annotated[
        RequestKind,
        Meta(
            description="access (Art. 15), erasure (17), rectification (16), restriction (18), objection (21), "
            "portability (20), or complaint (a data-protection complaint, DUA Act 2025)."
        ),
    ]
    requester: RequesterIn
    details: Annotated[str, Meta(max_length=4000, description="What they asked for, in their words.")] = ""
    received_on: (
        Annotated[
            date,
            Meta(description="The day the request was received (default today): within the last year, not ahead."),
        ]
        | None
    ) = None
    identity_required: Annotated[
        bool, Meta(description="True: identity must be proved before the clock starts (the DPO records it).")
    ] = False
    identity_checked: (
        Annotated[
            str,
            Meta(
                min_length=1,
                max_length=100,
                pattern=TRIMMED_TEXT,
                description="How the sending system already checked the requester's identity (recorded as such).",
            ),
        ]
        | None
    ) = None


class SubjectRequestOut(msgspec.Struct):
    """How a request stands: its reference, state and time limits (no personal data)."""

    id: uuid.UUID
    reference: str
    kind: RequestKind
    state: RequestState
    channel: str  # how it arrived: api, public (the request page) or staff
    received_on: date
    due_on: date | None
    identity_required: bool
    identity_method: str | None
    linked_to_a_person: bool
    acknowledge_by: date | None
    acknowledged_on: date | None
    closed: bool


def request_out(request: SubjectRequest) -> SubjectRequestOut:
    return SubjectRequestOut(
        id=request.id,
        reference=request.reference,
        kind=RequestKind(request.kind),
        state=RequestState(request.state),
        channel=request.channel,
        received_on=request.received_on,
        due_on=request.due_on,
        identity_required=request.identity_required,
        identity_method=request.identity_method,
        linked_to_a_person=request.subject_id is not None,
        acknowledge_by=acknowledgement_due(request),
        acknowledged_on=request.acknowledged_on,
        closed=RequestState(request.state).closed,
    )


def _principal(request: Request[Any, Any, Any]) -> ApiPrincipal:
    principal: ApiPrincipal = request.state.api_principal
    return principal


def _requester(data: SubjectRequestIn) -> Requester:
    """The requester with their identifiers checked as the vault will index them (422 naming the field)."""
    given = data.requester
    try:
        email = normalise_email(given.email) if given.email else None
        phone = normalise_phone(given.phone) if given.phone else None
    except InvalidIdentifier as exc:
        raise InvalidIdentifier(exc.detail, field=f"requester.{exc.field}") from None
    return Requester(
        name=given.name,
        email=email,
        phone=phone,
        address=given.address,
        details=data.details.strip(),
        contact_reference=given.contact_reference,
    )


class SubjectRequestController(Controller):
    path = "/api/v1/privacy/requests"
    tags = ["Data protection"]  # noqa: RUF012 - Litestar's own attribute
    security = API_KEY_SECURITY
    opt = Access.api(PRIVACY_REQUESTS).opt()

    @post(
        "/",
        status_code=HTTP_201_CREATED,
        responses=problem_responses(400, 401, 403, 413, 422),
        summary="Record a data-protection request",
        description=(
            "Puts a request received by another system in the DPO's queue, with its ICO time limit (one calendar "
            "month, moved to a working day; a complaint is also to be acknowledged within 30 days). The request "
            "is linked to the one person whose email or phone matches, if there is one; a restriction request "
            "then restricts their processing at once. Requester details are stored only encrypted."
        ),
    )
    async def record_request(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[SubjectRequestIn],
        db_session: NamedDependency[AsyncSession],
    ) -> SubjectRequestOut:
        try:
            body = decode_strictly(await request.body(), SubjectRequestIn)
        except InvalidBody as exc:
            raise ValidationException(
                detail="Validation failed", extra=[{"message": str(exc), "key": "data"}]
            ) from None
        requester = _requester(body)
        if not (requester.email or requester.phone or requester.address):
            raise InvalidInput(
                "Give at least one way to reach the requester: email, phone or address.", field="requester"
            )
        received_at = None
        if body.received_on is not None:
            day = body.received_on
            today = london_day(utcnow())
            if day > today:
                raise InvalidInput("The day received cannot be in the future.", field="received_on")
            if day < today - timedelta(days=366):
                raise InvalidInput("The day received must be within the last year.", field="received_on")
            received_at = datetime(day.year, day.month, day.day, 12, tzinfo=UTC)
            received_at = min(received_at, datetime.now(UTC))
        vault = service(request, Vault)
        actor = _principal(request).actor
        created = await open_request(
            db_session,
            vault,
            await council_calendar(db_session, request.app.state.settings),
            kind=body.kind,
            requester=requester,
            channel="api",
            actor=actor,
            identity_required=body.identity_required,
            received_at=received_at,
            identity_checked=body.identity_checked,
        )
        await db_session.flush()
        await link_person(db_session, vault, created, actor=actor)
        return request_out(created)

    @get(
        "/{request_id:uuid}",
        status_code=HTTP_200_OK,
        responses=problem_responses(401, 403, 404),
        summary="How a data-protection request stands",
        description="The state and time limits of a request this API key recorded (404 for any other).",
    )
    async def show_request(
        self,
        request: Request[Any, Any, Any],
        db_session: NamedDependency[AsyncSession],
        request_id: FromPath[uuid.UUID],
    ) -> SubjectRequestOut:
        found = await db_session.scalar(
            select(SubjectRequest).where(
                SubjectRequest.id == request_id, SubjectRequest.created_by == _principal(request).actor.id
            )
        )
        if found is None:
            raise NotFound("No request with that id was recorded with this API key.", field="request_id")
        return request_out(found)


API_ROUTES = [SubjectRequestController]
