"""Tables of the paper channel: each letter printed for an invitation, and the print batches staff downloaded."""

from __future__ import annotations

import uuid
from datetime import datetime

from advanced_alchemy.types import GUID, DateTimeUTC
from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from civicvoice.core.clock import utcnow
from civicvoice.core.datamap import DataMapEntry, Link
from civicvoice.core.db import Base


class LetterBatch(Base):
    """One download from the print queue: the letters printed together, and who printed them."""

    __tablename__ = "letter_batch"
    __datamap__ = DataMapEntry(
        purpose="Record which staff member printed each batch of paper surveys",
        holds=("staff id of who printed it",),
        category="staff activity",
        lawful_basis="public_task",
        retention="2 years",
        subject_kind="staff",
        subject_link="printed_by",
    )
    __table_args__ = (Index("ix_letter_batch_printed", "printed_at"),)

    printed_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True), default=utcnow)
    printed_by: Mapped[str] = mapped_column(String(64))  # staff id
    letters: Mapped[int] = mapped_column(default=0)
    # A batch of reminder letters (for letters printed earlier and not answered), not of first letters.
    reminders: Mapped[bool] = mapped_column(default=False)


class Letter(Base):
    """A paper survey printed for one invitation: its reference (printed on it, keyed in when it comes back).

    The address is never stored here: it is read from the person's encrypted identity when the letter is printed.
    """

    __tablename__ = "letter"
    __datamap__ = DataMapEntry(
        purpose="Post paper surveys and match the returned forms to their invitation",
        holds=("letter reference", "staff id of who keyed the return"),
        category="contact metadata",
        lawful_basis="public_task",
        retention="2 years, with its invitation",
        links=(Link("invitation_id", "invitation"), Link("keyed_by", "staff_user")),
    )
    __table_args__ = (Index("ix_letter_batch", "batch_id"),)

    invitation_id: Mapped[uuid.UUID] = mapped_column(GUID, ForeignKey("invitation.id", ondelete="CASCADE"), unique=True)
    # Compact, with its check character (surveys.letter_references); printed in groups as KX7R-M2QD-P.
    reference: Mapped[str] = mapped_column(String(12), unique=True)
    batch_id: Mapped[uuid.UUID] = mapped_column(GUID, ForeignKey("letter_batch.id", ondelete="CASCADE"))
    keyed_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True))
    keyed_by: Mapped[str | None] = mapped_column(String(64))  # staff id of who keyed the return in
    # The one reminder letter, with the same reference: the batch it was printed in (none yet, or never).
    reminder_batch_id: Mapped[uuid.UUID | None] = mapped_column(
        GUID, ForeignKey("letter_batch.id", ondelete="SET NULL")
    )
