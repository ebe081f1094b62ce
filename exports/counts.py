"""How many rows an export will have, before it runs: whether it is sent at once or built in the background,
and the total its progress is shown against. The same filters as the datasets, counted by the database; an
upper bound, since people under restriction are left out as the rows stream."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from exports.datasets import ExportFilter, _dated, _scoped
from feedback.actions import ImprovementAction
from feedback.cases import ComplaintCase
from surveys.models import Answer, Contact, Response, Service


def _count_statement(name: str, found: ExportFilter) -> Select[Any]:
    if name == "responses":
        base = select(func.count(Response.id)).join(Service, Service.id == Response.service_id)
        return _scoped(_dated(base, Response.submitted_at, found), Response.channel, found)
    if name == "comments":
        base = (
            select(func.count(Answer.id))
            .join(Response, Response.id == Answer.response_id)
            .join(Service, Service.id == Response.service_id)
            .where(Answer.text_ciphertext.is_not(None))
        )
        return _scoped(_dated(base, Response.submitted_at, found), Response.channel, found)
    if name == "contacts":
        base = select(func.count(Contact.id)).join(Service, Service.id == Contact.service_id)
        return _scoped(_dated(base, Contact.occurred_at, found), Contact.channel, found)
    if name == "cases":
        base = select(func.count(ComplaintCase.id)).outerjoin(Service, Service.id == ComplaintCase.service_id)
        return _scoped(_dated(base, ComplaintCase.created_at, found), None, found)
    if name == "actions":
        base = select(func.count(ImprovementAction.id)).outerjoin(Service, Service.id == ImprovementAction.service_id)
        return _scoped(_dated(base, ImprovementAction.created_at, found), None, found)
    raise KeyError(name)


async def expected_rows(session: AsyncSession, name: str, found: ExportFilter) -> int:
    return int(await session.scalar(_count_statement(name, found)) or 0)
