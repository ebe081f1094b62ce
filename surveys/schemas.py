"""API schemas for contact events and invitation decisions (msgspec structs, validated at the edge).

The schema says what the API enforces: request bodies are decoded strictly (`decode_strictly`: no 0 for a
boolean, no "12" for a number), and every pattern here is written in the part of regular-expression syntax that
Python and JSON Schema read alike (ASCII classes, no \\s, \\d, \\w or "."), so a value the published schema
refuses is refused here too. What a pattern cannot say is checked after decoding and answered with a documented
422: a phone number that no numbering plan has, a service slug the council does not run (the services a key may
name are listed by GET /api/v1/services).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from privacy.postal import LINE_MAX_LENGTH, MAX_LINES
from privacy.schemas import EMAIL_PATTERN, END, PHONE_PATTERN, TRIMMED_TEXT, InvalidBody, decode_strictly
from surveys.rules import ContactChannel, ContactPreference

Source = Annotated[
    str,
    Meta(
        min_length=1,
        max_length=64,
        pattern=rf"^[A-Za-z0-9][A-Za-z0-9_.\-]*{END}",
        description="The contact system reporting (e.g. crm); the API key must be bound to it.",
    ),
]
Slug = Annotated[
    str,
    Meta(
        min_length=1,
        max_length=64,
        pattern=rf"^[a-z0-9][a-z0-9\-]*{END}",
        description="A service slug from GET /api/v1/services; an unknown or inactive one is a 422.",
    ),
]
ExternalId = Annotated[str, Meta(min_length=1, max_length=200, pattern=TRIMMED_TEXT)]
Email = Annotated[
    str,
    Meta(
        min_length=3,
        max_length=254,
        pattern=EMAIL_PATTERN,
        extra_json_schema={"extra": {"format": "email"}},
        description="The customer's email address, e.g. jo.bloggs@example.org.uk.",
    ),
]
# Digits with the usual separators, optionally after '+'; a number no numbering plan has is a 422.
Phone = Annotated[
    str,
    Meta(
        min_length=3,
        max_length=32,
        pattern=PHONE_PATTERN,
        description="A UK number (07911 123456) or any number in international form (+33 1 23 45 67 89).",
    ),
]
# `minimum: 0` repeated for the schema: Litestar leaves a zero bound out of it.
Seconds = Annotated[int, Meta(ge=0, le=7 * 24 * 3600, extra_json_schema={"extra": {"minimum": 0}})]


AddressLine = Annotated[str, Meta(min_length=1, max_length=LINE_MAX_LENGTH, pattern=TRIMMED_TEXT)]
Postcode = Annotated[
    str,
    Meta(
        min_length=5,
        max_length=10,
        pattern=rf"^[A-Za-z0-9 ]+{END}",
        description="A UK postcode (TC1 2AB); one no postcode has the shape of is a 422.",
    ),
]


class PostalAddress(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Where a paper survey may be posted: the lines above the postcode (house and street first), and the postcode.
    Stored encrypted with the person's identity; it never identifies them (only source_id, email and phone do)."""

    lines: Annotated[list[AddressLine], Meta(min_length=1, max_length=MAX_LINES)]
    postcode: Postcode


class Customer(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Who the contact was with, as far as the contact system knows. Every field is optional."""

    source_id: Annotated[str, Meta(min_length=1, max_length=200, pattern=TRIMMED_TEXT)] | None = None
    email: Email | None = None
    phone: Phone | None = None
    name: Annotated[str, Meta(min_length=1, max_length=200)] | None = None
    postal_address: PostalAddress | None = None
    contact_preference: ContactPreference | None = None
    # The language the customer asked to be written to in: "cy" (Welsh) or "en" (English). A paper survey is
    # printed in it when the survey version has Welsh text; unknown, English.
    preferred_language: (
        Annotated[
            Literal["en", "cy"],
            Meta(description="The language to write to the customer in: en (English) or cy (Welsh)."),
        ]
        | None
    ) = None
    opted_out: bool = False
    do_not_survey: bool = False


class ContactEvent(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """One finished contact, reported by a contact system (CRM, telephony, web chat)."""

    source: Source
    external_id: ExternalId
    channel: ContactChannel
    service: Slug
    occurred_at: Annotated[datetime, Meta(tz=True)]
    agent_id: Annotated[str, Meta(min_length=1, max_length=100, pattern=TRIMMED_TEXT)] | None = None
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
    # Invited on the `web_link` channel: the survey link to show the customer now (surveys.web_links).
    survey_url: str | None = None


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
    survey_url: str | None = None
    error: EventProblem | None = None


class ServiceOut(msgspec.Struct):
    slug: str
    name: str
    # Contacts about an excluded service (safeguarding, bereavement, ...) are stored but never surveyed.
    survey_excluded: bool


class ServiceList(msgspec.Struct):
    services: list[ServiceOut]


class BatchResult(msgspec.Struct):
    accepted: int
    duplicates: int
    rejected: int
    results: list[BatchItem]


__all__ = ["EMAIL_PATTERN", "PHONE_PATTERN", "InvalidBody", "decode_strictly"]
