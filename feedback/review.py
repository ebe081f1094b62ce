"""A reviewer confirms or corrects a comment's class and themes in one action; the corrections, set against what
the classifier said, are its measured precision and recall per class and theme."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from civicvoice.core.audit import Actor, record
from civicvoice.core.clock import utcnow
from civicvoice.core.errors import InvalidInput, NotFound
from feedback.classification import ClassifierReport, CommentClass, Labels, Theme, measure
from feedback.models import CommentClassification


async def review(
    session: AsyncSession, answer_id: uuid.UUID, *, comment_class: str, themes: Iterable[str], actor: Actor
) -> CommentClassification:
    """Record the reviewer's class and themes for a comment (confirming is giving the same ones)."""
    try:
        chosen = CommentClass(comment_class)
    except ValueError:
        raise InvalidInput("Choose complaint, compliment, suggestion or other.", field="comment_class") from None
    chosen_themes: list[str] = []
    for theme in themes:
        try:
            chosen_themes.append(Theme(theme).value)
        except ValueError:
            raise InvalidInput(f"{theme!r} is not a theme.", field="themes") from None
    found = await session.scalar(
        select(CommentClassification).where(CommentClassification.answer_id == answer_id).with_for_update()
    )
    if found is None:
        raise NotFound("That comment has not been classified (yet).", field="answer_id")
    found.reviewed_class = chosen.value
    found.reviewed_themes = sorted(set(chosen_themes))
    found.reviewed_by = actor.id
    found.reviewed_at = utcnow()
    record(
        session,
        actor,
        "feedback.comment_reviewed",
        target_kind="answer",
        target_id=answer_id,
        detail={"class": chosen.value, "agreed": chosen.value == found.comment_class},
    )
    return found


async def classifier_report(session: AsyncSession, *, version: str | None = None) -> ClassifierReport:
    """Precision and recall per class and theme, measured on every comment a reviewer has confirmed or corrected."""
    stmt = select(CommentClassification).where(CommentClassification.reviewed_class.is_not(None))
    if version is not None:
        stmt = stmt.where(CommentClassification.classifier_version == version)
    pairs = []
    for row in (await session.scalars(stmt)).all():
        predicted = Labels(CommentClass(row.comment_class), frozenset(Theme(t["theme"]) for t in row.themes or []))
        assert row.reviewed_class is not None
        corrected = Labels(CommentClass(row.reviewed_class), frozenset(Theme(t) for t in row.reviewed_themes or []))
        pairs.append((predicted, corrected))
    return measure(pairs)
