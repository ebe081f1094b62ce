"""Scheduled scorecard reports: staff subscribe, change and stop on their page; the cron queues each period's
report once however often it runs; the send job mails it through a real SMTP server (attached or as a link),
retries when the server refuses, and sends nothing to a disabled account or a role that lost the scorecard."""

from __future__ import annotations

import asyncio
import io
from datetime import timedelta
from typing import Any

from aiosmtpd.controller import Controller
from litestar import Litestar
from litestar.testing import AsyncTestClient
from openpyxl import load_workbook
from sqlalchemy import select, update

from civicvoice.core.audit import AuditEvent
from civicvoice.core.auth import StaffUser
from civicvoice.core.clock import utcnow
from civicvoice.core.db import unit_of_work
from civicvoice.core.jobs import Job, Worker, enqueue
from exports.models import REPORTS_JOB, ReportDelivery, ReportFrequency, ReportSubscription
from exports.reports import SEND_REPORT_JOB, due_period, queue_due_reports
from exports.scorecard_workbook import COLUMN, SUMMARY_SHEET, TABLE_HEADER_ROW
from tests.integration.smtp import SmtpServer
from tests.integration.support import TestDatabase
from tests.integration.test_scorecard_workbook import printed_json, same, scorecard_data
from tests.integration.test_staff_login import csrf_from, make_user, sign_in

Client = AsyncTestClient[Litestar]
PAGE = "/staff/reports/subscription"


def worker_for(app: Litestar, db: TestDatabase) -> Worker:
    return Worker(app.state.jobs, db.sessions, app.state.services)


async def choose(client: Client, **form: str) -> Any:
    page = await client.get(PAGE)
    return await client.post(PAGE, data={"csrf_token": csrf_from(page.text), **form}, follow_redirects=False)


async def test_a_manager_subscribes_and_receives_each_report_once_with_their_own_figures(
    db: TestDatabase, loop_app: Litestar, loop_client: Client, smtp: SmtpServer, mail_settings: Any
) -> None:
    month = await scorecard_data(db)
    manager = await make_user(db, "service_manager", service_scope=["parking"])
    await sign_in(loop_client, "service_manager@council.gov.uk")
    dashboard = await loop_client.get(f"/staff/scorecard?month={month:%Y-%m}")
    assert f'href="{PAGE}"' in dashboard.text
    page = await loop_client.get(PAGE)
    assert "You do not receive it by email." in page.text

    # Bad choices are refused with the reason, and change nothing.
    bad = await choose(loop_client, frequency="daily", delivery="attachment")
    assert bad.status_code == 422 and "Choose how often: monthly or weekly." in bad.text
    assert 'href="#frequency"' in bad.text and 'id="frequency"' in bad.text
    worse = await choose(loop_client, frequency="monthly", delivery="pigeon")
    assert worse.status_code == 422 and "Choose how: the spreadsheet attached, or a link." in worse.text
    assert await db.count(ReportSubscription) == 0

    done = await choose(loop_client, frequency="weekly", delivery="link")
    assert done.status_code == 303 and done.headers["location"] == f"{PAGE}?saved=subscribed"
    done = await choose(loop_client, frequency="monthly", delivery="attachment")
    assert done.status_code == 303 and done.headers["location"] == f"{PAGE}?saved=changed"
    shown = await loop_client.get(f"{PAGE}?saved=changed")
    assert "Your choice is saved." in shown.text and "You receive it monthly: the spreadsheet attached." in shown.text
    (subscription,) = await db.all(ReportSubscription)
    assert (subscription.staff_user_id, subscription.frequency, subscription.delivery) == (
        manager.id,
        "monthly",
        "attachment",
    )
    actions = [e.action for e in await db.all(AuditEvent) if e.action.startswith("exports.report_")]
    assert actions == ["exports.report_subscribed", "exports.report_changed"]

    # The cron, run twice and by two workers at once, queues the period's report once.
    assert sum(await asyncio.gather(*(queue_in_own_session(db) for _ in range(3)))) == 1
    async with unit_of_work(db.sessions) as session:
        await enqueue(session, REPORTS_JOB, {})  # the registered cron, run by the worker: nothing more to queue
    worker = worker_for(loop_app, db)
    await worker.run_due()
    assert any(j.name == REPORTS_JOB and j.state == "done" for j in await db.all(Job))
    (delivery,) = await db.all(ReportDelivery)
    assert delivery.period == f"{month:%Y-%m}" and delivery.month == month and delivery.state == "sent"
    assert [j.name for j in await db.all(Job)].count(SEND_REPORT_JOB) == 1
    await worker.run_due()

    (message,) = smtp.messages
    assert message["To"] == "service_manager@council.gov.uk"
    assert message["Subject"] == f"Scorecard: {month:%B %Y}"
    assert message["Message-ID"] == f"<report-{delivery.id}@{mail_settings.mail_from.rsplit('@', 1)[-1]}>"
    (attached,) = list(message.iter_attachments())
    assert attached.get_filename() == f"scorecard-{month:%Y-%m}.xlsx"
    book = load_workbook(io.BytesIO(attached.get_content()))
    summary = book[SUMMARY_SHEET]
    assert summary["A2"].value == f"Your services, {month:%B %Y}"
    parking = {f["measure"]: f for f in (await printed_json(mail_settings, month, "--service", "parking"))["figures"]}
    row = TABLE_HEADER_ROW + 1 + list(parking).index("customer-satisfaction")
    assert summary.cell(row=row, column=COLUMN["Measure code"]).value == "customer-satisfaction"
    assert same(summary.cell(row=row, column=COLUMN["Figure"]).value, parking["customer-satisfaction"]["value"])
    assert "Sent" in (await loop_client.get(PAGE)).text
    # The send job run again for the same delivery (a restart replaying it) sends nothing more.
    async with unit_of_work(db.sessions) as session:
        await enqueue(session, SEND_REPORT_JOB, {"delivery_id": delivery.id})
    assert await worker.run_due() == 1
    assert len(smtp.messages) == 1

    # Stopping ends it: the subscription and its deliveries go, and nothing more is queued.
    page = await loop_client.get(PAGE)
    stopped = await loop_client.post(f"{PAGE}/stop", data={"csrf_token": csrf_from(page.text)}, follow_redirects=False)
    assert stopped.status_code == 303 and stopped.headers["location"] == f"{PAGE}?saved=stopped"
    assert await db.count(ReportSubscription) == 0 and await db.count(ReportDelivery) == 0
    async with unit_of_work(db.sessions) as session:
        assert await queue_due_reports(session) == 0
    again = await loop_client.post(f"{PAGE}/stop", data={"csrf_token": csrf_from(page.text)})
    assert again.status_code == 404


