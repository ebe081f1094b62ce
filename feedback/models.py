"""Feedback tables: the sentiment of each comment, in clear, with the scorer version that produced it."""

from __future__ import annotations

import uuid
from datetime import datetime

from advanced_alchemy.types import GUID, DateTimeUTC
from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from civicvoice.core.clock import utcnow
from civicvoice.core.datamap import DataMapEntry
from civicvoice.core.db import Base


class CommentScore(Base):
    __tablename__ = "comment_score"
    __datamap__ = DataMapEntry.no_personal_data(
        "Sentiment of comments (derived, non-identifying; the comment itself stays encrypted)", retention="2 years"
    )
    __table_args__ = (Index("ix_comment_score_response", "response_id"),)

    answer_id: Mapped[uuid.UUID] = mapped_column(GUID, ForeignKey("answer.id", ondelete="CASCADE"), unique=True)
    response_id: Mapped[uuid.UUID] = mapped_column(GUID, ForeignKey("response.id", ondelete="CASCADE"))
    question_key: Mapped[str] = mapped_column(String(40))
    polarity: Mapped[float]
    label: Mapped[str] = mapped_column(String(10))
    scorer_version: Mapped[str] = mapped_column(String(30))
    scored_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True), default=utcnow)
