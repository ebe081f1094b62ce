"""Survey tables: services, versioned survey definitions, contacts, invitation decisions and invitations."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from advanced_alchemy.types import GUID, DateTimeUTC, JsonB
from sqlalchemy import Float, ForeignKey, Index, LargeBinary, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from civicvoice.core.clock import utcnow
from civicvoice.core.datamap import DataMapEntry, Link, RetentionRule
from civicvoice.core.db import Base


def retention_due_index(name: str, column: str) -> Index:
    """Rows that still name a person, by the time their retention period counts from: retention reads those past
    their period oldest first (`privacy.retention`), and a row it has anonymised leaves the index, so each batch
    reads only rows it changes instead of passing over every row anonymised before it."""
    linked = "subject_id IS NOT NULL"
    return Index(name, column, postgresql_where=text(linked), sqlite_where=text(linked))


class ServiceGroup(Base):
    __tablename__ = "service_group"
    __datamap__ = DataMapEntry.no_personal_data("Groups of council services for reporting")

    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    position: Mapped[int] = mapped_column(default=0)


class Service(Base):
    __tablename__ = "service"
    __datamap__ = DataMapEntry.no_personal_data("Council services that contacts are about")

    group_id: Mapped[uuid.UUID] = mapped_column(GUID, ForeignKey("service_group.id"))
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    # Sensitive services (safeguarding, bereavement, domestic abuse) are never surveyed.
    survey_excluded: Mapped[bool] = mapped_column(default=False)
    exclusion_reason: Mapped[str | None] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(default=True)

    group: Mapped[ServiceGroup] = relationship(lazy="joined")


class Survey(Base):
    __tablename__ = "survey"
    __datamap__ = DataMapEntry.no_personal_data("Survey definitions")

    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    # The survey sent after a contact unless a later rule picks another.
    is_post_contact_default: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True), default=utcnow)
    # A `surveys.definitions.SurveyKind`; every version's definition has the same kind.
    kind: Mapped[str] = mapped_column(String(20), default="post_contact")
    # The `surveys.rules.InvitationChannel` values this survey may be asked on; each is checked against a
    # version when it is published (`surveys.builder.channel_problems`).
    channels: Mapped[list[str]] = mapped_column(JsonB, default=list)
    # A campaign's period and the responses it aims for (its progress counts the responses to its versions).
    campaign_starts_on: Mapped[date | None]
    campaign_ends_on: Mapped[date | None]
    target_responses: Mapped[int | None]


class VersionStatus(StrEnum):
    draft = "draft"  # being edited; never sent
    published = "published"  # immutable: invitations and answers reference it
    retired = "retired"  # no longer sent; still read for the answers it has


class SurveyVersion(Base):
    """A version of a survey. Once published it is immutable: answers reference the version answered."""

    __tablename__ = "survey_version"
    __datamap__ = DataMapEntry.no_personal_data("Versioned survey content")
    __table_args__ = (UniqueConstraint("survey_id", "number", name="uq_survey_version_number"),)

    survey_id: Mapped[uuid.UUID] = mapped_column(GUID, ForeignKey("survey.id"))
    number: Mapped[int]
    status: Mapped[str] = mapped_column(String(16), default=VersionStatus.draft)
    # The JSON form of a `surveys.definitions.SurveyDefinition`, checked when the version is published.
    definition: Mapped[dict[str, Any]] = mapped_column(JsonB)
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True), default=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True))


class InvitationPolicyRecord(Base):
    """The council's invitation rules, as data an administrator can change (see surveys.rules)."""

    __tablename__ = "invitation_policy"
    __datamap__ = DataMapEntry.no_personal_data("Invitation rule settings")

    name: Mapped[str] = mapped_column(String(40), unique=True, default="default")
    settings: Mapped[dict[str, Any]] = mapped_column(JsonB)
    updated_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True), default=utcnow)


