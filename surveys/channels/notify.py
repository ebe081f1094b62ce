"""GOV.UK Notify email and SMS invitations through Notify's own client (notifications-python-client).

The client is synchronous (requests): every call runs on this module's own small thread pool, never on the event
loop, each thread with its own client (a requests session is not shared between threads). Every call first takes
a slot from the one rate limiter all workers share (Notify allows 3,000 messages a minute per service).

The provider reference sent with each message is the invitation id, never personal data; Notify's delivery
receipts carry it back. The personalisation fields the templates may use are listed in `SMS_FIELDS` and
`EMAIL_FIELDS` (and in the README).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any, Final, TypeVar

from civicvoice.core.jobs import RetryLater
from civicvoice.core.ratelimit import RateLimited, RateLimiter, acquire
from civicvoice.core.settings import Settings
from privacy.blind_index import normalise_phone
from privacy.exceptions import InvalidIdentifier
from surveys.channels import (
    Channel,
    ChannelError,
    Delivery,
    DeliveryStatus,
    InboundReply,
    InvalidPayload,
    OutgoingInvitation,
    StatusReport,
)

T = TypeVar("T")

# The one limit every Notify call of this deployment shares, whichever worker or machine makes it.
NOTIFY_LIMIT: Final = "notify"
# A send waits at most this long for a slot; beyond it the job is put back (RetryLater) and the worker moves on.
MAX_WAIT_SECONDS: Final = 5.0

SMS_FIELDS: Final = (
    "council_name",
    "service_name",
    "survey_link",
    "expires_on",
    "reminder",
    "question",
    "reply_options",
    "body",
)
EMAIL_FIELDS: Final = (
    "council_name",
    "service_name",
    "survey_link",
    "unsubscribe_link",
    "expires_on",
    "reminder",
    "subject",
    "body",
)

# A request Notify calls malformed (no such template, not a valid number) can never succeed as it is. A refused
# key (403) or the rate limit (429) are retried with back-off: a corrected key or a free minute helps.
_PERMANENT_STATUSES = frozenset({400})


class NotifyClients:
    """One `NotificationsAPIClient` per worker thread, on a pool of this channel's own."""

    def __init__(self, api_key: str, base_url: str, *, threads: int = 8, timeout: float = 15.0) -> None:
        self.api_key = api_key
        self.base_url = base_url
        self.timeout = timeout
        self._local = threading.local()
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="notify")

    def _client(self) -> Any:
        client = getattr(self._local, "client", None)
        if client is None:
            from notifications_python_client.notifications import NotificationsAPIClient

            client = NotificationsAPIClient(  # type: ignore[no-untyped-call]
                self.api_key, base_url=self.base_url, timeout=self.timeout
            )
            self._local.client = client
        return client

    async def call(self, method: str, **kwargs: Any) -> Any:
        def run() -> Any:
            return getattr(self._client(), method)(**kwargs)

        return await asyncio.get_running_loop().run_in_executor(self._pool, run)

    async def aclose(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


async def _notify_call(clients: NotifyClients, limiter: RateLimiter, method: str, **kwargs: Any) -> Any:
    """One call to Notify, within the shared rate limit; Notify's refusals become ChannelError."""
    from notifications_python_client.errors import APIError

    try:
        await acquire(limiter, NOTIFY_LIMIT, max_wait=MAX_WAIT_SECONDS)
    except RateLimited as busy:
        raise RetryLater(_seconds(busy.retry_after)) from None
    try:
        return await clients.call(method, **kwargs)
    except APIError as exc:
        # The status and Notify's error class only: Notify's messages can quote what was sent.
        kinds = _error_kinds(exc)
        raise ChannelError(
            f"GOV.UK Notify answered {exc.status_code}{': ' + kinds if kinds else ''}",
            permanent=exc.status_code in _PERMANENT_STATUSES,
        ) from None
    except OSError as exc:
        raise ChannelError(f"GOV.UK Notify could not be reached ({type(exc).__name__})") from None


def _seconds(value: float) -> timedelta:
    return timedelta(seconds=max(0.05, value))


def _error_kinds(exc: Any) -> str:
    try:
        errors = exc.response.json().get("errors") or []
        return ", ".join(sorted({str(e.get("error", ""))[:40] for e in errors if isinstance(e, dict)}))
    except Exception:  # a body that is not Notify's JSON
        return ""


class _NotifyChannel:
    """What Notify's email and SMS channels share: the reference, receipts and inbound parsing."""

    name: str

    def __init__(self, settings: Settings, clients: NotifyClients, limiter: RateLimiter) -> None:
        self.settings = settings
        self.clients = clients
        self.limiter = limiter

    def reference_for(self, message: OutgoingInvitation) -> str:
        # The invitation id, and nothing else: Notify shows references to anyone on the service's team.
        return str(message.invitation_id)

    def status_callback(self, payload: Mapping[str, Any]) -> StatusReport:
        return read_receipt(payload)

    def parse_inbound(self, payload: Mapping[str, Any]) -> InboundReply:
        return read_inbound_sms(payload)

    async def _send(self, method: str, message: OutgoingInvitation, **kwargs: Any) -> dict[str, Any]:
        answer = await _notify_call(self.clients, self.limiter, method, reference=self.reference_for(message), **kwargs)
        if not isinstance(answer, dict) or not answer.get("id"):
            raise ChannelError("GOV.UK Notify's answer carried no notification id")
        return answer


class NotifySmsChannel(_NotifyChannel):
    name = "sms"

    def __init__(self, settings: Settings, clients: NotifyClients, limiter: RateLimiter) -> None:
        super().__init__(settings, clients, limiter)
        assert settings.notify_sms_template_id
        self.template_id = settings.notify_sms_template_id
        self.asks_question = settings.notify_sms_mode == "question"

    def personalisation(self, message: OutgoingInvitation) -> dict[str, str]:
        link = message.short_url or message.survey_url
        question = message.question if self.asks_question else None
        asked, options = "", ""
        if question is not None:
            low, high = min(question.scale), max(question.scale)
            asked = question.text
            options = f"Reply {low[0]} ({low[1].lower()}) to {high[0]} ({high[1].lower()}), or STOP to opt out."
            body = f"{message.council_name}: {asked} {options} Or answer online: {link}"
        else:
            # One text (160 characters) for a usual council and service name: no expiry date, a short link.
            body = f"{message.council_name}: how did we do with {message.service_name}? Please tell us: {link} "
            body += "Reply STOP to opt out."
        if message.reminder:
            body = f"Reminder - {body}"
        return {
            "council_name": message.council_name,
            "service_name": message.service_name,
            "survey_link": link,
            "expires_on": message.expires_on,
            "reminder": "yes" if message.reminder else "no",
            "question": asked,
            "reply_options": options,
            "body": body,
        }

    async def send(self, message: OutgoingInvitation) -> Delivery:
        await self._send(
            "send_sms_notification",
            message,
            phone_number=message.recipient,
            template_id=self.template_id,
            personalisation=self.personalisation(message),
        )
        return Delivery(
            reference=self.reference_for(message), awaits_reply=self.asks_question and message.question is not None
        )


class NotifyEmailChannel(_NotifyChannel):
    name = "email"

    def __init__(self, settings: Settings, clients: NotifyClients, limiter: RateLimiter) -> None:
        super().__init__(settings, clients, limiter)
        assert settings.notify_email_template_id
        self.template_id = settings.notify_email_template_id

    def personalisation(self, message: OutgoingInvitation) -> dict[str, str]:
        subject = f"How did we do? Your recent contact with {message.council_name}"
        body = (
            f"You recently contacted {message.council_name} about {message.service_name}. "
            f"Please tell us how we did; it takes about a minute:\n\n{message.survey_url}\n\n"
            f"The survey is open until {message.expires_on}.\n\n"
            f"To stop receiving these surveys: {message.unsubscribe_url}"
        )
        return {
            "council_name": message.council_name,
            "service_name": message.service_name,
            "survey_link": message.survey_url,
            "unsubscribe_link": message.unsubscribe_url,
            "expires_on": message.expires_on,
            "reminder": "yes" if message.reminder else "no",
            "subject": f"Reminder: {subject}" if message.reminder else subject,
            "body": body,
        }

    async def send(self, message: OutgoingInvitation) -> Delivery:
        await self._send(
            "send_email_notification",
            message,
            email_address=message.recipient,
            template_id=self.template_id,
            personalisation=self.personalisation(message),
            one_click_unsubscribe_url=message.unsubscribe_url,
        )
        return Delivery(reference=self.reference_for(message))


# --- Notify's callbacks, as documented (docs.notifications.service.gov.uk, "Callbacks") ---------------------


def _text(payload: Mapping[str, Any], key: str, *, required: bool = True, limit: int = 1000) -> str | None:
    value = payload.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or (required and not value) or len(value) > limit:
        raise InvalidPayload(f"{key} must be a string of at most {limit} characters")
    return value


def _moment(payload: Mapping[str, Any], key: str) -> datetime | None:
    raw = _text(payload, key, required=False, limit=64)
    if raw is None:
        return None
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidPayload(f"{key} must be an ISO 8601 time") from None
    if moment.tzinfo is None:
        raise InvalidPayload(f"{key} must carry its time zone")
    return moment


def _object(payload: object) -> Mapping[str, Any]:
    if not isinstance(payload, Mapping):
        raise InvalidPayload("the callback body must be a JSON object")
    return payload


def read_receipt(payload: object) -> StatusReport:
    """A delivery receipt: ``id``, ``reference`` (ours; null for messages sent from Notify's own pages),
    ``status`` and times. ``to`` holds the address or number and is never read."""
    body = _object(payload)
    _text(body, "id", limit=64)
    reference = _text(body, "reference", required=False, limit=200) or ""
    status = _text(body, "status", limit=40) or ""
    try:
        known = DeliveryStatus(status)
    except ValueError:
        raise InvalidPayload(f"status must be one of {', '.join(DeliveryStatus)}") from None
    return StatusReport(reference=reference, status=known, at=_moment(body, "completed_at"))


def read_inbound_sms(payload: object) -> InboundReply:
    """A received text message: ``id``, ``source_number`` (447700900123), ``destination_number``, ``message``,
    ``date_received``."""
    body = _object(payload)
    _text(body, "id", limit=64)
    source = _text(body, "source_number", limit=32)
    message = _text(body, "message", required=False, limit=2000) or ""
    assert source is not None
    raw = source.strip()
    if raw.isdigit() and not raw.startswith("0"):
        raw = "+" + raw  # Notify sends numbers in international form without the plus
    try:
        sender = normalise_phone(raw)
    except InvalidIdentifier:
        raise InvalidPayload("source_number is not a phone number") from None
    return InboundReply(sender=sender, text=message, received_at=_moment(body, "date_received"))


def notify_channels(
    settings: Settings, limiter: RateLimiter, clients_factory: Callable[[str, str], NotifyClients] | None = None
) -> dict[str, Channel]:
    """The Notify channels the settings configure (none without an API key): sms and/or email."""
    if not settings.notify_api_key:
        return {}
    factory = clients_factory or (lambda key, url: NotifyClients(key, url))
    clients = factory(settings.notify_api_key, settings.notify_base_url)
    channels: dict[str, Channel] = {}
    if settings.notify_sms_template_id:
        channels["sms"] = NotifySmsChannel(settings, clients, limiter)
    if settings.notify_email_template_id:
        channels["email"] = NotifyEmailChannel(settings, clients, limiter)
    return channels
