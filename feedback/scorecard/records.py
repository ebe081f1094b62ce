"""The records behind a scorecard figure, a page at a time: the contacts, answers (comments redacted), cases,
callbacks, evaluations or entries a figure of a month and scope was computed from. Filtered as the rollup queries
file each fact (see rollups), so a page's total matches the figure's count."""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Final

from sqlalchemy import ColumnElement, Select, and_, exists, false, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from civicvoice.core.clock import LONDON, utcnow
from feedback.actions import ActionLink
from feedback.callbacks import Callback
from feedback.cases import ComplaintCase
from feedback.models import CommentClassification, CommentScore
from feedback.quality import Evaluation
from feedback.scorecard.charts import format_value
from feedback.scorecard.measures import MEASURES, Source, Unit
from feedback.scorecard.models import EnteredFigure
from feedback.scorecard.rollups import COMPLIMENT, _fcr, measured_channel, month_bounds
from feedback.scorecard.service import Scope
from privacy.exceptions import KeyDestroyed
from privacy.redaction import redact
from surveys.models import Answer, Contact, Invitation, Response, Service
from surveys.responses import read_answer_text

PAGE_SIZE: Final = 50

_CONTACT_MEASURES: Final = frozenset(
    {
        "service-level",
        "average-speed-of-answer",
        "average-wait",
        "average-handling-time",
        "first-contact-resolution",
        "transfers-out",
        "channel-use",
        "channel-shift",
        "forecast-accuracy",
    }
)
_ANSWER_MEASURES: Final = frozenset({"customer-satisfaction", "response-rate", "sentiment-trend", "compliments"})
_EVALUATION_MEASURES: Final = frozenset({"contact-quality-score", "contacts-evaluated"})


@dataclass
class RecordPage:
    kind: str
    head: tuple[str, ...] = ()
    rows: list[tuple[str, ...]] = field(default_factory=list)
    comments: dict[int, list[str]] = field(default_factory=dict)  # row index -> redacted comments
    total: int = 0
    page: int = 1
    pages: int = 1
    note: str = ""


def _when(moment: datetime | None) -> str:
    return moment.astimezone(LONDON).strftime("%-d %b %Y %H:%M") if moment else "—"


def _contact_scope(scope: Scope, month: date) -> ColumnElement[bool]:
    start, end = month_bounds(month)
    clauses: list[ColumnElement[bool]] = [Contact.occurred_at >= start, Contact.occurred_at < end]
    if scope.rows.service_ids is not None:
        clauses.append(Contact.service_id.in_(scope.rows.service_ids))
    if scope.channel is not None:
        clauses.append(Contact.channel == scope.channel)
    if scope.agent_ref is not None:
        clauses.append(func.coalesce(Contact.agent_ref, "") == scope.agent_ref)
    return and_(*clauses)


def _loose_scope(scope: Scope, month: date) -> ColumnElement[bool]:
    """Answers without an invitation, filed by their own month, service and channel (and no agent)."""
    start, end = month_bounds(month)
    clauses: list[ColumnElement[bool]] = [
        Response.invitation_id.is_(None),
        Response.service_id.is_not(None),
        Response.submitted_at >= start,
        Response.submitted_at < end,
    ]
    if scope.rows.service_ids is not None:
        clauses.append(Response.service_id.in_(scope.rows.service_ids))
    if scope.channel is not None:
        clauses.append(measured_channel() == scope.channel)
    if scope.agent_ref:
        clauses.append(false())  # an agent's figures hold no answers without a contact
    return and_(*clauses)


def _late_scope(scope: Scope, moment: Any, service_column: Any, month: date) -> list[ColumnElement[bool]]:
    start, end = month_bounds(month)
    clauses: list[ColumnElement[bool]] = [moment >= start, moment < end, service_column.is_not(None)]
    if scope.rows.service_ids is not None:
        clauses.append(service_column.in_(scope.rows.service_ids))
    if scope.channel is not None:
        clauses.append(func.coalesce(Contact.channel, measured_channel(), "") == scope.channel)
    if scope.agent_ref is not None:
        clauses.append(func.coalesce(Contact.agent_ref, "") == scope.agent_ref)
    return clauses


async def _paged(
    session: AsyncSession, query: Select[Any], order: list[Any], page: int
) -> tuple[list[Any], int, int, int]:
    total = await session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(page, pages)
    rows = (await session.execute(query.order_by(*order).limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE))).all()
    return list(rows), total, page, pages