class Contact(Base):
    """One contact between the council and a customer, as reported by a contact system."""

    __tablename__ = "contact"
    __datamap__ = DataMapEntry(
        purpose="Measure service quality per contact and decide survey invitations",
        holds=("link to customer", "agent reference", "contact times and outcome", "preferred language"),
        category="contact metadata",
        lawful_basis="public_task",
        retention="2 years",
        subject_link="subject_id",
        # The agent who handled it is a data subject too: their contacts are found from their account.
        links=(Link("agent_ref", "staff_user", to="agent_ref"),),
        coarsen_on_erasure=("occurred_at", "received_at"),
        scramble_on_erasure=("ref_digest",),
        retention_rule=RetentionRule("contacts", "occurred_at", "anonymise"),
    )
    __table_args__ = (
        # Idempotency: the same (source, external id) reported twice is one contact. Kept as a keyed hash, which
        # leads, as in privacy's blind indexes.
        UniqueConstraint("ref_digest", "ref_key_version", name="uq_contact_ref"),
        Index("ix_contact_subject", "subject_id"),
        Index("ix_contact_service_occurred", "service_id", "occurred_at"),
        Index("ix_contact_agent_occurred", "agent_ref", "occurred_at"),
        retention_due_index("ix_contact_retention_due", "occurred_at"),
        # The contacts whose repeat-contact window the scorecard has still to close, oldest first.
        Index(
            "ix_contact_repeat_open",
            "occurred_at",
            postgresql_where=text("repeat_contact IS NULL"),
            sqlite_where=text("repeat_contact IS NULL"),
        ),
    )

    source: Mapped[str] = mapped_column(String(64))
    ref_key_version: Mapped[int]
    ref_digest: Mapped[bytes] = mapped_column(LargeBinary(32))
    subject_id: Mapped[uuid.UUID | None] = mapped_column(GUID, ForeignKey("data_subject.id", ondelete="SET NULL"))
    service_id: Mapped[uuid.UUID] = mapped_column(GUID, ForeignKey("service.id"))
    channel: Mapped[str] = mapped_column(String(20))
    occurred_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    received_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True), default=utcnow)
    agent_ref: Mapped[str | None] = mapped_column(String(100))
    wait_seconds: Mapped[int | None]
    handling_seconds: Mapped[int | None]
    transferred: Mapped[bool] = mapped_column(default=False)
    resolved_first_contact: Mapped[bool | None]
    contact_preference: Mapped[str | None] = mapped_column(String(10))
    # The language the customer asked to be written to in ("en", "cy"), as the contact system reported it.
    preferred_language: Mapped[str | None] = mapped_column(String(3))
    do_not_survey: Mapped[bool] = mapped_column(default=False)
    # Whether the same person contacted again within the repeat window (first contact resolution), stored once
    # the window has closed so that a later erasure or retention run does not change a past month's figure.
    repeat_contact: Mapped[bool | None]


class InvitationDecision(Base):
    """Why a contact was or was not invited: one per contact, with the rules version that decided."""

    __tablename__ = "invitation_decision"
    __datamap__ = DataMapEntry(
        purpose="Show how survey invitations were decided (coverage, fairness, objections honoured)",
        holds=("link to customer",),
        category="contact metadata",
        lawful_basis="public_task",
        retention="2 years",
        subject_link="subject_id",
        retention_rule=RetentionRule("contacts", "decided_at", "anonymise"),
    )
    __table_args__ = (
        Index("ix_invitation_decision_reason", "reason", "decided_at"),
        # Finding, erasing and expiring a person reads their rows by this link (the data map follows it).
        Index("ix_invitation_decision_subject", "subject_id"),
        retention_due_index("ix_invitation_decision_retention_due", "decided_at"),
    )

    contact_id: Mapped[uuid.UUID] = mapped_column(GUID, ForeignKey("contact.id", ondelete="CASCADE"), unique=True)
    subject_id: Mapped[uuid.UUID | None] = mapped_column(GUID, ForeignKey("data_subject.id", ondelete="SET NULL"))
    invite: Mapped[bool]
    reason: Mapped[str] = mapped_column(String(40))
    detail: Mapped[str] = mapped_column(String(300))
    rules_version: Mapped[str] = mapped_column(String(20))
    decided_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True), default=utcnow)


class InvitationState(StrEnum):
    """Where an invitation is in its life. Stored as its value; channels move it on through their callbacks."""

    queued = "queued"  # decided, waiting for its due time
    sending = "sending"  # committed before the provider is called; a live job lease owns it
    sent = "sent"  # the provider accepted it
    delivered = "delivered"  # the provider's receipt says it reached the person
    failed = "failed"  # never accepted by the provider after every attempt; `failure` holds the reason
    # The provider's receipt says it did not arrive (GOV.UK Notify's statuses): a permanent failure (no such
    # number or address) is never retried; a temporary one (phone off, inbox full) or a technical one (the
    # provider's fault) is sent again while the invitation has time left.
    permanent_failure = "permanent_failure"
    temporary_failure = "temporary_failure"
    technical_failure = "technical_failure"
    expired = "expired"  # past `expires_at` unanswered, or never sent before it
    cancelled = "cancelled"  # stopped before sending: opt-out, erasure, restriction, suppression

    @property
    def closed(self) -> bool:
        """No survey can be answered through an invitation in this state."""
        return self in _CLOSED

    @property
    def undelivered(self) -> bool:
        """The provider's receipt says the message did not arrive."""
        return self in _UNDELIVERED


