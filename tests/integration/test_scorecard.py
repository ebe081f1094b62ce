"""The scorecard from raw rows to figures: a rebuild, upkeep as records arrive and change, the service, the
``--json`` command and the dashboard all agree, on hand-computed examples and on any split of the data."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select, update

from civicvoice.cli import cli
from civicvoice.core.clock import utcnow
from civicvoice.core.db import read_only, unit_of_work
from feedback.callbacks import Callback
from feedback.models import CommentClassification, CommentScore
from feedback.quality import Evaluation
from feedback.scorecard.formulas import ServiceLevelThresholds
from feedback.scorecard.models import RollupMark, ScorecardRollup
from feedback.scorecard.rollups import ALL_PARTS, COUNTERS, compute_month, month_start, next_month, previous_month
from feedback.scorecard.service import Scorecard
from feedback.scorecard.upkeep import (
    OutsideRetention,
    apply_plan,
    plan_step,
    rebuild_month,
    run_upkeep,
    set_repeat_flags,
    upkeep_step,
)
from surveys.models import Contact, Response, Service
from tests.integration.scorecard_data import Builder, ContactSpec
from tests.integration.support import TestDatabase
from tests.integration.test_keys_and_cli import env_for
from tests.integration.test_staff_login import make_user, sign_in

Client = AsyncTestClient[Litestar]
THRESHOLDS = ServiceLevelThresholds()


def months_ago(count: int) -> date:
    month = month_start(utcnow())
    for _ in range(count):
        month = previous_month(month)
    return month


def at(month: date, day: int, hour: int = 10) -> datetime:
    return datetime(month.year, month.month, day, hour, tzinfo=UTC)


def hand_example(month: date) -> list[ContactSpec]:
    """Four council-tax contacts and one on parking, with every kind of fact behind a figure."""
    return [
        # Phone, answered in 15 s (within 20 s), resolved per the contact system, survey satisfied.
        ContactSpec(
            "council-tax",
            "phone",
            at(month, 3),
            agent="A1",
            person=1,
            wait=15,
            handling=300,
            reported_fcr=True,
            invited=True,
            answered=True,
            satisfaction=5,
            resolved="yes",
            sentiment=0.5,
            compliment=True,
            evaluation=80.0,
        ),
        # Phone, 45 s wait (late), transferred; survey "no": not resolved; complaint closed with an improvement.
        ContactSpec(
            "council-tax",
            "phone",
            at(month, 4),
            agent="A1",
            person=2,
            wait=45,
            handling=600,
            transferred=True,
            invited=True,
            answered=True,
            satisfaction=2,
            resolved="no",
            sentiment=-0.25,
            complaint_closed=True,
            improved=True,
            callback_on_time=True,
            evaluation=61.0,
        ),
        # Web chat, within 60 s; invited, not answered; the same person again 2 days later: a repeat.
        ContactSpec(
            "council-tax", "web_chat", at(month, 10), agent="B2", person=3, wait=30, handling=200, invited=True
        ),
        ContactSpec("council-tax", "web_chat", at(month, 12), agent="B2", person=3, wait=90, handling=100),
        # Another service: must not show in council-tax's figures.
        ContactSpec(
            "parking",
            "phone",
            at(month, 5),
            agent="C3",
            wait=10,
            handling=50,
            invited=True,
            answered=True,
            satisfaction=4,
        ),
    ]


async def test_hand_computed_figures_agree_across_rebuild_json_and_dashboard(
    db: TestDatabase, catalogue: None, client: Client, settings: Any
) -> None:
    month = months_ago(2)
    builder = Builder()
    async with unit_of_work(db.sessions) as session:
        await builder.add(session, hand_example(month))
        await set_repeat_flags(session, now=utcnow())
        result = await rebuild_month(session, month, thresholds=THRESHOLDS)
    assert result.services >= 2 and result.rows == 3  # council-tax: phone/A1, web_chat/B2; parking: phone/C3
    card = Scorecard()
    async with db.sessions() as session:
        scope = await card.scope(session, service="council-tax")
        report = await card.report(session, month, scope)
    value = {f.slug: f.value for f in report.figures}
    count = {f.slug: f.count for f in report.figures}
    # Service level: 15 <= 20 (phone), 45 > 20 (phone), 30 <= 60 (chat), 90 > 60 (chat): 2 of 4.
    assert value["service-level"] == 0.5 and count["service-level"] == 4
    assert value["average-wait"] == (15 + 45 + 30 + 90) / 4
    assert value["average-handling-time"] == (300 + 600 + 200 + 100) / 4
    assert value["transfers-out"] == 0.25
    # FCR: reported yes; survey "no"; repeated (window closed); the repeat itself: no repeat, no survey -> yes.
    assert (value["first-contact-resolution"], count["first-contact-resolution"]) == (0.5, 4)
    assert (value["customer-satisfaction"], count["customer-satisfaction"]) == (0.5, 2)
    assert value["response-rate"] == pytest.approx(2 / 3)
    assert value["sentiment-trend"] == pytest.approx(0.125)
    assert value["compliments"] == 1
    assert value["complaints-generating-improvements"] == 1.0
    assert value["callbacks-on-time"] == 1.0
    assert value["contact-quality-score"] == pytest.approx((80 + 61) / 2)
    assert value["contacts-evaluated"] == 0.5
    channel_use = report.figure("channel-use").by_category
    assert channel_use == {"phone": 0.5, "web_chat": 0.5}
    # Agent scope: only their own contacts and only their quality and satisfaction measures.
    async with db.sessions() as session:
        agent_report = await card.report(session, month, await card.scope(session, agent_ref="A1"))
    assert {f.slug for f in agent_report.figures} <= {f.slug for f in report.figures}
    assert "response-rate" not in {f.slug for f in agent_report.figures}
    assert agent_report.figure("average-wait").value == 30.0

    # The --json command prints the very same figures.
    env = env_for(settings)
    done = await asyncio.to_thread(
        CliRunner().invoke,
        cli,
        ["scorecard", "--month", f"{month:%Y-%m}", "--service", "council-tax", "--json"],
        env=env,
    )
    assert done.exit_code == 0, done.output
    printed = json.loads(done.output)
    assert printed == json.loads(json.dumps(report.as_json()))
    assert {f["measure"] for f in printed["figures"]} == set(value)
    assert all({"target", "status", "change", "source"} <= set(f) for f in printed["figures"])

    # The dashboard shows them.
    await make_user(db, "quality_reviewer")
    await sign_in(client, "quality_reviewer@council.gov.uk")
    page = await client.get(f"/staff/scorecard?month={month:%Y-%m}&service=council-tax")
    assert page.status_code == 200, page.text
    assert "50.0%" in page.text and "1 min 45 s" not in page.text
    assert 'data-measure="service-level"' in page.text and "<svg" in page.text
    drill = await client.get(f"/staff/scorecard/records?month={month:%Y-%m}&service=council-tax&measure=service-level")
    assert drill.status_code == 200 and "4 records" in drill.text


async def test_a_rebuild_refuses_a_month_outside_retention_and_keeps_its_rollups(
    db: TestDatabase, catalogue: None, settings: Any
) -> None:
    old = months_ago(30)
    async with unit_of_work(db.sessions) as session:
        service_id = await session.scalar(select(Service.id).where(Service.slug == "council-tax"))
        assert service_id is not None
        session.add(ScorecardRollup(month=old, service_id=service_id, channel="phone", agent_ref="", contacts=7))
    async with unit_of_work(db.sessions) as session:
        with pytest.raises(OutsideRetention, match="outside retention"):
            await rebuild_month(session, old, thresholds=THRESHOLDS)
    done = await asyncio.to_thread(
        CliRunner().invoke, cli, ["scorecard", "rebuild", "--month", f"{old:%Y-%m}"], env=env_for(settings)
    )
    assert done.exit_code == 1 and "outside retention" in done.output and "Traceback" not in done.output
    assert [row.contacts for row in await db.all(ScorecardRollup)] == [7]
    bad = await asyncio.to_thread(
        CliRunner().invoke, cli, ["scorecard", "rebuild", "--month", "2026-13"], env=env_for(settings)
    )
    assert bad.exit_code == 2 and "YYYY-MM" in bad.output


async def test_repeat_contacts_across_a_month_end_and_flags_survive_erasure(db: TestDatabase, catalogue: None) -> None:
    january = months_ago(3)
    february = next_month(january)
    builder = Builder()
    last_day = (february - timedelta(days=1)).day
    async with unit_of_work(db.sessions) as session:
        first, second = await builder.add(
            session,
            [
                ContactSpec("council-tax", "phone", at(january, last_day - 1), person=1, wait=5),
                ContactSpec("council-tax", "phone", at(february, 3), person=1, wait=5),
            ],
        )
        flagged = await set_repeat_flags(session, now=utcnow())
        assert flagged.flagged == 2 and flagged.repeats == 1
        await rebuild_month(session, january, thresholds=THRESHOLDS)
        await rebuild_month(session, february, thresholds=THRESHOLDS)
    card = Scorecard()
    async with db.sessions() as session:
        scope = await card.scope(session)
        jan = (await card.report(session, january, scope)).figure("first-contact-resolution")
        feb = (await card.report(session, february, scope)).figure("first-contact-resolution")
    assert (jan.value, jan.count) == (0.0, 1)  # repeated in February: January's contact was not resolved
    assert (feb.value, feb.count) == (1.0, 1)
    # Erasure unlinks the person; the stored flags and a rebuild keep January's figure.
    async with unit_of_work(db.sessions) as session:
        await session.execute(update(Contact).values(subject_id=None))
        await rebuild_month(session, january, thresholds=THRESHOLDS)
        assert (await session.get(Contact, first)).repeat_contact is True  # type: ignore[union-attr]
        assert (await session.get(Contact, second)).repeat_contact is False  # type: ignore[union-attr]
    async with db.sessions() as session:
        again = (await card.report(session, january, await card.scope(session))).figure("first-contact-resolution")
    assert (again.value, again.count) == (0.0, 1)


async def _stored(db: TestDatabase, month: date) -> dict[tuple[Any, str, str], dict[str, int]]:
    rows = [row for row in await db.all(ScorecardRollup) if row.month == month]
    return {(r.service_id, r.channel, r.agent_ref): {n: getattr(r, n) for n in COUNTERS} for r in rows}


async def _fresh(db: TestDatabase, month: date) -> dict[tuple[Any, str, str], dict[str, int]]:
    async with db.sessions() as session:
        found = {}
        for service_id in (await session.scalars(select(Service.id))).all():
            for (channel, agent), values in (
                await compute_month(session, month, service_id, thresholds=THRESHOLDS)
            ).items():
                found[(service_id, channel, agent)] = values
        return found


async def test_upkeep_follows_arrivals_and_changes(db: TestDatabase, catalogue: None) -> None:
    month = months_ago(1)
    builder = Builder()
    async with unit_of_work(db.sessions) as session:
        await builder.add(session, hand_example(month)[:3])
    later = utcnow() + timedelta(seconds=30)  # past the lag
    async with unit_of_work(db.sessions) as session:
        step = await upkeep_step(session, thresholds=THRESHOLDS, now=later)
    assert step.recomputed >= 1 and step.finished
    assert await _stored(db, month) == await _fresh(db, month)
    # A change rather than an arrival: a callback made late is marked in its own transaction.
    async with unit_of_work(db.sessions) as session:
        callback = await session.scalar(select(Callback))
        assert callback is not None
        callback.done_at = callback.due_at + timedelta(days=2)
    async with unit_of_work(db.sessions) as session:
        await upkeep_step(session, thresholds=THRESHOLDS, now=utcnow() + timedelta(seconds=30))
    stored = await _stored(db, month)
    assert stored == await _fresh(db, month)
    assert sum(v["callbacks_on_time"] for v in stored.values()) == 0
    assert sum(v["callbacks_due"] for v in stored.values()) == 1
    # Nothing new: a step reads nothing and recomputes nothing.
    async with unit_of_work(db.sessions) as session:
        idle = await upkeep_step(session, thresholds=THRESHOLDS, now=utcnow() + timedelta(seconds=30))
    assert (idle.read, idle.recomputed) == (0, 0)


async def _hand_month(db: TestDatabase) -> tuple[date, list[Any], datetime]:
    """The hand example last month, stored; and a moment past upkeep's lag."""
    month = months_ago(1)
    async with unit_of_work(db.sessions) as session:
        contacts = await Builder().add(session, hand_example(month))
    return month, contacts, utcnow() + timedelta(seconds=30)


