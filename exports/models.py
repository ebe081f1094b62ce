"""The record of every export (who, which dataset, the filter, the row count) and, for one built in the
background, its progress and its encrypted file until it expires."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum

from advanced_alchemy.types import GUID, DateTimeUTC
from sqlalchemy import BigInteger, Date, ForeignKey, Index, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from civicvoice.core.clock import utcnow
from civicvoice.core.datamap import DataMapEntry, FileStore, Link
from civicvoice.core.db import Base

EXPIRE_FILES_JOB = "exports.expire_files"

EXPORT_FILES = FileStore(
    name="export files",
    purpose="Hold a large export, built in the background, until the member of staff who asked downloads it",
    location="$CIVICVOICE_DATA_DIR/exports/",
    holds=("survey responses, comments (redacted unless identified), contacts, cases and actions",),
    category="customer feedback",
    lawful_basis="public_task",
    retention="24 hours after it is ready; encrypted under a key of its own, destroyed with the file",
    scheduled_jobs=(EXPIRE_FILES_JOB,),
)


class ExportState(StrEnum):
    streamed = "streamed"  # small: sent straight to the browser or written by the command line
    queued = "queued"
    running = "running"
    ready = "ready"
    failed = "failed"
    expired = "expired"


class ExportRun(Base):
    """One export. Its filter lives here, so a background job's payload carries only this row's id."""

    __tablename__ = "export_run"
    __datamap__ = DataMapEntry(
        purpose="Record who exported what, with which filter and how many rows; track background exports",
        holds=("staff user id",),
        category="staff activity",
        lawful_basis="legal_obligation",
        retention="6 years, like the audit log; the file itself 24 hours",
        subject_kind="staff",
        subject_link="created_by",
        scheduled_jobs=(EXPIRE_FILES_JOB,),
    )
    __table_args__ = (Index("ix_export_run_created_by", "created_by", "created_at"),)

    dataset: Mapped[str] = mapped_column(String(20))
    format: Mapped[str] = mapped_column(String(4))
    identified: Mapped[bool] = mapped_column(default=False)
    date_from: Mapped[date | None] = mapped_column(Date)
    date_to: Mapped[date | None] = mapped_column(Date)
    service: Mapped[str | None] = mapped_column(String(64))
    channel: Mapped[str | None] = mapped_column(String(20))
    # The staff user (their id, as the audit log records them); None for the command line without --as.
    created_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True), default=utcnow)
    state: Mapped[str] = mapped_column(String(12), default=ExportState.queued)
    # Rows written so far (the progress of a background export), then the count exported.
    rows: Mapped[int] = mapped_column(Integer, default=0)
    # Rows expected when it was asked for (an upper bound: restricted people are left out as it runs).
    expected_rows: Mapped[int | None] = mapped_column(Integer)
    finished_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True))
    expires_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True))
    file_name: Mapped[str | None] = mapped_column(String(80))
    file_bytes: Mapped[int | None] = mapped_column(BigInteger)
    # The file's own key, wrapped by the key-encryption key; wiped when the file expires.
    file_key_version: Mapped[int | None] = mapped_column(Integer)
    file_key: Mapped[bytes | None] = mapped_column(LargeBinary)
    # What went wrong, in words for the person (never personal data).
    problem: Mapped[str | None] = mapped_column(String(300))

    @property
    def download_name(self) -> str:
        return f"{self.dataset}-{self.created_at:%Y%m%d-%H%M}.{self.format}"


# --- scheduled reports -------------------------------------------------------------------------------------

REPORTS_JOB = "exports.scheduled_reports"


class ReportFrequency(StrEnum):
    monthly = "monthly"  # the month just ended, on the first of the next
    weekly = "weekly"  # each Monday, the month so far (the month of the Sunday just gone)


class ReportDeliveryMode(StrEnum):
    attachment = "attachment"  # the workbook attached to the email
    link = "link"  # a link to the download, which asks the member of staff to sign in


class ReportSubscription(Base):
    """A member of staff who receives the scorecard by email, for the services they may see when it is sent."""

    __tablename__ = "report_subscription"
    __datamap__ = DataMapEntry(
        purpose="Send the scorecard by email to the members of staff who asked for it",
        holds=("staff user id",),
        category="staff",
        lawful_basis="public_task",
        retention="until they unsubscribe or their account is deleted",
        subject_kind="staff",
        subject_link="staff_user_id",
    )

    staff_user_id: Mapped[uuid.UUID] = mapped_column(GUID, ForeignKey("staff_user.id", ondelete="CASCADE"), unique=True)
    frequency: Mapped[str] = mapped_column(String(10))
    delivery: Mapped[str] = mapped_column(String(12))
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True), default=utcnow)
    changed_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True), default=utcnow)


class ReportDeliveryState(StrEnum):
    queued = "queued"
    sent = "sent"
    skipped = "skipped"  # the subscriber could no longer see the scorecard when it was due
    failed = "failed"  # the mail server kept refusing it; the job's error is in the job table


class ReportDelivery(Base):
    """One subscription's report for one period: the row that makes each report go once, whatever restarts."""

    __tablename__ = "report_delivery"
    __datamap__ = DataMapEntry(
        purpose="Send each scheduled report once per period, and show when it went",
        holds=("which scheduled report a member of staff was sent, and when",),
        category="staff activity",
        lawful_basis="public_task",
        retention="13 months, or until the subscription ends",
        links=(Link("subscription_id", "report_subscription"),),
        subject_kind="staff",
        scheduled_jobs=(REPORTS_JOB,),
    )
    __table_args__ = (UniqueConstraint("subscription_id", "period", name="uq_report_delivery_period"),)

    subscription_id: Mapped[uuid.UUID] = mapped_column(GUID, ForeignKey("report_subscription.id", ondelete="CASCADE"))
    # "2026-11" for a monthly report, "2026-W48" for a weekly one.
    period: Mapped[str] = mapped_column(String(10))
    month: Mapped[date] = mapped_column(Date)
    state: Mapped[str] = mapped_column(String(10), default=ReportDeliveryState.queued)
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True))
    message_id: Mapped[str | None] = mapped_column(String(200))