async def records_behind(
    session: AsyncSession, vault: Any, slug: str, month: date, scope: Scope, *, page: int = 1
) -> RecordPage:
    names = dict((await session.execute(select(Service.id, Service.name))).tuples().all())
    meta = MEASURES[slug]
    if meta.source is Source.entered:
        return await _entries(session, slug, month, scope, names)
    if slug in _CONTACT_MEASURES:
        return await _contacts(session, slug, month, scope, names, page)
    if slug in _ANSWER_MEASURES:
        return await _answers(session, vault, slug, month, scope, names, page)
    if slug in _EVALUATION_MEASURES:
        return await _evaluations(session, month, scope, names, page)
    if slug == "complaints-generating-improvements":
        return await _cases(session, month, scope, names, page)
    if slug == "callbacks-on-time":
        return await _callbacks(session, month, scope, names, page)
    return RecordPage(
        "none",
        note="No records yet: contacts are not classified by demand type in civicvoice today, so the demand "
        "figures have nothing behind them.",
    )


async def _contacts(
    session: AsyncSession, slug: str, month: date, scope: Scope, names: dict[uuid.UUID, str], page: int
) -> RecordPage:
    decided, resolved = _fcr(Contact.resolved_first_contact, Contact.repeat_contact, Response.resolved)
    query = (
        select(Contact, Response.resolved, decided.label("decided"), resolved.label("resolved_first"))
        .outerjoin(Invitation, Invitation.contact_id == Contact.id)
        .outerjoin(Response, Response.invitation_id == Invitation.id)
        .where(_contact_scope(scope, month))
    )
    if slug in ("service-level", "average-speed-of-answer", "average-wait"):
        query = query.where(Contact.wait_seconds.is_not(None))
    elif slug == "average-handling-time":
        query = query.where(Contact.handling_seconds.is_not(None))
    elif slug == "first-contact-resolution":
        query = query.where(decided == 1)
    rows, total, page, pages = await _paged(session, query, [Contact.occurred_at, Contact.id], page)
    found = RecordPage(
        "contacts",
        (
            "When",
            "Service",
            "Channel",
            "Agent",
            "Wait",
            "Handling",
            "Transferred",
            "Repeat contact",
            "Resolved first time",
        ),
        total=total,
        page=page,
        pages=pages,
    )
    for contact, _survey, is_decided, is_resolved in rows:
        found.rows.append(
            (
                _when(contact.occurred_at),
                names.get(contact.service_id, "—"),
                contact.channel.replace("_", " "),
                contact.agent_ref or "—",
                format_value(contact.wait_seconds, Unit.seconds) if contact.wait_seconds is not None else "—",
                format_value(contact.handling_seconds, Unit.seconds) if contact.handling_seconds is not None else "—",
                "Yes" if contact.transferred else "No",
                {True: "Yes", False: "No", None: "Window open"}[contact.repeat_contact],
                ("Yes" if is_resolved else "No") if is_decided else "Not decided yet",
            )
        )
    return found


async def _answers(
    session: AsyncSession,
    vault: Any,
    slug: str,
    month: date,
    scope: Scope,
    names: dict[uuid.UUID, str],
    page: int,
) -> RecordPage:
    if slug == "response-rate":
        query = (
            select(Invitation, Contact)
            .join(Contact, Contact.id == Invitation.contact_id)
            .where(
                _contact_scope(scope, month), or_(Invitation.sent_at.is_not(None), Invitation.responded_at.is_not(None))
            )
        )
        rows, total, page, pages = await _paged(session, query, [Contact.occurred_at, Invitation.id], page)
        found = RecordPage(
            "invitations", ("Contact", "Service", "Channel", "Sent", "Answered"), total=total, page=page, pages=pages
        )
        for invitation, contact in rows:
            found.rows.append(
                (
                    _when(contact.occurred_at),
                    names.get(contact.service_id, "—"),
                    contact.channel.replace("_", " "),
                    _when(invitation.sent_at),
                    _when(invitation.responded_at) if invitation.responded_at else "No",
                )
            )
        return found
    condition = or_(_contact_scope(scope, month), _loose_scope(scope, month))
    base = (
        select(Response, Contact.channel, Contact.agent_ref)
        .outerjoin(Invitation, Invitation.id == Response.invitation_id)
        .outerjoin(Contact, Contact.id == Invitation.contact_id)
    )
    answers_query: Select[Any]
    if slug == "customer-satisfaction":
        answers_query = base.where(condition, Response.satisfaction.is_not(None))
    elif slug == "sentiment-trend":
        answers_query = base.where(condition, exists().where(CommentScore.response_id == Response.id))
    else:
        answers_query = base.where(
            condition,
            exists().where(
                CommentClassification.response_id == Response.id, CommentClassification.reviewed_class == COMPLIMENT
            ),
        )
    rows, total, page, pages = await _paged(session, answers_query, [Response.submitted_at, Response.id], page)
    found = RecordPage(
        "responses",
        ("Answered", "Service", "Channel", "Agent", "Satisfaction (1-5)", "Resolved"),
        total=total,
        page=page,
        pages=pages,
        note="Comments are shown with names, emails, phone numbers, postcodes and similar identifiers removed."
        + (
            " The figure counts comments; a response may hold more than one."
            if slug in ("sentiment-trend", "compliments")
            else ""
        ),
    )
    answers: dict[uuid.UUID, list[Answer]] = defaultdict(list)
    ids = [row[0].id for row in rows]
    if ids:
        for answer in (
            await session.scalars(
                select(Answer).where(Answer.response_id.in_(ids), Answer.text_ciphertext.is_not(None))
            )
        ).all():
            answers[answer.response_id].append(answer)
    for index, (response, channel, agent) in enumerate(rows):
        found.rows.append(
            (
                _when(response.submitted_at),
                names.get(response.service_id, "—") if response.service_id else "—",
                (channel or response.channel).replace("_", " "),
                agent or "—",
                str(response.satisfaction) if response.satisfaction is not None else "—",
                response.resolved or "—",
            )
        )
        comments = []
        for answer in sorted(answers[response.id], key=lambda a: a.question_key):
            try:
                text = await read_answer_text(session, vault, response, answer)
            except KeyDestroyed:
                text = None
            if text:
                comments.append(redact(text))
        if comments:
            found.comments[index] = comments
    return found