async def test_the_worker_recomputes_as_a_reader_and_gives_way_to_a_run_that_overtook_it(
    db: TestDatabase, catalogue: None
) -> None:
    month, _, later = await _hand_month(db)
    # The reading and recomputing hold no writer lock: another transaction writes and commits meanwhile.
    async with db.sessions() as session, session.begin():
        await read_only(session)
        stale = await plan_step(session, thresholds=THRESHOLDS, now=later)
        assert stale.changed and stale.result.recomputed >= 1

        async def write_meanwhile() -> None:
            async with unit_of_work(db.sessions) as other:
                await other.execute(update(Contact).values(do_not_survey=False))

        await asyncio.wait_for(write_meanwhile(), timeout=10)
    assert await _stored(db, month) == {}  # a plan writes nothing
    # Another run overtakes the plan: it flags the repeat contacts whose window has closed, recomputes and writes.
    done = await run_upkeep(db.sessions, thresholds=THRESHOLDS, now=later)
    assert done.finished and done.recomputed >= 1 and done.flagged == len(hand_example(month))
    assert await _stored(db, month) == await _fresh(db, month) != {}
    # The overtaken plan, read before those flags were stored, is refused and writes nothing.
    async with unit_of_work(db.sessions) as session:
        assert await apply_plan(session, stale, thresholds=THRESHOLDS) is False
    assert await _stored(db, month) == await _fresh(db, month)
    async with db.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(RollupMark)) == 0
    # Caught up, a run reads nothing and opens no write transaction.
    idle = await run_upkeep(db.sessions, thresholds=THRESHOLDS, now=later + timedelta(seconds=15))
    assert (idle.read, idle.recomputed, idle.flagged, idle.finished) == (0, 0, 0, True)


