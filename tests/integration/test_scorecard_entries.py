"""Scorecard measures other systems hold: entered by service managers, posted by systems through the API (with
problem details for bad input and nothing stored), targets set by managers, and each role's scope."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from civicvoice.core.audit import AuditEvent
from civicvoice.core.clock import utcnow
from civicvoice.core.db import unit_of_work
from feedback.scorecard.formulas import ServiceLevelThresholds, Status
from feedback.scorecard.models import EnteredFigure, MeasureTarget
from feedback.scorecard.rollups import month_start, previous_month
from feedback.scorecard.service import Scorecard
from feedback.scorecard.upkeep import rebuild_month
from tests.integration.scorecard_data import Builder, ContactSpec
from tests.integration.support import TestDatabase
from tests.integration.test_staff_login import csrf_from, make_user, sign_in

Client = AsyncTestClient[Litestar]


def last_month() -> date:
    return previous_month(month_start(utcnow()))


async def test_systems_post_figures_and_bad_input_is_a_problem(client: Client, db: TestDatabase) -> None:
    key = await db.api_key(["scorecard:write"], sources=("workforce",))
    headers = {"authorization": f"Bearer {key}"}
    month = f"{last_month():%Y-%m}"
    good = {"source": "workforce", "month": month, "service": "council-tax", "measure": "utilisation", "value": 81.5}
    done = await client.post("/api/v1/scorecard/figures", json={**good, "team": "Team A"}, headers=headers)
    assert done.status_code == 201, done.text
    assert done.json()["value"] == 81.5
    again = await client.post(
        "/api/v1/scorecard/figures", json={**good, "team": "Team A", "value": 83}, headers=headers
    )
    assert again.status_code == 201
    bad_cases: list[tuple[dict[str, Any], int]] = [
        ({**good, "value": 120}, 422),  # a percentage over 100
        ({**good, "measure": "staff-leaving", "value": 1.5}, 422),  # a count must be whole
        ({**good, "month": "2026-13"}, 422),
        ({**good, "service": "no-such-service"}, 404),
        ({**good, "measure": "customer-satisfaction"}, 400),  # computed, never entered
        ({**good, "value": "80"}, 400),  # strict: a string is not a number
        ({**good, "person": "Jo Bloggs"}, 400),  # no field for a person
        ({**good, "source": "crm"}, 403),  # the key is not bound to that source
    ]
    for body, status in bad_cases:
        refused = await client.post("/api/v1/scorecard/figures", json=body, headers=headers)
        assert refused.status_code == status, (body, refused.text)
        assert refused.headers["content-type"].startswith("application/problem+json")
    contacts_key = {"authorization": f"Bearer {await db.api_key(['contacts:write'])}"}
    assert (await client.post("/api/v1/scorecard/figures", json=good, headers=contacts_key)).status_code == 403
    rows = await db.all(EnteredFigure)
    assert [(r.measure, r.team, r.value, r.source) for r in rows] == [("utilisation", "Team A", 0.83, "workforce")]
    assert rows[0].entered_by.startswith("api_key:")
    audited = [e for e in await db.all(AuditEvent) if e.action == "scorecard.figure_entered"]
    assert len(audited) == 2 and audited[1].detail["before"] == 0.815


async def test_managers_enter_figures_and_set_targets_and_see_their_status(client: Client, db: TestDatabase) -> None:
    month = last_month()
    await make_user(db, "service_manager", service_scope=["council-tax"])
    csrf = await sign_in(client, "service_manager@council.gov.uk")
    form = {"csrf_token": csrf, "month": f"{month:%Y-%m}", "service": "council-tax", "measure": "sickness-absence-days"}
    for team, value in (("Team A", "4"), ("Team B", "2.5")):
        saved = await client.post(
            "/staff/scorecard/entries", data={**form, "team": team, "value": value}, follow_redirects=False
        )
        assert saved.status_code == 303, saved.text
    refused = await client.post("/staff/scorecard/entries", data={**form, "service": "parking", "value": "1"})
    assert refused.status_code == 422 and "your own services" in refused.text
    nonsense = await client.post("/staff/scorecard/entries", data={**form, "value": "lots"})
    assert nonsense.status_code == 422 and "as a number" in nonsense.text
    assert len(await db.all(EnteredFigure)) == 2
    # Target: at most 5 days lost, lower is better, amber up to 2 days over.
    target = {"csrf_token": csrf, "measure": "sickness-absence-days", "service": "council-tax", "value": "5"}
    set_target = await client.post(
        "/staff/scorecard/targets", data={**target, "direction": "lower", "tolerance": "2"}, follow_redirects=False
    )
    assert set_target.status_code == 303, set_target.text
    wide = await client.post("/staff/scorecard/targets", data={**target, "service": ""})
    assert wide.status_code == 422 and "your own services" in wide.text
    assert [t.value for t in await db.all(MeasureTarget)] == [5.0]
    card = Scorecard()
    async with db.sessions() as session:
        report = await card.report(session, month, await card.scope(session, service="council-tax"))
    sickness = report.figure("sickness-absence-days")
    assert (sickness.value, sickness.status, sickness.entered_from) == (6.5, Status.amber, ("staff UI",))
    page = await client.get(f"/staff/scorecard?month={month:%Y-%m}&service=council-tax")
    assert page.status_code == 200 and "Near target" in page.text and "staff UI" in page.text
    # A service manager's scope is their services: another's figures are refused.
    other = await client.get(f"/staff/scorecard?month={month:%Y-%m}&service=parking")
    assert other.status_code == 404
    entries = await client.get(f"/staff/scorecard/entries?month={month:%Y-%m}")
    assert entries.status_code == 200 and "Team B" in entries.text and csrf_from(entries.text)


async def test_each_role_sees_its_own_scope(client: Client, db: TestDatabase) -> None:
    month = last_month()
    moment = datetime(month.year, month.month, 2, 9, tzinfo=UTC)
    async with unit_of_work(db.sessions) as session:
        await Builder().add(
            session,
            [
                ContactSpec(
                    "council-tax", "phone", moment, agent="A1", wait=10, invited=True, answered=True, satisfaction=5
                ),
                ContactSpec(
                    "council-tax", "phone", moment, agent="B2", wait=50, invited=True, answered=True, satisfaction=1
                ),
                ContactSpec("parking", "phone", moment, agent="B2", wait=50),
            ],
        )
        await rebuild_month(session, month, thresholds=ServiceLevelThresholds())
    await make_user(db, "agent", agent_ref="A1")
    await sign_in(client, "agent@council.gov.uk")
    own = await client.get(f"/staff/scorecard?month={month:%Y-%m}")
    assert own.status_code == 200
    assert "agent A1" in own.text and "100.0%" in own.text  # satisfaction of A1's one answer
    assert "Survey response rate" not in own.text and "Utilisation" not in own.text
    drill = await client.get(f"/staff/scorecard/records?month={month:%Y-%m}&measure=average-wait")
    assert drill.status_code == 200 and "1 records" in drill.text and "B2" not in drill.text
    refused = await client.get(f"/staff/scorecard/records?month={month:%Y-%m}&measure=utilisation")
    assert refused.status_code == 422
    client.cookies.clear()
    await make_user(db, "service_manager", service_scope=["parking"])
    await sign_in(client, "service_manager@council.gov.uk")
    mine = await client.get(f"/staff/scorecard/records?month={month:%Y-%m}&measure=average-wait")
    assert mine.status_code == 200 and "1 records" in mine.text and "Parking and permits" in mine.text
    async with db.sessions() as session:
        assert await session.scalar(select(EnteredFigure.id)) is None
