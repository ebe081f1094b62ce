"""GOV.UK Notify's callbacks: delivery receipts and received text messages.

Notify sends each with the bearer token set on its API integration page (CIVICVOICE_NOTIFY_CALLBACK_TOKEN); the
single authorisation guard refuses anything else (401 without a token, 403 with a wrong one) before a handler
runs, so a refused request changes nothing. A body that is not what Notify documents is refused with a 400
problem and changes nothing either.
"""

from __future__ import annotations

import json
from typing import Any

import msgspec
from litestar import Controller, Request, post
from litestar.di import NamedDependency
from litestar.status_codes import HTTP_200_OK
from sqlalchemy.ext.asyncio import AsyncSession

from civicvoice.core.auth import PROVIDER_TOKEN_SECURITY, Access, WebhookCheck, bearer_matches
from civicvoice.core.errors import CivicVoiceError
from civicvoice.core.http import problem_responses, service
from civicvoice.core.settings import Settings
from privacy.vault import Vault
from surveys.channels import Channels, InvalidPayload
from surveys.channels.notify import read_inbound_sms, read_receipt
from surveys.receipts import apply_receipt
from surveys.replies import handle_reply
from surveys.responses import ResponseRecorder

NOTIFY_WEBHOOK = "notify"


class MalformedCallback(CivicVoiceError):
    status = 400
    slug = "malformed-callback"
    title = "Malformed callback"


class CallbackReceived(msgspec.Struct):
    """What civicvoice made of the callback (Notify only looks at the status code)."""

    outcome: str


async def check_notify_token(connection: Any) -> None:
    settings: Settings = connection.app.state.services.get(Settings)
    bearer_matches(connection, settings.notify_callback_token, provider="GOV.UK Notify")


NOTIFY_CHECK = WebhookCheck(NOTIFY_WEBHOOK, check_notify_token)


async def _payload(request: Request[Any, Any, Any]) -> Any:
    try:
        return json.loads(await request.body())
    except (ValueError, UnicodeDecodeError):
        raise MalformedCallback("The body must be JSON, as GOV.UK Notify sends it.") from None


class NotifyCallbacks(Controller):
    path = "/api/v1/notify"
    tags = ["GOV.UK Notify callbacks"]  # noqa: RUF012 - Litestar's own attribute
    security = PROVIDER_TOKEN_SECURITY
    opt = Access.webhook(NOTIFY_WEBHOOK).opt()

    @post(
        "/delivery-receipts",
        status_code=HTTP_200_OK,
        responses=problem_responses(400, 401, 403, 413),
        summary="GOV.UK Notify delivery receipt",
        description=(
            "Notify's delivery-status callback (`id`, `reference`, `to`, `status`, `created_at`, `completed_at`, "
            "`sent_at`, `notification_type`). The reference is the invitation id: `delivered`, "
            "`permanent-failure`, `temporary-failure` and `technical-failure` move the invitation to that state; "
            "a temporary or technical failure is sent again while the invitation is open, a permanent one never. "
            "`to` is never read or stored. Unknown references change nothing."
        ),
    )
    async def delivery_receipt(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]
    ) -> CallbackReceived:
        payload = await _payload(request)
        try:
            report = read_receipt(payload)
            kind = payload.get("notification_type")
            if kind not in ("sms", "email"):
                raise InvalidPayload("notification_type must be sms or email")
        except InvalidPayload as exc:
            raise MalformedCallback(str(exc), field=None) from None
        if kind not in service(request, Channels):
            return CallbackReceived(outcome="unknown")
        outcome = await apply_receipt(db_session, report, channel=kind)
        return CallbackReceived(outcome=outcome.value)

    @post(
        "/inbound-sms",
        status_code=HTTP_200_OK,
        responses=problem_responses(400, 401, 403, 413),
        summary="GOV.UK Notify received text message",
        description=(
            "Notify's received-text-message callback (`id`, `source_number`, `destination_number`, `message`, "
            '`date_received`). A reply 1 to 5 ("4", "4 thanks") answers the question the SMS asked; STOP opts '
            "the person out on every channel. A reply from a number civicvoice does not hold, or to a question that "
            "has expired or was answered, is stored nowhere and not answered. The message text is never stored."
        ),
    )
    async def inbound_sms(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]
    ) -> CallbackReceived:
        payload = await _payload(request)
        try:
            reply = read_inbound_sms(payload)
        except InvalidPayload as exc:
            raise MalformedCallback(str(exc)) from None
        if "sms" not in service(request, Channels):
            return CallbackReceived(outcome="ignored")
        result = await handle_reply(
            db_session, service(request, Vault), service(request, ResponseRecorder), reply, channel="sms"
        )
        return CallbackReceived(outcome=result.outcome.value)