async def test_a_step_folds_every_batch_of_new_rows_into_one_recomputation_per_month(
    db: TestDatabase, catalogue: None
) -> None:
    month, _, later = await _hand_month(db)
    async with db.sessions() as session:
        rows = sum(
            [
                await session.scalar(select(func.count()).select_from(table)) or 0
                for table in (Contact, Response, CommentScore)
            ]
        )
    async with unit_of_work(db.sessions) as session:
        step = await upkeep_step(session, thresholds=THRESHOLDS, now=later, batch=2)
    # Batches of two, all read in the one step; two services' month, each recomputed once (the step is not finished:
    # its repeat flags and marks came in batches of two as well).
    assert (step.read, step.recomputed) == (rows, 2) and rows > 2
    while not step.finished:
        async with unit_of_work(db.sessions) as session:
            step = await upkeep_step(session, thresholds=THRESHOLDS, now=later, batch=2)
        assert step.read == 0
    assert await _stored(db, month) == await _fresh(db, month)


async def test_a_change_recomputes_only_the_counters_it_can_change(db: TestDatabase, catalogue: None) -> None:
    month, contacts, later = await _hand_month(db)
    await run_upkeep(db.sessions, thresholds=THRESHOLDS, now=later)
    assert await _stored(db, month) == await _fresh(db, month)

    async def upkeep_parts() -> set[frozenset[str]]:
        async with db.sessions() as session, session.begin():
            await read_only(session)
            plan = await plan_step(session, thresholds=THRESHOLDS, now=utcnow() + timedelta(seconds=30))
        async with unit_of_work(db.sessions) as session:
            assert await apply_plan(session, plan, thresholds=THRESHOLDS)
        assert await _stored(db, month) == await _fresh(db, month)
        return {parts for parts, _ in plan.computed.values()}

    # A reviewer turns a compliment into a complaint: the compliments alone.
    async with unit_of_work(db.sessions) as session:
        reviewed = await session.scalar(select(CommentClassification).limit(1))
        assert reviewed is not None
        reviewed.reviewed_class = "complaint"
    assert await upkeep_parts() == {frozenset({"compliments"})}
    # A contact evaluated: its quality figures.
    async with unit_of_work(db.sessions) as session:
        contact = await session.get(Contact, contacts[-1])
        assert contact is not None
        session.add(
            Evaluation(
                contact_id=contact.id,
                agent_ref=contact.agent_ref,
                service_id=contact.service_id,
                reviewer_id="reviewer",
                marks={},
                weights={},
                score=40.0,
            )
        )
    assert await upkeep_parts() == {frozenset({"quality"})}
    # A callback made again later: the callbacks.
    async with unit_of_work(db.sessions) as session:
        callback = await session.scalar(select(Callback))
        assert callback is not None
        callback.done_at = callback.due_at + timedelta(days=3)
    assert await upkeep_parts() == {frozenset({"callbacks"})}
    # The daily run's mark: everything.
    async with unit_of_work(db.sessions) as session:
        session.add(RollupMark(kind="month", month=month, service_id=contact.service_id))
    assert await upkeep_parts() == {ALL_PARTS}