_UNDELIVERED = frozenset(
    {InvitationState.permanent_failure, InvitationState.temporary_failure, InvitationState.technical_failure}
)
_CLOSED = frozenset({InvitationState.failed, InvitationState.expired, InvitationState.cancelled, *_UNDELIVERED})


class Invitation(Base):
    """An invitation to answer a survey. It holds its own state and due time: queued -> sending -> sent | failed."""

    __tablename__ = "invitation"
    __datamap__ = DataMapEntry(
        purpose="Send and track survey invitations",
        holds=("link to customer", "delivery channel and times"),
        category="contact metadata",
        lawful_basis="public_task",
        retention="2 years",
        subject_link="subject_id",
        retention_rule=RetentionRule("contacts", "created_at", "anonymise"),
        scheduled_jobs=("invitations.expire",),
    )
    __table_args__ = (
        Index("ix_invitation_subject_due", "subject_id", "due_at"),
        Index("ix_invitation_state_due", "state", "due_at"),
        retention_due_index("ix_invitation_retention_due", "created_at"),
    )

    # The contact and decision that led to it; none for a campaign's invitation (`CampaignRecipient` leads to it).
    contact_id: Mapped[uuid.UUID | None] = mapped_column(
        GUID, ForeignKey("contact.id", ondelete="CASCADE"), unique=True
    )
    decision_id: Mapped[uuid.UUID | None] = mapped_column(
        GUID, ForeignKey("invitation_decision.id", ondelete="CASCADE")
    )
    subject_id: Mapped[uuid.UUID | None] = mapped_column(GUID, ForeignKey("data_subject.id", ondelete="SET NULL"))
    survey_version_id: Mapped[uuid.UUID] = mapped_column(GUID, ForeignKey("survey_version.id"))
    channel: Mapped[str] = mapped_column(String(20))
    state: Mapped[str] = mapped_column(String(24), default=InvitationState.queued)
    due_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    reminder_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True))
    reminders_sent: Mapped[int] = mapped_column(default=0)
    send_attempts: Mapped[int] = mapped_column(default=0)
    # Provider reference or Message-ID, derived from the invitation id so a resend is recognisably the same.
    message_ref: Mapped[str | None] = mapped_column(String(200))
    sent_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True))
    responded_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True))
    failure: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True), default=utcnow)
    # When `state` last changed (sending, sent, failed, expired, ...); every change is in `InvitationEvent`.
    state_changed_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True))
    # SHA-256 of the short link's code (/r/CODE, for SMS and print); the code itself is derived, never stored.
    short_digest: Mapped[bytes | None] = mapped_column(LargeBinary(32), unique=True)
    # The message asked the survey's question itself (an SMS in question mode): a reply answers it.
    answer_by_reply: Mapped[bool] = mapped_column(default=False)


class CampaignRecipient(Base):
    """A person on a campaign's list: who (by subject id only), the channel to ask on, and their invitation once
    the campaign has sent it. One row per person per campaign, so nobody is invited twice to the same campaign."""

    __tablename__ = "campaign_recipient"
    __datamap__ = DataMapEntry(
        purpose="Send a relationship survey to the people on a campaign's list and show its progress",
        holds=("link to customer", "organisation the person works for", "campaign invitation"),
        category="contact metadata",
        lawful_basis="public_task",
        retention="2 years",
        subject_link="subject_id",
        encrypted=("organisation_ciphertext",),
        links=(Link("invitation_id", "invitation"),),
        coarsen_on_erasure=("added_at",),
        retention_rule=RetentionRule("contacts", "added_at", "anonymise"),
    )
    __table_args__ = (
        UniqueConstraint("survey_id", "subject_id", name="uq_campaign_recipient_person"),
        Index("ix_campaign_recipient_subject", "subject_id"),
        Index("ix_campaign_recipient_survey_invited", "survey_id", "invited_at"),
    )

    survey_id: Mapped[uuid.UUID] = mapped_column(GUID, ForeignKey("survey.id", ondelete="CASCADE"))
    subject_id: Mapped[uuid.UUID | None] = mapped_column(GUID, ForeignKey("data_subject.id", ondelete="SET NULL"))
    channel: Mapped[str] = mapped_column(String(20))  # a `surveys.rules.InvitationChannel` value: email or sms
    # The organisation the admin gave, encrypted with the person's key (field "campaign_recipient.organisation").
    organisation_ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary)
    added_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True), default=utcnow)
    invitation_id: Mapped[uuid.UUID | None] = mapped_column(
        GUID, ForeignKey("invitation.id", ondelete="SET NULL"), unique=True
    )
    invited_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True))
    # Why the campaign did not invite them when it sent (opted out, suppressed, restricted, erased), or None.
    not_invited: Mapped[str | None] = mapped_column(String(40))


