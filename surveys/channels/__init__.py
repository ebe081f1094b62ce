"""Channels: one protocol, one module per way of reaching a customer (email over SMTP, GOV.UK Notify email and
SMS; IVR, chat, kiosk and paper to come).

A channel sends an `OutgoingInvitation` and answers with a `Delivery`. A channel whose provider calls back
turns the provider's payloads into `StatusReport` (delivery receipts) and `InboundReply` (a person's reply) with
`status_callback` and `parse_inbound`; what those mean for an invitation is decided once, by the surveys
feature (`surveys.receipts`, `surveys.replies`), not by each channel.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol


@dataclass(frozen=True)
class InlineQuestion:
    """A question a channel may ask in the message itself (an SMS asking for a reply 1 to 5)."""

    key: str
    text: str
    # (value, label) for every point of the scale, lowest first.
    scale: tuple[tuple[int, str], ...]


@dataclass(frozen=True)
class OutgoingInvitation:
    """Everything a channel needs to send one invitation; built at send time and never stored."""

    invitation_id: uuid.UUID
    recipient: str
    survey_url: str
    unsubscribe_url: str
    council_name: str
    service_name: str
    expires_on: str
    reminder: bool = False
    # A short link (/r/CODE) to the same survey, for text messages and print.
    short_url: str = ""
    # The survey's CSAT question, for a channel that asks it in the message and takes the answer by reply.
    question: InlineQuestion | None = None


@dataclass(frozen=True)
class Delivery:
    """What the channel's provider said: its reference for the message (a Message-ID for email)."""

    reference: str
    # The message asked `OutgoingInvitation.question` itself: the person's reply answers it.
    awaits_reply: bool = False


class DeliveryStatus(StrEnum):
    """What a provider's receipt says about one message (GOV.UK Notify's four final statuses)."""

    delivered = "delivered"
    permanent_failure = "permanent-failure"
    temporary_failure = "temporary-failure"
    technical_failure = "technical-failure"
    # Handed to an international network that sends no receipt: nothing more will be known.
    sent = "sent"


@dataclass(frozen=True)
class StatusReport:
    """A delivery receipt: the reference the message was sent with (the invitation id) and what happened."""

    reference: str
    status: DeliveryStatus
    at: datetime | None = None


@dataclass(frozen=True)
class InboundReply:
    """A message a person sent back: who from (normalised, E.164 for a phone) and what it said. Never stored."""

    sender: str
    text: str
    received_at: datetime | None = None


class ChannelError(Exception):
    """The provider refused or could not be reached; the send is retried with back-off, unless ``permanent``
    (the provider said the message can never be sent as it is: a malformed number, a missing template)."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class InvalidPayload(ValueError):
    """A provider's callback payload is not what its documentation says (answered 400, nothing changed)."""


class Channel(Protocol):
    name: str

    def reference_for(self, message: OutgoingInvitation) -> str:
        """The provider reference, derived from the invitation id, so a resend is recognisably the same."""
        ...

    async def send(self, message: OutgoingInvitation) -> Delivery: ...

    def parse_inbound(self, payload: Mapping[str, Any]) -> InboundReply:
        """A provider's inbound-message payload as a reply; InvalidPayload if it is malformed."""
        ...

    def status_callback(self, payload: Mapping[str, Any]) -> StatusReport:
        """A provider's delivery-receipt payload as a report; InvalidPayload if it is malformed."""
        ...


class Channels(dict[str, Channel]):
    """The channels this deployment can send on, by name (a service: tests and deployments supply their own)."""