_SERVICES = ("council-tax", "parking")
_CHANNELS = ("phone", "web_chat", "email")


@st.composite
def contact_specs(draw: st.DrawFn) -> ContactSpec:
    """A contact in a placeholder month; the test moves it to its own."""
    month = date(2000, 1, 1)
    invited = draw(st.booleans())
    answered = invited and draw(st.booleans())
    return ContactSpec(
        draw(st.sampled_from(_SERVICES)),
        draw(st.sampled_from(_CHANNELS)),
        at(month, draw(st.integers(1, 27)), draw(st.integers(0, 23))),
        agent=draw(st.sampled_from([None, "A1", "B2"])),
        person=draw(st.none() | st.integers(0, 4)),
        wait=draw(st.none() | st.integers(0, 4000)),
        handling=draw(st.none() | st.integers(0, 4000)),
        transferred=draw(st.booleans()),
        reported_fcr=draw(st.sampled_from([None, True, False])),
        invited=invited,
        answered=answered,
        satisfaction=draw(st.none() | st.integers(1, 5)) if answered else None,
        resolved=draw(st.sampled_from([None, "yes", "partly", "no"])) if answered else None,
        sentiment=draw(st.none() | st.floats(-1, 1)) if answered else None,
        compliment=answered and draw(st.booleans()),
        evaluation=draw(st.none() | st.floats(0, 100)),
        complaint_closed=answered and draw(st.booleans()),
        improved=draw(st.booleans()),
        callback_on_time=draw(st.sampled_from([None, True, False])) if answered else None,
    )


