"""What can be exported: responses, comments, complaint cases, improvement actions and contacts, filtered like the
staff screens, streamed from the database in batches (constant memory at any size).

Pseudonymised by default: no names, emails or phone numbers, and comments redacted. The identified form (comments
as written) is a separate choice that needs a reason; both are recorded in the audit log with who, the filter and
the row count.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from civicvoice.core.clock import LONDON
from civicvoice.core.errors import InvalidInput
from exports.spreadsheet import Column
from feedback.actions import ImprovementAction
from feedback.cases import ComplaintCase
from feedback.models import CommentClassification, CommentScore
from privacy.exceptions import KeyDestroyed
from privacy.redaction import redact
from privacy.restriction import unrestricted
from privacy.vault import Vault
from surveys.models import Answer, Contact, Response, Service
from surveys.responses import read_answer_text

BATCH = 1000


@dataclass(frozen=True)
class ExportFilter:
    date_from: date | None = None
    date_to: date | None = None
    service: str | None = None  # service slug
    channel: str | None = None

    def describe(self) -> dict[str, str]:
        shown = {
            "From": self.date_from.isoformat() if self.date_from else "",
            "To": self.date_to.isoformat() if self.date_to else "",
            "Service": self.service or "",
            "Channel": self.channel or "",
        }
        return {k: v for k, v in shown.items() if v} or {"Filter": "everything"}

    def bounds(self) -> tuple[datetime | None, datetime | None]:
        start = datetime.combine(self.date_from, time(0), tzinfo=LONDON) if self.date_from else None
        end = datetime.combine(self.date_to + timedelta(days=1), time(0), tzinfo=LONDON) if self.date_to else None
        return start, end


Rows = AsyncIterator[tuple[Any, ...]]


@dataclass(frozen=True)
class Dataset:
    name: str
    title: str
    columns: tuple[Column, ...]
    rows: Callable[[AsyncSession, Vault, ExportFilter, bool], Rows]
    identifiable: bool = False  # has an identified form (comments as written)
    notes: tuple[str, ...] = field(default_factory=tuple)


def _dated(stmt: Select[Any], column: Any, found: ExportFilter) -> Select[Any]:
    start, end = found.bounds()
    if start is not None:
        stmt = stmt.where(column >= start)
    if end is not None:
        stmt = stmt.where(column < end)
    return stmt


def _scoped(stmt: Select[Any], channel_column: Any, found: ExportFilter) -> Select[Any]:
    if found.service:
        stmt = stmt.where(Service.slug == found.service)
    if found.channel and channel_column is not None:
        stmt = stmt.where(channel_column == found.channel)
    return stmt


def _local(moment: datetime | None) -> datetime | None:
    return moment.astimezone(LONDON) if moment else None


async def _stream(session: AsyncSession, stmt: Select[Any]) -> AsyncIterator[Any]:
    result = await session.stream(stmt.execution_options(yield_per=BATCH))
    async for row in result:
        yield row


async def response_rows(session: AsyncSession, vault: Vault, found: ExportFilter, identified: bool) -> Rows:
    stmt = _scoped(
        _dated(
            select(Response, Service.name)
            .join(Service, Service.id == Response.service_id)
            .where(unrestricted(Response.subject_id)),  # Art. 18: restricted people are left out
            Response.submitted_at,
            found,
        ),
        Response.channel,
        found,
    ).order_by(Response.submitted_at, Response.id)
    async for response, service in _stream(session, stmt):
        yield (
            str(response.id),
            _local(response.submitted_at),
            service,
            response.channel,
            response.satisfaction,
            response.resolved,
            "yes" if response.anonymous else "no",
        )


async def comment_rows(session: AsyncSession, vault: Vault, found: ExportFilter, identified: bool) -> Rows:
    stmt = _scoped(
        _dated(
            select(Answer, Response, Service.name, CommentScore.label, CommentClassification)
            .join(Response, Response.id == Answer.response_id)
            .join(Service, Service.id == Response.service_id)
            .outerjoin(CommentScore, CommentScore.answer_id == Answer.id)
            .outerjoin(CommentClassification, CommentClassification.answer_id == Answer.id)
            .where(Answer.text_ciphertext.is_not(None), unrestricted(Response.subject_id)),
            Response.submitted_at,
            found,
        ),
        Response.channel,
        found,
    ).order_by(Response.submitted_at, Answer.id)
    async for answer, response, service, sentiment, classified in _stream(session, stmt):
        try:
            text = await read_answer_text(session, vault, response, answer) or ""
        except KeyDestroyed:
            text = "(erased)"
        yield (
            str(response.id),
            _local(response.submitted_at),
            service,
            response.channel,
            answer.question_key,
            text if identified else redact(text),
            sentiment,
            classified.final_class if classified else None,
        )


async def contact_rows(session: AsyncSession, vault: Vault, found: ExportFilter, identified: bool) -> Rows:
    stmt = _scoped(
        _dated(
            select(Contact, Service.name)
            .join(Service, Service.id == Contact.service_id)
            .where(unrestricted(Contact.subject_id)),
            Contact.occurred_at,
            found,
        ),
        Contact.channel,
        found,
    ).order_by(Contact.occurred_at, Contact.id)
    async for contact, service in _stream(session, stmt):
        yield (
            str(contact.id),
            _local(contact.occurred_at),
            service,
            contact.channel,
            contact.agent_ref,
            contact.wait_seconds,
            contact.handling_seconds,
            "yes" if contact.transferred else "no",
            None if contact.resolved_first_contact is None else ("yes" if contact.resolved_first_contact else "no"),
        )


async def case_rows(session: AsyncSession, vault: Vault, found: ExportFilter, identified: bool) -> Rows:
    stmt = _scoped(
        _dated(
            select(ComplaintCase, Service.name)
            .outerjoin(Service, Service.id == ComplaintCase.service_id)
            .where(unrestricted(ComplaintCase.subject_id)),
            ComplaintCase.created_at,
            found,
        ),
        None,
        found,
    ).order_by(ComplaintCase.received_on, ComplaintCase.id)
    async for case, service in _stream(session, stmt):
        yield (
            case.reference,
            case.received_on,
            service,
            case.status,
            case.stage,
            case.acknowledge_due,
            case.acknowledged_on,
            case.stage1_due,
            case.stage1_answered_on,
            case.stage2_due,
            case.stage2_answered_on,
            case.outcome,
        )


async def action_rows(session: AsyncSession, vault: Vault, found: ExportFilter, identified: bool) -> Rows:
    stmt = _scoped(
        _dated(
            select(ImprovementAction, Service.name).outerjoin(Service, Service.id == ImprovementAction.service_id),
            ImprovementAction.created_at,
            found,
        ),
        None,
        found,
    ).order_by(ImprovementAction.created_at)
    async for action, service in _stream(session, stmt):
        yield (
            action.reference,
            action.title,
            service,
            action.status,
            action.due_on,
            action.done_on,
            "yes" if action.published else "no",
        )


DATASETS: dict[str, Dataset] = {
    d.name: d
    for d in (
        Dataset(
            "responses",
            "Survey responses",
            (
                Column("Response"),
                Column("Submitted"),
                Column("Service"),
                Column("Channel"),
                Column("Satisfaction (1 to 5)"),
                Column("Resolved"),
                Column("Anonymous"),
            ),
            response_rows,
        ),
        Dataset(
            "comments",
            "Comments",
            (
                Column("Response"),
                Column("Submitted"),
                Column("Service"),
                Column("Channel"),
                Column("Question"),
                Column("Comment", 60),
                Column("Sentiment"),
                Column("Class"),
            ),
            comment_rows,
            identifiable=True,
            notes=("Comments are redacted unless the export is identified.",),
        ),
        Dataset(
            "contacts",
            "Contacts",
            (
                Column("Contact"),
                Column("Occurred"),
                Column("Service"),
                Column("Channel"),
                Column("Agent"),
                Column("Wait (seconds)"),
                Column("Handling (seconds)"),
                Column("Transferred"),
                Column("Resolved first time"),
            ),
            contact_rows,
        ),
        Dataset(
            "cases",
            "Complaint cases",
            (
                Column("Case"),
                Column("Received"),
                Column("Service"),
                Column("Status"),
                Column("Stage"),
                Column("Acknowledge by"),
                Column("Acknowledged"),
                Column("Stage 1 by"),
                Column("Stage 1 answered"),
                Column("Stage 2 by"),
                Column("Stage 2 answered"),
                Column("Outcome"),
            ),
            case_rows,
        ),
        Dataset(
            "actions",
            "Improvement actions",
            (
                Column("Action"),
                Column("Title", 40),
                Column("Service"),
                Column("Status"),
                Column("Due"),
                Column("Done"),
                Column("Published"),
            ),
            action_rows,
        ),
    )
}


def dataset(name: str) -> Dataset:
    try:
        return DATASETS[name]
    except KeyError:
        raise InvalidInput(f"Unknown export {name!r}; choose one of {', '.join(DATASETS)}.", field="dataset") from None
