"""Council closure days stored in the database move deadlines, and every change is audited."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from civicvoice.core.audit import Actor, AuditEvent
from civicvoice.core.db import unit_of_work
from civicvoice.core.errors import NotFound
from privacy.closures import Closure, list_closures, remove_closures, save_closures, working_calendar
from privacy.deadlines import Region, response_deadline
from tests.integration.support import TestDatabase

CHRISTMAS = [Closure(date(2025, 12, 29), "Christmas closure"), Closure(date(2025, 12, 30), "Christmas closure")]


async def test_closure_days_move_deadlines_and_are_audited(db: TestDatabase) -> None:
    async with unit_of_work(db.sessions) as session:
        assert response_deadline(date(2025, 11, 29), await working_calendar(session)) == date(2025, 12, 29)
        assert await save_closures(session, CHRISTMAS, Actor.cli()) == {"added": 2, "updated": 0}
    async with unit_of_work(db.sessions) as session:
        assert await list_closures(session) == CHRISTMAS
        calendar = await working_calendar(session, Region.SCOTLAND)
        assert calendar.region is Region.SCOTLAND
        assert response_deadline(date(2025, 11, 29), calendar) == date(2025, 12, 31)
        # Saving again changes a reason and adds nothing twice.
        renamed = [Closure(date(2025, 12, 29), "Christmas closure (offices shut)"), CHRISTMAS[1]]
        assert await save_closures(session, renamed, Actor.cli()) == {"added": 0, "updated": 1}
    async with unit_of_work(db.sessions) as session:
        assert await list_closures(session, start=date(2025, 12, 29), end=date(2025, 12, 29)) == renamed[:1]
        assert await remove_closures(session, [date(2025, 12, 30)], Actor.cli()) == 1
        assert await list_closures(session) == renamed[:1]
        actions = sorted((await session.scalars(select(AuditEvent.action))).all())
    assert actions == [
        "privacy.closure_days.removed",
        "privacy.closure_days.saved",
        "privacy.closure_days.saved",
    ]


async def test_removing_a_day_that_is_not_listed_removes_nothing(db: TestDatabase) -> None:
    async with unit_of_work(db.sessions) as session:
        await save_closures(session, CHRISTMAS, Actor.cli())
    with pytest.raises(NotFound, match=r"Not a listed closure day: 2025-12-31\. Nothing was removed\."):
        async with unit_of_work(db.sessions) as session:
            await remove_closures(session, [date(2025, 12, 29), date(2025, 12, 31)], Actor.cli())
    async with db.sessions() as session:
        assert await list_closures(session) == CHRISTMAS