async def _evaluations(
    session: AsyncSession, month: date, scope: Scope, names: dict[uuid.UUID, str], page: int
) -> RecordPage:
    query = (
        select(Evaluation, Contact)
        .join(Contact, Contact.id == Evaluation.contact_id)
        .where(_contact_scope(scope, month))
    )
    rows, total, page, pages = await _paged(session, query, [Contact.occurred_at, Evaluation.id], page)
    found = RecordPage(
        "evaluations",
        ("Contact", "Service", "Channel", "Agent", "Evaluated", "Score (of 100)"),
        total=total,
        page=page,
        pages=pages,
    )
    for evaluation, contact in rows:
        found.rows.append(
            (
                _when(contact.occurred_at),
                names.get(contact.service_id, "—"),
                contact.channel.replace("_", " "),
                contact.agent_ref or "—",
                _when(evaluation.evaluated_at),
                f"{evaluation.score:.1f}",
            )
        )
    return found


async def _cases(
    session: AsyncSession, month: date, scope: Scope, names: dict[uuid.UUID, str], page: int
) -> RecordPage:
    improving = exists().where(ActionLink.case_id == ComplaintCase.id)
    query = (
        select(ComplaintCase, improving.label("improving"))
        .outerjoin(Response, Response.id == ComplaintCase.response_id)
        .outerjoin(Contact, Contact.id == Response.contact_id)
        .where(*_late_scope(scope, ComplaintCase.closed_at, ComplaintCase.service_id, month))
    )
    rows, total, page, pages = await _paged(session, query, [ComplaintCase.closed_at, ComplaintCase.id], page)
    found = RecordPage(
        "cases", ("Case", "Service", "Closed", "Improvement action"), total=total, page=page, pages=pages
    )
    for complaint, is_improving in rows:
        found.rows.append(
            (
                complaint.reference,
                names.get(complaint.service_id, "—") if complaint.service_id else "—",
                _when(complaint.closed_at),
                "Yes" if is_improving else "No",
            )
        )
    return found


async def _callbacks(
    session: AsyncSession, month: date, scope: Scope, names: dict[uuid.UUID, str], page: int
) -> RecordPage:
    query = (
        select(Callback)
        .outerjoin(Response, Response.id == Callback.response_id)
        .outerjoin(Contact, Contact.id == Response.contact_id)
        .where(
            *_late_scope(scope, Callback.due_at, Callback.service_id, month),
            or_(Callback.done_at.is_not(None), Callback.due_at <= utcnow()),
        )
    )
    rows, total, page, pages = await _paged(session, query, [Callback.due_at, Callback.id], page)
    found = RecordPage("callbacks", ("Service", "Due", "Made", "On time"), total=total, page=page, pages=pages)
    for (callback,) in rows:
        on_time = callback.done_at is not None and callback.done_at <= callback.due_at
        found.rows.append(
            (
                names.get(callback.service_id, "—") if callback.service_id else "—",
                _when(callback.due_at),
                _when(callback.done_at) if callback.done_at else "Not yet",
                "Yes" if on_time else "No",
            )
        )
    return found


async def _entries(
    session: AsyncSession, slug: str, month: date, scope: Scope, names: dict[uuid.UUID, str]
) -> RecordPage:
    query = select(EnteredFigure).where(EnteredFigure.month == month, EnteredFigure.measure == slug)
    if scope.rows.service_ids is not None:
        query = query.where(EnteredFigure.service_id.in_(scope.rows.service_ids))
    if scope.channel is not None or scope.agent_ref is not None:
        query = query.where(false())
    rows = (await session.scalars(query.order_by(EnteredFigure.team))).all()
    unit = MEASURES[slug].unit
    found = RecordPage("entries", ("Service", "Team", "Figure", "Source", "Entered by", "Entered"), total=len(rows))
    for row in rows:
        found.rows.append(
            (
                names.get(row.service_id, "—"),
                row.team or "—",
                format_value(row.value, unit),
                row.source,
                row.entered_by,
                _when(row.entered_at),
            )
        )
    return found