_EXAMPLE = iter(range(4, 200))


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
async def test_upkeep_over_any_split_equals_a_rebuild_from_raw_rows(
    db: TestDatabase, catalogue: None, data: st.DataObject
) -> None:
    specs = data.draw(st.lists(contact_specs(), min_size=1, max_size=14))
    month = months_ago(next(_EXAMPLE))  # each example its own month, so examples do not meet
    specs = [replace(s, occurred_at=s.occurred_at.replace(year=month.year, month=month.month)) for s in specs]
    cuts = sorted(data.draw(st.lists(st.integers(0, len(specs)), max_size=3)))
    builder = Builder()
    start = 0
    for cut in [*cuts, len(specs)]:
        async with unit_of_work(db.sessions) as session:
            await builder.add(session, specs[start:cut])
        start = cut
        async with unit_of_work(db.sessions) as session:
            await upkeep_step(session, thresholds=THRESHOLDS, now=utcnow() + timedelta(seconds=30))
    upkept = await _stored(db, month)
    async with unit_of_work(db.sessions) as session:
        await rebuild_month(session, month, thresholds=THRESHOLDS)
    assert upkept == await _stored(db, month) == await _fresh(db, month)
    # The figures read from the rollups equal those of the merged per-service reports' rows.
    card = Scorecard()
    async with db.sessions() as session:
        whole = await card.report(session, month, await card.scope(session))
        parts = [await card.report(session, month, await card.scope(session, service=s)) for s in _SERVICES]
    merged = parts[0].rollup.merge(parts[1].rollup)
    assert merged.contacts == whole.rollup.contacts and merged.surveys == whole.rollup.surveys
    assert merged.quality == whole.rollup.quality
