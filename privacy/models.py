"""Privacy tables: data subjects, their blind indexes and wrapped data keys, key check values, suppression."""

from __future__ import annotations

import uuid
from datetime import datetime

from advanced_alchemy.types import GUID, DateTimeUTC
from sqlalchemy import ForeignKey, Index, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from civicvoice.core.clock import utcnow
from civicvoice.core.datamap import DataMapEntry, Link, RetentionRule
from civicvoice.core.db import Base


class DataSubject(Base):
    """One person. Identity fields live only in ``identity_ciphertext``, under the person's own data key."""

    __tablename__ = "data_subject"
    __datamap__ = DataMapEntry(
        purpose="Identify the customer behind contacts and responses, to invite and to honour their rights",
        holds=("name", "email", "phone", "source-system customer id"),
        category="identity",
        lawful_basis="public_task",
        retention="until erasure or 2 years after last contact",
        subject_link="id",
        encrypted=("identity_ciphertext",),
        retention_rule=RetentionRule("identity", "last_contact_at", "shred"),
    )

    identity_ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True), default=utcnow)
    last_contact_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True))
    # Sticky: set by an opt-out, never cleared by an incoming event.
    opted_out_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True))
    # Follows the source system: the latest event says whether the person is flagged "do not survey".
    do_not_survey: Mapped[bool] = mapped_column(default=False)
    erased_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True))


class SubjectIndex(Base):
    """Blind index: HMAC of a normalised identifier, so a person is found by email or phone without storing it."""

    __tablename__ = "subject_index"
    __datamap__ = DataMapEntry(
        purpose="Find a customer by email, phone or source-system id without storing them in clear",
        holds=("keyed hash of email", "keyed hash of phone", "keyed hash of source-system id"),
        category="identity",
        lawful_basis="public_task",
        retention="until erasure",
        subject_link="subject_id",
    )
    __table_args__ = (
        # One identifier belongs to one person: concurrent creation of the same new person collides here. The
        # digest leads: lookups filter every column with IN, and with the digest second PostgreSQL read every
        # entry of a field whenever its statistics were stale (migration 0039 says more).
        UniqueConstraint("digest", "field", "key_version", name="uq_subject_index_value"),
        Index("ix_subject_index_subject", "subject_id"),
    )

    subject_id: Mapped[uuid.UUID] = mapped_column(GUID, ForeignKey("data_subject.id", ondelete="CASCADE"))
    field: Mapped[str] = mapped_column(String(20))
    key_version: Mapped[int]
    digest: Mapped[bytes] = mapped_column(LargeBinary(32))


class SubjectNameIndex(Base):
    """Blind index of a person's normalised full name (`normalise_name`), for the DPO's search only.

    Kept apart from `SubjectIndex` because a name is not an identifier: many people share one, so it is never
    unique, and it never decides who an event is about."""

    __tablename__ = "subject_name_index"
    __datamap__ = DataMapEntry(
        purpose="Find a customer by name for a data-protection request without storing the name in clear",
        holds=("keyed hash of full name",),
        category="identity",
        lawful_basis="public_task",
        retention="until erasure, or the person's name changes",
        subject_link="subject_id",
    )
    __table_args__ = (
        Index("ix_subject_name_index_digest", "digest", "key_version"),
        Index("ix_subject_name_index_subject", "subject_id"),
    )

    subject_id: Mapped[uuid.UUID] = mapped_column(GUID, ForeignKey("data_subject.id", ondelete="CASCADE"))
    key_version: Mapped[int]
    digest: Mapped[bytes] = mapped_column(LargeBinary(32))


class DataKey(Base):
    """A data key (DEK), wrapped by a KEK. Owned by a person, or by a month for anonymous responses."""

    __tablename__ = "data_key"
    __datamap__ = DataMapEntry(
        purpose="Per-person and per-month encryption keys; destroying one erases what it encrypted",
        holds=("wrapped data key",),
        category="key material",
        lawful_basis="public_task",
        retention="until erasure or end of the owning month's retention",
        subject_link="subject_id",
    )

    subject_id: Mapped[uuid.UUID | None] = mapped_column(
        GUID, ForeignKey("data_subject.id", ondelete="SET NULL"), unique=True
    )
    period: Mapped[str | None] = mapped_column(String(7), unique=True)
    kek_version: Mapped[int]
    wrapped: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True), default=utcnow)
    destroyed_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True))


class KeyCheck(Base):
    """Check values of the configured keys, so a missing or wrong key is caught before any data is touched."""

    __tablename__ = "key_check"
    __datamap__ = DataMapEntry.no_personal_data("Detect a missing or wrong key at start-up")

    purpose: Mapped[str] = mapped_column(String(40), unique=True)
    value: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True), default=utcnow)


class SubjectConflict(Base):
    """Two identifiers of one event point at two different people. Recorded for review, never merged."""

    __tablename__ = "subject_conflict"
    __datamap__ = DataMapEntry(
        purpose="Review of identity conflicts between contact events",
        holds=("links between two customer records",),
        category="identity",
        lawful_basis="public_task",
        retention="until resolved + 1 year, or erasure of either person",
        subject_link="chosen_subject_id",
        links=(Link("other_subject_id", "data_subject"), Link("contact_id", "contact")),
    )
    __table_args__ = (
        Index("ix_subject_conflict_chosen", "chosen_subject_id"),
        Index("ix_subject_conflict_other", "other_subject_id"),
    )

    chosen_subject_id: Mapped[uuid.UUID] = mapped_column(GUID, ForeignKey("data_subject.id", ondelete="CASCADE"))
    other_subject_id: Mapped[uuid.UUID] = mapped_column(GUID, ForeignKey("data_subject.id", ondelete="CASCADE"))
    matched_on: Mapped[str] = mapped_column(String(20))
    conflicting_field: Mapped[str] = mapped_column(String(20))
    contact_id: Mapped[uuid.UUID | None] = mapped_column(GUID)
    detected_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True), default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True))


class SuppressionEntry(Base):
    """Do not survey this identifier: a keyed hash under its own key, kept after erasure to honour the objection."""

    __tablename__ = "suppression_entry"
    __datamap__ = DataMapEntry(
        purpose="Honour objections and opt-outs, including after erasure",
        holds=("keyed hash of email or phone",),
        category="objection",
        lawful_basis="legal_obligation",
        retention="indefinite (needed to honour the objection)",
        unlinked="keyed hashes of identifiers kept apart from any person, so the objection outlives erasure",
    )
    __table_args__ = (UniqueConstraint("digest", "kind", "key_version", name="uq_suppression_value"),)

    kind: Mapped[str] = mapped_column(String(20))
    key_version: Mapped[int]
    digest: Mapped[bytes] = mapped_column(LargeBinary(32))
    reason: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True), default=utcnow)
