"""Channels: one protocol, one module per way of reaching a customer (email now; SMS, IVR, chat, kiosk, paper)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, Protocol


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


@dataclass(frozen=True)
class Delivery:
    """What the channel's provider said: its reference for the message (a Message-ID for email)."""

    reference: str


class ChannelError(Exception):
    """The provider refused or could not be reached; the send is retried with back-off."""


class Channel(Protocol):
    name: str

    def reference_for(self, message: OutgoingInvitation) -> str:
        """The provider reference, derived from the invitation id, so a resend is recognisably the same."""
        ...

    async def send(self, message: OutgoingInvitation) -> Delivery: ...

    async def parse_inbound(self, payload: Any) -> Any: ...

    async def status_callback(self, payload: Any) -> Any: ...


class Channels(dict[str, Channel]):
    """The channels this deployment can send on, by name (a service: tests and deployments supply their own)."""
