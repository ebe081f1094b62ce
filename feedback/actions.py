"""Improvement actions: the register of what the council changes because of what people told it, linked to the
complaints and comments that prompted each change (one action answers many complaints; a complaint can lead to
several actions). Done actions the council chooses to publish appear on the public "You said, we did" page."""

from __future__ import annotations

import secrets
import uuid
from datetime import date, datetime
from enum import StrEnum

from advanced_alchemy.types import GUID, DateTimeUTC
from sqlalchemy import Date, ForeignKey, Index, String, Text, UniqueConstraint, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from civicvoice.core.audit import Actor, record
from civicvoice.core.clock import utcnow
from civicvoice.core.datamap import DataMapEntry
from civicvoice.core.db import Base
from civicvoice.core.errors import Conflict, InvalidInput, NotFound
from feedback.cases import ComplaintCase
from privacy.deadlines import london_day
from surveys.models import Answer, Response


class ActionStatus(StrEnum):
    planned = "planned"
    in_progress = "in_progress"
    done = "done"
    dropped = "dropped"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").capitalize()


class ImprovementAction(Base):
    __tablename__ = "improvement_action"
    __datamap__ = DataMapEntry(
        purpose="The register of improvements made because of complaints and comments",
        holds=("owning officer's staff id",),
        category="staff activity",
        lawful_basis="public_task",
        retention="indefinite (the council's record of improvements)",
        subject_kind="staff",
        subject_link="owner_id",
    )
    __table_args__ = (Index("ix_improvement_action_status", "status", "due_on"),)

    reference: Mapped[str] = mapped_column(String(20), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)
    service_id: Mapped[uuid.UUID | None] = mapped_column(GUID, ForeignKey("service.id"))
    owner_id: Mapped[str] = mapped_column(String(64))
    due_on: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(20), default=ActionStatus.planned)
    evidence: Mapped[str | None] = mapped_column(Text)
    done_on: Mapped[date | None] = mapped_column(Date)
    # The public wording: what people said and what was done. Written for the public, never personal data.
    you_said: Mapped[str | None] = mapped_column(Text)
    we_did: Mapped[str | None] = mapped_column(Text)
    published: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True), default=utcnow)


class ActionLink(Base):
    """A complaint case that prompted an action (ids only)."""

    __tablename__ = "improvement_action_case"
    __datamap__ = DataMapEntry.no_personal_data("Which complaint cases prompted which improvement actions")
    __table_args__ = (UniqueConstraint("action_id", "case_id", name="uq_improvement_action_case"),)

    action_id: Mapped[uuid.UUID] = mapped_column(GUID, ForeignKey("improvement_action.id", ondelete="CASCADE"))
    case_id: Mapped[uuid.UUID] = mapped_column(GUID, ForeignKey("complaint_case.id", ondelete="CASCADE"))


class ActionComment(Base):
    """A comment that prompted an action (ids only): one action answers many comments, a comment can lead to several."""

    __tablename__ = "improvement_action_comment"
    __datamap__ = DataMapEntry.no_personal_data("Which comments prompted which improvement actions")
    __table_args__ = (UniqueConstraint("action_id", "answer_id", name="uq_improvement_action_comment"),)

    action_id: Mapped[uuid.UUID] = mapped_column(GUID, ForeignKey("improvement_action.id", ondelete="CASCADE"))
    answer_id: Mapped[uuid.UUID] = mapped_column(GUID, ForeignKey("answer.id", ondelete="CASCADE"))


def _text(value: str, field: str, what: str, limit: int) -> str:
    value = value.strip()
    if not value:
        raise InvalidInput(f"Give {what}.", field=field)
    return value[:limit]


async def create_action(
    session: AsyncSession,
    *,
    title: str,
    description: str,
    owner_id: str,
    actor: Actor,
    service_id: uuid.UUID | None = None,
    due_on: date | None = None,
) -> ImprovementAction:
    today = london_day(utcnow())
    if due_on is not None and due_on < today:
        raise InvalidInput("The due date cannot be in the past.", field="due_on")
    action = ImprovementAction(
        reference=f"IA-{today.year}-{secrets.token_hex(3).upper()}",
        title=_text(title, "title", "the action a title", 200),
        description=_text(description, "description", "a description of the change", 5000),
        service_id=service_id,
        owner_id=owner_id,
        due_on=due_on,
        status=ActionStatus.planned,
    )
    session.add(action)
    record(session, actor, "feedback.action.create", target_kind="improvement_action", target_id=action.id)
    return action


async def update_action(
    session: AsyncSession,
    action: ImprovementAction,
    *,
    status: str,
    evidence: str | None,
    you_said: str | None,
    we_did: str | None,
    published: bool,
    actor: Actor,
) -> None:
    try:
        new = ActionStatus(status)
    except ValueError:
        raise InvalidInput("Choose planned, in progress, done or dropped.", field="status") from None
    if new is ActionStatus.done and not (evidence or action.evidence or "").strip():
        raise InvalidInput("Record the evidence that the change was made before marking it done.", field="evidence")
    if published and (new is not ActionStatus.done or not (you_said or "").strip() or not (we_did or "").strip()):
        raise InvalidInput(
            "Only a done action with both 'You said' and 'We did' written can be published.", field="published"
        )
    if new is ActionStatus.done and action.done_on is None:
        action.done_on = london_day(utcnow())
    action.status = new
    action.evidence = (evidence or "").strip()[:5000] or action.evidence
    action.you_said = (you_said or "").strip()[:1000] or None
    action.we_did = (we_did or "").strip()[:1000] or None
    action.published = published
    record(
        session,
        actor,
        "feedback.action.update",
        target_kind="improvement_action",
        target_id=action.id,
        detail={"status": new.value, "published": published},
    )


