"""Service-level thresholds per channel: an admin changes them on the staff page or through the CLI, the change is
audited, the months inside retention are rebuilt with them by a background job, and each month says what it was
measured against; bad input changes nothing."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from typing import Any

from click.testing import CliRunner
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import update

from civicvoice.cli import cli
from civicvoice.core.audit import AuditEvent
from civicvoice.core.clock import utcnow
from civicvoice.core.db import unit_of_work
from civicvoice.core.jobs import Job, Worker
from feedback.scorecard.formulas import DEFAULT_SERVICE_LEVEL_SECONDS
from feedback.scorecard.models import ScorecardRollup, ServiceLevelSetting
from feedback.scorecard.service_levels import REBUILD_JOB
from feedback.scorecard.upkeep import rebuild_month, set_repeat_flags
from tests.integration.scorecard_data import Builder
from tests.integration.support import TestDatabase
from tests.integration.test_keys_and_cli import env_for
from tests.integration.test_scorecard import THRESHOLDS, hand_example, months_ago
from tests.integration.test_staff_login import csrf_from, make_user, sign_in

Client = AsyncTestClient[Litestar]
PAGE = "/staff/scorecard/service-levels"


async def _json(settings: Any, month: str) -> dict[str, Any]:
    done = await asyncio.to_thread(
        CliRunner().invoke,
        cli,
        ["scorecard", "--month", month, "--service", "council-tax", "--json"],
        env=env_for(settings),
    )
    assert done.exit_code == 0, done.output
    [figure] = [f for f in json.loads(done.output)["figures"] if f["measure"] == "service-level"]
    return dict(figure)


async def _run_jobs(app: Litestar, db: TestDatabase) -> int:
    # The rebuild waits for every process's threshold cache to expire; run it as the worker would then.
    worker = Worker(app.state.jobs, db.sessions, app.state.services)
    return await worker.run_due(now=utcnow() + timedelta(minutes=2))


async def test_an_admin_changes_a_threshold_and_the_rebuild_job_recomputes_the_months(
    db: TestDatabase, app: Litestar, client: Client, settings: Any
) -> None:
    month = months_ago(2)
    async with unit_of_work(db.sessions) as session:
        await Builder().add(session, hand_example(month))
        await set_repeat_flags(session, now=utcnow())
        await rebuild_month(session, month, thresholds=THRESHOLDS)
    before = await _json(settings, f"{month:%Y-%m}")
    # Phone 15 s and 45 s against 20 s, web chat 30 s and 90 s against 60 s: 2 of 4.
    assert before["value"] == 0.5
    assert before["thresholds_seconds"] == {"phone": [20, 20], "web_chat": [60, 60]}

    admin = await make_user(db, "admin")
    await sign_in(client, "admin@council.gov.uk")
    form = await client.get(PAGE)
    assert form.status_code == 200 and 'value="20"' in form.text
    # The form holds every channel's threshold; only the phone's changes.
    fields = {channel: str(seconds) for channel, seconds in DEFAULT_SERVICE_LEVEL_SECONDS.items()} | {"phone": "50"}
    saved = await client.post(PAGE, data={"csrf_token": csrf_from(form.text), **fields}, follow_redirects=False)
    assert saved.status_code == 303, saved.text
    assert {row.channel: row.seconds for row in await db.all(ServiceLevelSetting)} == {"phone": 50}
    [event] = [e for e in await db.all(AuditEvent) if e.action == "scorecard.service_levels_set"]
    assert event.actor_id == str(admin.id) and event.detail["changed"] == {"phone": {"from": 20, "to": 50}}
    assert [j.name for j in await db.all(Job) if j.name == REBUILD_JOB] == [REBUILD_JOB]
    # Until the rebuild runs, the month says honestly what it was measured against.
    assert (await _json(settings, f"{month:%Y-%m}"))["thresholds_seconds"]["phone"] == [20, 20]

    assert await _run_jobs(app, db) >= 1
    after = await _json(settings, f"{month:%Y-%m}")
    # Now 45 s on the phone is within 50 s: 3 of 4.
    assert after["value"] == 0.75 and after["count"] == 4
    assert after["thresholds_seconds"] == {"phone": [50, 50], "web_chat": [60, 60]}
    page = await client.get(f"/staff/scorecard?month={month:%Y-%m}&service=council-tax")
    assert page.status_code == 200 and "75.0%" in page.text
    assert "Answered within: phone 50 s; web chat 1 min." in page.text
    drill = await client.get(f"/staff/scorecard/records?month={month:%Y-%m}&service=council-tax&measure=service-level")
    assert drill.status_code == 200 and "Answered within: phone 50 s; web chat 1 min." in drill.text

    # The CLI shows and sets them too (audited as the operator); setting the same value again changes nothing.
    env = env_for(settings)
    shown = await asyncio.to_thread(CliRunner().invoke, cli, ["scorecard", "thresholds", "--json"], env=env)
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.output)["thresholds_seconds"]["phone"] == 50
    done = await asyncio.to_thread(
        CliRunner().invoke, cli, ["scorecard", "thresholds", "--set", "web_chat=100", "--set", "phone=50"], env=env
    )
    assert done.exit_code == 0, done.output
    assert "web_chat" in done.output and "(changed)" in done.output and "rebuilt" in done.output
    events = [e for e in await db.all(AuditEvent) if e.action == "scorecard.service_levels_set"]
    assert [e.detail["changed"] for e in events if e.actor_kind == "cli"] == [{"web_chat": {"from": 60, "to": 100}}]
    await _run_jobs(app, db)
    # Web chat 90 s is now within 100 s: 4 of 4.
    assert (await _json(settings, f"{month:%Y-%m}"))["value"] == 1.0
    # Rollups computed before thresholds were recorded say so rather than guess.
    async with unit_of_work(db.sessions) as session:
        await session.execute(update(ScorecardRollup).values(service_level_seconds=None))
    assert (await _json(settings, f"{month:%Y-%m}"))["thresholds_seconds"] == {"phone": None, "web_chat": None}


async def test_bad_thresholds_are_refused_and_change_nothing(db: TestDatabase, client: Client, settings: Any) -> None:
    await make_user(db, "admin")
    await sign_in(client, "admin@council.gov.uk")
    form = await client.get(PAGE)
    refused = await client.post(
        PAGE,
        data={"csrf_token": csrf_from(form.text), "phone": "twenty", "web_chat": "0", "face_to_face": "3601"},
        follow_redirects=False,
    )
    assert refused.status_code == 422
    assert "There is a problem" in refused.text
    assert "Give the phone threshold as a whole number of seconds" in refused.text
    assert "The web chat threshold must be from 1 to 3,600 seconds." in refused.text
    assert "The face to face threshold must be from 1 to 3,600 seconds." in refused.text
    assert 'href="#phone"' in refused.text and 'value="twenty"' in refused.text
    env = env_for(settings)
    for arguments, message in (
        (["--set", "phone=0"], "from 1 to 3,600"),
        (["--set", "phone=12.5"], "whole number of seconds"),
        (["--set", "fax=10"], "No channel is called 'fax'"),
        (["--set", "phone"], "CHANNEL=SECONDS"),
        (["--set", "email=99999999"], "from 1 to 2,592,000"),
    ):
        done = await asyncio.to_thread(CliRunner().invoke, cli, ["scorecard", "thresholds", *arguments], env=env)
        assert done.exit_code == 2 and message in done.output and "Traceback" not in done.output, done.output
    assert await db.all(ServiceLevelSetting) == []
    assert [e for e in await db.all(AuditEvent) if e.action == "scorecard.service_levels_set"] == []
    assert [j for j in await db.all(Job) if j.name == REBUILD_JOB] == []