async def queue_in_own_session(db: TestDatabase) -> int:
    async with unit_of_work(db.sessions) as session:
        return await queue_due_reports(session)


async def subscribe_directly(db: TestDatabase, user: StaffUser, frequency: str, delivery: str) -> None:
    async with unit_of_work(db.sessions) as session:
        session.add(ReportSubscription(staff_user_id=user.id, frequency=frequency, delivery=delivery))


async def test_a_link_report_is_retried_after_a_refusal_and_lost_permissions_get_nothing(
    db: TestDatabase, loop_app: Litestar, loop_client: Client, smtp: SmtpServer, mail_settings: Any
) -> None:
    await scorecard_data(db)
    reviewer = await make_user(db, "quality_reviewer")
    disabled = await make_user(db, "service_manager", "gone@council.gov.uk", service_scope=["parking"])
    demoted = await make_user(db, "admin", "demoted@council.gov.uk")
    await subscribe_directly(db, reviewer, "weekly", "link")
    await subscribe_directly(db, disabled, "monthly", "attachment")
    await subscribe_directly(db, demoted, "monthly", "attachment")
    async with unit_of_work(db.sessions) as session:
        await session.execute(update(StaffUser).where(StaffUser.id == disabled.id).values(active=False))
        await session.execute(update(StaffUser).where(StaffUser.id == demoted.id).values(role="agent"))
        assert await queue_due_reports(session) == 3

    smtp.stop()  # the mail server is down: the send is tried again later
    worker = worker_for(loop_app, db)
    await worker.run_due()
    states = {d.subscription_id: d.state for d in await db.all(ReportDelivery)}
    assert sorted(states.values()) == ["queued", "skipped", "skipped"]
    (waiting,) = [j for j in await db.all(Job) if j.name == SEND_REPORT_JOB and j.state == "queued"]
    assert waiting.attempts == 1 and waiting.last_error and "MailNotAccepted" in waiting.last_error

    # Back up (a new server on the same port): the next attempt, after the back-off, sends it once.
    smtp.controller = Controller(smtp.sink, hostname="127.0.0.1", port=smtp.port)
    smtp.start()
    await worker.run_due(now=utcnow() + timedelta(minutes=10))
    await worker.run_due(now=utcnow() + timedelta(minutes=20))
    (message,) = smtp.messages
    due = due_period(ReportFrequency.weekly, utcnow())
    assert message["To"] == "quality_reviewer@council.gov.uk"
    assert message["Subject"] == f"Scorecard: {due.month:%B %Y} so far"
    assert list(message.iter_attachments()) == []
    body = message.get_body(("plain",))
    assert body is not None
    assert f"http://testserver.local/staff/reports/scorecard?month={due.month:%Y-%m}" in body.get_content()
    async with db.sessions() as session:
        sent = await session.scalar(
            select(ReportDelivery).join(ReportSubscription).where(ReportSubscription.staff_user_id == reviewer.id)
        )
    assert sent is not None and sent.state == "sent" and sent.period == due.period


async def test_a_report_the_mail_server_keeps_refusing_is_marked_failed_once_the_job_gives_up(
    db: TestDatabase, loop_app: Litestar, loop_client: Client, smtp: SmtpServer
) -> None:
    manager = await make_user(db, "service_manager", service_scope=["parking"])
    await subscribe_directly(db, manager, "monthly", "link")
    async with unit_of_work(db.sessions) as session:
        assert await queue_due_reports(session) == 1
    smtp.stop()
    worker = worker_for(loop_app, db)
    for day in range(8):  # past every back-off
        await worker.run_due(now=utcnow() + timedelta(days=day))
    (job,) = [j for j in await db.all(Job) if j.name == SEND_REPORT_JOB]
    (delivery,) = await db.all(ReportDelivery)
    assert (job.state, job.attempts, delivery.state) == ("dead", 6, "failed")
    await sign_in(loop_client, "service_manager@council.gov.uk")
    assert "Not sent: the mail server refused it" in (await loop_client.get(PAGE)).text
    assert smtp.messages == []
    smtp.controller = Controller(smtp.sink, hostname="127.0.0.1", port=smtp.port)
    smtp.start()  # for the fixture to stop