class InvitationEvent(Base):
    """One step of an invitation's timeline (sending, sent, delivered, a failure, a reply, expired), for staff.

    Holds no personal data: a state, when, and a detail that never carries an address, number or reply text.
    """

    __tablename__ = "invitation_event"
    __datamap__ = DataMapEntry(
        purpose="Show staff how each survey invitation was sent, delivered and answered",
        holds=("delivery timeline of an invitation",),
        category="contact metadata",
        lawful_basis="public_task",
        retention="2 years",
        links=(Link("invitation_id", "invitation"),),
    )
    __table_args__ = (Index("ix_invitation_event_invitation", "invitation_id", "at"),)

    invitation_id: Mapped[uuid.UUID] = mapped_column(GUID, ForeignKey("invitation.id", ondelete="CASCADE"))
    state: Mapped[str] = mapped_column(String(24))
    at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True), default=utcnow)
    detail: Mapped[str | None] = mapped_column(String(300))


class Response(Base):
    """One answered survey. Derived, non-identifying facts are in clear so reports never decrypt."""

    __tablename__ = "response"
    __datamap__ = DataMapEntry(
        purpose="Measure satisfaction and learn from comments",
        holds=("link to customer", "survey answers", "agent reference"),
        category="feedback",
        lawful_basis="public_task",
        retention="2 years",
        subject_link="subject_id",
        copies=(
            (
                "agent_ref",
                "contact.agent_ref copied for the inbox's agent filter; a staff member's search finds their contacts, "
                "and the customers' answers hanging off them are not the staff member's data",
            ),
        ),
        coarsen_on_erasure=("submitted_at",),
        retention_rule=RetentionRule("responses", "submitted_at", "anonymise"),
    )
    __table_args__ = (
        Index("ix_response_service_submitted", "service_id", "submitted_at"),
        # The staff inbox: newest first over every service, and by channel.
        Index("ix_response_submitted", "submitted_at", "id"),
        Index("ix_response_channel_submitted", "channel", "submitted_at"),
        Index("ix_response_contact", "contact_id"),
        # An agent's inbox: their contacts' responses, newest first, without reading the contacts.
        Index("ix_response_agent_submitted", "agent_ref", "submitted_at"),
        # Finding, erasing and expiring a person reads their rows by this link (the data map follows it).
        Index("ix_response_subject", "subject_id"),
        retention_due_index("ix_response_retention_due", "submitted_at"),
    )

    invitation_id: Mapped[uuid.UUID | None] = mapped_column(
        GUID, ForeignKey("invitation.id", ondelete="SET NULL"), unique=True
    )
    survey_version_id: Mapped[uuid.UUID] = mapped_column(GUID, ForeignKey("survey_version.id"))
    subject_id: Mapped[uuid.UUID | None] = mapped_column(GUID, ForeignKey("data_subject.id", ondelete="SET NULL"))
    service_id: Mapped[uuid.UUID | None] = mapped_column(GUID, ForeignKey("service.id"))
    contact_id: Mapped[uuid.UUID | None] = mapped_column(GUID, ForeignKey("contact.id", ondelete="SET NULL"))
    # The agent who handled the contact (the contact's own reference, copied so an agent's view needs no join).
    agent_ref: Mapped[str | None] = mapped_column(String(100))
    channel: Mapped[str] = mapped_column(String(20))
    anonymous: Mapped[bool] = mapped_column(default=False)
    submitted_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True), default=utcnow)
    satisfaction: Mapped[int | None]
    resolved: Mapped[str | None] = mapped_column(String(10))


