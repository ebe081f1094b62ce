"""The IVR webhook a telephony platform calls during a call: HMAC-signed, answered with the next prompt."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar import Controller, Request, post
from litestar.di import NamedDependency
from litestar.openapi.spec import OpenAPIMediaType, Operation, RequestBody, Schema
from litestar.openapi.spec.enums import OpenAPIType
from litestar.params import FromPath
from litestar.status_codes import HTTP_200_OK
from sqlalchemy.ext.asyncio import AsyncSession

from civicvoice.core.auth import Access
from civicvoice.core.clock import utcnow
from civicvoice.core.http import problem_responses, service
from civicvoice.core.settings import Settings
from surveys.channels.ivr import InvalidIvrRequest, IvrPrompt, IvrRequest, IvrSurveys
from surveys.schemas import InvalidBody, decode_strictly
from surveys.signed_requests import signature_parameters, verify_request


@dataclass
class _IvrOperation(Operation):
    """The operation with its request body documented (the handler reads the raw body, to check its signature
    before anything is decoded)."""

    def __post_init__(self) -> None:
        self.request_body = RequestBody(
            required=False,
            description="Empty (or `{}`) to start or resume the survey; then the digits pressed for the question.",
            content={
                "application/json": OpenAPIMediaType(
                    schema=Schema(
                        type=OpenAPIType.OBJECT,
                        additional_properties=False,
                        properties={
                            "question": Schema(
                                type=OpenAPIType.STRING,
                                pattern=r"^[a-z][a-z0-9_]{0,39}$",
                                description="The `question` of the prompt being answered.",
                            ),
                            "digits": Schema(
                                type=OpenAPIType.STRING,
                                pattern=r"^[0-9*#]{0,12}$",
                                description="The keys pressed; empty when none were (a timeout).",
                            ),
                        },
                    )
                )
            },
        )
        self.parameters = [*(self.parameters or []), *signature_parameters("CIVICVOICE_IVR_SECRETS")]


class IvrController(Controller):
    path = "/api/v1/ivr"
    tags = ["IVR"]  # noqa: RUF012 - Litestar's own attribute
    # No API key or session: the HMAC signature is checked by the handler before anything else.
    opt = Access.public().opt()

    @post(
        "/calls/{call_id:str}",
        status_code=HTTP_200_OK,
        operation_class=_IvrOperation,
        responses=problem_responses(400, 401, 403, 404, 409, 410, 413),
        summary="Next prompt of a post-call keypad survey",
        description=(
            "Called by a telephony platform when its caller has finished with the agent. `call_id` is the "
            "`external_id` of the contact the platform reported (under its own `source`); intake invited it on "
            "the `ivr` channel. Post an empty body to get the first prompt; speak `prompt`, collect up to "
            "`max_digits` keys and post them with the `question` the prompt named. Repeat until `action` is "
            "`end`. Out-of-range digits (or none) repeat the question once, then the survey moves on. At most "
            "three questions, satisfaction first. 404 when no survey waits for the call (carry on as usual), "
            "409 for digits answering a question not being asked (a replay or a retry: nothing changes), 410 "
            "when the invitation has closed."
        ),
    )
    async def next_prompt(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession], call_id: FromPath[str]
    ) -> IvrPrompt:
        body = await request.body()
        platform = verify_request(
            service(request, Settings).ivr_secrets, request.headers, "POST", request.url.path, body, utcnow()
        )
        try:
            payload = decode_strictly(body, IvrRequest) if body.strip() else IvrRequest()
        except InvalidBody as exc:
            raise InvalidIvrRequest(str(exc)) from None
        return await service(request, IvrSurveys).step(db_session, platform, call_id, payload)


ROUTES = [IvrController]
