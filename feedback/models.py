"""Feedback tables: the sentiment and the class of each comment, in clear, with the version that produced it."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from advanced_alchemy.types import GUID, DateTimeUTC, JsonB
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


class CommentClassification(Base):
    """What a comment is (complaint, compliment, suggestion, other) and its themes, each with a confidence, as
    the classifier saw it and as a reviewer confirmed or corrected it; corrections measure the classifier."""

    __tablename__ = "comment_classification"
    __datamap__ = DataMapEntry(
        purpose="Route complaints, compliments and suggestions, and measure the classifier against reviewers",
        holds=("reviewer's staff id",),
        category="staff activity",
        lawful_basis="public_task",
        retention="2 years",
        subject_kind="staff",
        subject_link="reviewed_by",
    )
    __table_args__ = (
        Index("ix_comment_classification_response", "response_id"),
        Index("ix_comment_classification_class", "comment_class"),
    )

    answer_id: Mapped[uuid.UUID] = mapped_column(GUID, ForeignKey("answer.id", ondelete="CASCADE"), unique=True)
    response_id: Mapped[uuid.UUID] = mapped_column(GUID, ForeignKey("response.id", ondelete="CASCADE"))
    comment_class: Mapped[str] = mapped_column(String(12))
    confidence: Mapped[float]
    # [{"theme": "waiting_time", "confidence": 0.81}, ...], most confident first.
    themes: Mapped[list[dict[str, Any]]] = mapped_column(JsonB, default=list)
    classifier_version: Mapped[str] = mapped_column(String(30))
    classified_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True), default=utcnow)
    reviewed_class: Mapped[str | None] = mapped_column(String(12))
    reviewed_themes: Mapped[list[str] | None] = mapped_column(JsonB)
    reviewed_by: Mapped[str | None] = mapped_column(String(64))
    reviewed_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True))

    @property
    def final_class(self) -> str:
        """The reviewer's word when there is one, else the classifier's."""
        return self.reviewed_class or self.comment_class