class Answer(Base):
    """One answer to one question of the version answered. Free text only as ciphertext."""

    __tablename__ = "answer"
    __datamap__ = DataMapEntry(
        purpose="Survey answers, one row per question",
        holds=("free-text comment",),
        category="feedback",
        lawful_basis="public_task",
        retention="2 years",
        encrypted=("text_ciphertext",),
        links=(Link("response_id", "response"),),
        article9=(
            "Art. 9(2)(g) substantial public interest, DPA 2018 Sch. 1 para. 6 (statutory and government "
            "purposes): comments may mention health, disability or beliefs"
        ),
    )
    # One row per question, except a multiple-choice answer: one row per choice picked, numbered by `position`.
    __table_args__ = (UniqueConstraint("response_id", "question_key", "position", name="uq_answer_question_position"),)

    response_id: Mapped[uuid.UUID] = mapped_column(GUID, ForeignKey("response.id", ondelete="CASCADE"))
    question_key: Mapped[str] = mapped_column(String(40))
    number: Mapped[int | None]
    choice: Mapped[str | None] = mapped_column(String(40))
    text_ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary)
    text_length: Mapped[int | None]
    position: Mapped[int] = mapped_column(default=0)


class IvrCall(Base):
    """A post-call keypad survey in progress on one call: which questions are done and the digits pressed.

    Keyed by the invitation (one call answers one invitation). Holds no identifier: the call is found through the
    contact's keyed reference hash. Answers move to `Response` and `Answer` when the last question is done.
    """

    __tablename__ = "ivr_call"
    __datamap__ = DataMapEntry(
        purpose="Ask a post-call survey by keypad on the same call",
        holds=("keypad answers while the call lasts",),
        category="feedback",
        lawful_basis="public_task",
        retention="2 years, with its invitation",
        links=(Link("invitation_id", "invitation"),),
    )

    invitation_id: Mapped[uuid.UUID] = mapped_column(GUID, ForeignKey("invitation.id", ondelete="CASCADE"), unique=True)
    platform: Mapped[str] = mapped_column(String(64))
    # Question id -> the value pressed, or null when the caller gave no valid digits twice and the call moved on.
    outcomes: Mapped[dict[str, Any]] = mapped_column(JsonB, default=dict)
    current: Mapped[str | None] = mapped_column(String(40))  # the question the caller was last asked
    retries: Mapped[int] = mapped_column(default=0)  # invalid answers to `current` so far
    started_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True))
    response_id: Mapped[uuid.UUID | None] = mapped_column(GUID, ForeignKey("response.id", ondelete="SET NULL"))


class Kiosk(Base):
    """A tablet in a face-to-face centre that asks visitors the satisfaction question, registered to one centre and
    service by a device key an administrator issues and can revoke.

    Keys are stored only as SHA-256 digests: the enrolment key (in the link an administrator opens on the tablet,
    usable once and for a limited time) and the device key the enrolled tablet then carries in its cookie. Holds
    no personal data: the kiosk's answers are anonymous `Response` rows on the kiosk channel.
    """

    __tablename__ = "kiosk"
    __datamap__ = DataMapEntry.no_personal_data("Tablets asking for feedback in face-to-face centres")

    name: Mapped[str] = mapped_column(String(100))  # the centre, as staff know it
    service_id: Mapped[uuid.UUID] = mapped_column(GUID, ForeignKey("service.id"))
    # The survey it asks (published, allowing the kiosk channel when chosen); none: the post-contact survey.
    survey_id: Mapped[uuid.UUID | None] = mapped_column(GUID, ForeignKey("survey.id"))
    # The first characters of its keys, to name it in listings and to revoke it by.
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    enrol_digest: Mapped[str | None] = mapped_column(String(64), unique=True)  # cleared once used
    enrol_expires_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    device_digest: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True), default=utcnow)
    enrolled_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True))
    last_used_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True))
    # Answers taken since it was issued (a comment is part of its answer); each one's `KioskResponse` says which
    # answers are still kept, since retention removes old ones.
    responses: Mapped[int] = mapped_column(default=0)
    # The per-device rate limit (GCRA): the theoretical arrival time of its next answer, seconds since 1970.
    rate_tat: Mapped[float] = mapped_column(Float(precision=53), default=0.0)


class KioskResponse(Base):
    """Which kiosk (so which centre) took an anonymous answer: the answer itself is an ordinary `Response`."""

    __tablename__ = "kiosk_response"
    __datamap__ = DataMapEntry(
        purpose="Report anonymous kiosk answers by the face-to-face centre that took them",
        holds=("the centre an anonymous answer was given at",),
        category="feedback",
        lawful_basis="public_task",
        retention="2 years, with its response",
        links=(Link("response_id", "response"),),
    )
    __table_args__ = (Index("ix_kiosk_response_kiosk", "kiosk_id"),)

    kiosk_id: Mapped[uuid.UUID] = mapped_column(GUID, ForeignKey("kiosk.id", ondelete="CASCADE"))
    response_id: Mapped[uuid.UUID] = mapped_column(GUID, ForeignKey("response.id", ondelete="CASCADE"), unique=True)