async def link_case(session: AsyncSession, action: ImprovementAction, case: ComplaintCase, *, actor: Actor) -> None:
    exists = await session.scalar(
        select(ActionLink.id).where(ActionLink.action_id == action.id, ActionLink.case_id == case.id)
    )
    if exists is not None:
        raise Conflict(f"Case {case.reference} is already linked to {action.reference}.", field="case")
    session.add(ActionLink(action_id=action.id, case_id=case.id))
    record(
        session,
        actor,
        "feedback.action.link",
        target_kind="improvement_action",
        target_id=action.id,
        detail={"case": case.reference},
    )


async def link_comment(session: AsyncSession, action: ImprovementAction, answer_id: uuid.UUID, *, actor: Actor) -> None:
    """Record that a comment prompted the action."""
    comment = await session.scalar(select(Answer.id).where(Answer.id == answer_id, Answer.text_ciphertext.is_not(None)))
    if comment is None:
        raise NotFound("No such comment.", field="answer_id")
    exists = await session.scalar(
        select(ActionComment.id).where(ActionComment.action_id == action.id, ActionComment.answer_id == answer_id)
    )
    if exists is not None:
        raise Conflict(f"This comment is already linked to {action.reference}.", field="action")
    session.add(ActionComment(action_id=action.id, answer_id=answer_id))
    record(
        session,
        actor,
        "feedback.action.link_comment",
        target_kind="improvement_action",
        target_id=action.id,
        detail={"answer": str(answer_id)},
    )


async def linked_comments(session: AsyncSession, action: ImprovementAction) -> list[tuple[Answer, Response]]:
    stmt = (
        select(Answer, Response)
        .join(ActionComment, ActionComment.answer_id == Answer.id)
        .join(Response, Response.id == Answer.response_id)
        .where(ActionComment.action_id == action.id)
        .order_by(Response.submitted_at)
    )
    return [(answer, response) for answer, response in (await session.execute(stmt)).tuples().all()]


async def open_actions(session: AsyncSession) -> list[ImprovementAction]:
    """Actions a comment can still be linked to: planned or in progress."""
    stmt = (
        select(ImprovementAction)
        .where(ImprovementAction.status.in_([ActionStatus.planned, ActionStatus.in_progress]))
        .order_by(ImprovementAction.title)
    )
    return list((await session.scalars(stmt)).all())


async def find_action(session: AsyncSession, reference: str, *, lock: bool = False) -> ImprovementAction:
    stmt = select(ImprovementAction).where(ImprovementAction.reference == reference.strip().upper())
    found = await session.scalar(stmt.with_for_update() if lock else stmt)
    if found is None:
        raise NotFound(f"No improvement action {reference!r}.", field="reference")
    return found


async def linked_cases(session: AsyncSession, action: ImprovementAction) -> list[ComplaintCase]:
    stmt = (
        select(ComplaintCase)
        .join(ActionLink, ActionLink.case_id == ComplaintCase.id)
        .where(ActionLink.action_id == action.id)
        .order_by(ComplaintCase.received_on)
    )
    return list((await session.scalars(stmt)).all())


async def actions_for_case(session: AsyncSession, case: ComplaintCase) -> list[ImprovementAction]:
    stmt = (
        select(ImprovementAction)
        .join(ActionLink, ActionLink.action_id == ImprovementAction.id)
        .where(ActionLink.case_id == case.id)
    )
    return list((await session.scalars(stmt)).all())


async def register(session: AsyncSession) -> list[tuple[ImprovementAction, int, int]]:
    """Every action with how many complaint cases and comments prompted it, open ones first."""
    cases = select(ActionLink.action_id, func.count().label("n")).group_by(ActionLink.action_id).subquery()
    comments = select(ActionComment.action_id, func.count().label("n")).group_by(ActionComment.action_id).subquery()
    rows = await session.execute(
        select(ImprovementAction, func.coalesce(cases.c.n, 0), func.coalesce(comments.c.n, 0))
        .outerjoin(cases, cases.c.action_id == ImprovementAction.id)
        .outerjoin(comments, comments.c.action_id == ImprovementAction.id)
        .order_by(ImprovementAction.status.in_([ActionStatus.done, ActionStatus.dropped]), ImprovementAction.due_on)
    )
    return [(action, int(n_cases), int(n_comments)) for action, n_cases, n_comments in rows.tuples().all()]


async def published_actions(session: AsyncSession) -> list[ImprovementAction]:
    stmt = (
        select(ImprovementAction)
        .where(ImprovementAction.published.is_(True), ImprovementAction.status == ActionStatus.done)
        .order_by(ImprovementAction.done_on.desc())
    )
    return list((await session.scalars(stmt)).all())
