"""API schemas for contact events and invitation decisions (msgspec structs, validated at the edge)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from surveys.rules import ContactChannel, ContactPreference

Source = Annotated[str, Meta(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")]
Slug = Annotated[str, Meta(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9\-]*$")]
ExternalId = Annotated[str, Meta(min_length=1, max_length=200, pattern=r"^\S(.*\S)?$")]
Seconds = Annotated[int, Meta(ge=0, le=7 * 24 * 3600)]


class Customer(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Who the contact was with, as far as the contact system knows. Every field is optional."""

    source_id: Annotated[str, Meta(min_length=1, max_length=200, pattern=r"^\S(.*\S)?$")] | None = None
    email: Annotated[str, Meta(min_length=3, max_length=254)] | None = None
    phone: Annotated[str, Meta(min_length=3, max_length=32)] | None = None
    name: Annotated[str, Meta(min_length=1, max_length=200)] | None = None
    contact_preference: ContactPreference | None = None
    opted_out: bool = False
    do_not_survey: bool = False


class ContactEvent(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """One finished contact, reported by a contact system (CRM, telephony, web chat)."""

    source: Source
    external_id: ExternalId
    channel: ContactChannel
    service: Slug
    occurred_at: Annotated[datetime, Meta(tz=True)]
    agent_id: Annotated[str, Meta(min_length=1, max_length=100)] | None = None
    wait_seconds: Seconds | None = None
    handling_seconds: Seconds | None = None
    transferred: bool = False
    resolved_first_contact: bool | None = None
    customer: Customer | None = None


class ContactBatch(msgspec.Struct, forbid_unknown_fields=True):
    events: Annotated[list[ContactEvent], Meta(min_length=1, max_length=1000)]


class DecisionOut(msgspec.Struct):
    invite: bool
    reason: str
    detail: str
    rules_version: str
    channel: str | None = None
    due_at: datetime | None = None
    expires_at: datetime | None = None


class ContactAccepted(msgspec.Struct):
    contact_id: uuid.UUID
    duplicate: bool
    decision: DecisionOut
    invitation_id: uuid.UUID | None = None


class EventProblem(msgspec.Struct):
    title: str
    status: int
    detail: str
    field: str | None = None


class BatchItem(msgspec.Struct):
    index: int
    status: Literal["accepted", "duplicate", "rejected"]
    contact_id: uuid.UUID | None = None
    decision: DecisionOut | None = None
    invitation_id: uuid.UUID | None = None
    error: EventProblem | None = None


class BatchResult(msgspec.Struct):
    accepted: int
    duplicates: int
    rejected: int
    results: list[BatchItem]
