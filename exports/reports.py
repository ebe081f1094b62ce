"""Scheduled scorecard reports by email: who subscribes, which period is due, and sending each report once.

A member of staff who may see the scorecard subscribes to it monthly (the month just ended, on the first of the
next) or weekly (each Monday, the month so far), as an attached workbook or as a link to the download, which asks
them to sign in. The cron (`exports.scheduled_reports`) writes one `report_delivery` row per subscription and
period, unique in the database, and a send job in the same transaction: however many workers run it, or
however often it restarts, a period's report is queued once. The send job re-checks the subscriber (an account
disabled or a role that no longer sees the scorecard gets nothing) and builds the workbook for the services they
may see at that moment. Delivery is at-least-once, as for invitations: the message's Message-ID comes from the
delivery's id, and the only window for a duplicate is a crash between the mail server's acceptance and the
commit that marks it sent.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from email.message import EmailMessage
from typing import Final

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from civicvoice.core.audit import Actor, record
from civicvoice.core.auth import StaffUser
from civicvoice.core.clock import LONDON, utcnow
from civicvoice.core.db import conflict_insert, table
from civicvoice.core.errors import InvalidInput, NotFound
from civicvoice.core.ids import new_id
from civicvoice.core.jobs import enqueue_many, job_row
from civicvoice.core.mail import Mailer
from civicvoice.core.settings import Settings
from exports.models import (
    ReportDelivery,
    ReportDeliveryMode,
    ReportDeliveryState,
    ReportFrequency,
    ReportSubscription,
)
from exports.scorecard_workbook import MEDIA_TYPE, SCORECARD_DOWNLOAD, gather, record_scorecard_export, workbook_bytes
from feedback.scorecard.pages import viewer_services
from feedback.scorecard.rollups import month_start, previous_month
from feedback.scorecard.service import Scorecard

SEND_REPORT_JOB: Final = "exports.send_report"
# Who may receive the scorecard by email: those who see it for services (an agent's own figures stay on screen).
REPORT_ROLES: Final = ("admin", "quality_reviewer", "service_manager")
# Delivery rows are needed only to send each period once; older ones go.
DELIVERIES_KEPT_FOR: Final = timedelta(days=400)
# How many subscriptions one cron run queues; the next run queues the rest.
QUEUE_BATCH: Final = 500


@dataclass(frozen=True, slots=True)
class Due:
    """A report that is due: its period's name and the scorecard month it shows."""

    period: str
    month: date


def due_period(frequency: ReportFrequency, now: datetime) -> Due:
    """The latest period whose report is due at ``now`` (London time): monthly, the month just ended; weekly, the
    ISO week that ended last Sunday, showing the month that Sunday falls in (the month so far)."""
    today = now.astimezone(LONDON).date()
    if frequency is ReportFrequency.monthly:
        month = previous_month(month_start(today))
        return Due(f"{month:%Y-%m}", month)
    sunday = today - timedelta(days=today.isoweekday())
    year, week, _ = sunday.isocalendar()
    return Due(f"{year}-W{week:02d}", month_start(sunday))


# --- subscribing -----------------------------------------------------------------------------------------------


def may_receive(user: StaffUser) -> bool:
    return user.active and user.role in REPORT_ROLES


def _choice(kind: type[ReportFrequency] | type[ReportDeliveryMode], raw: str, field: str, message: str) -> str:
    values = {member.value for member in kind}
    if raw not in values:
        raise InvalidInput(message, field=field)
    return raw


async def subscription_of(session: AsyncSession, user: StaffUser) -> ReportSubscription | None:
    found: ReportSubscription | None = await session.scalar(
        select(ReportSubscription).where(ReportSubscription.staff_user_id == user.id)
    )
    return found


async def subscribe(
    session: AsyncSession, user: StaffUser, *, frequency: str, delivery: str, actor: Actor
) -> ReportSubscription:
    """Start or change the member of staff's subscription; audited."""
    how_often = _choice(ReportFrequency, frequency, "frequency", "Choose how often: monthly or weekly.")
    how = _choice(ReportDeliveryMode, delivery, "delivery", "Choose how: the spreadsheet attached, or a link.")
    if not may_receive(user):
        raise InvalidInput("Your role cannot receive the scorecard by email.", field="frequency")
    found = await subscription_of(session, user)
    if found is None:
        found = ReportSubscription(staff_user_id=user.id, frequency=how_often, delivery=how, created_at=utcnow())
        session.add(found)
        action = "exports.report_subscribed"
    else:
        found.frequency, found.delivery = how_often, how
        action = "exports.report_changed"
    found.changed_at = utcnow()
    await session.flush()
    record(
        session,
        actor,
        action,
        target_kind="report_subscription",
        target_id=found.id,
        detail={"frequency": how_often, "delivery": how},
    )
    return found


async def unsubscribe(session: AsyncSession, user: StaffUser, *, actor: Actor) -> None:
    found = await subscription_of(session, user)
    if found is None:
        raise NotFound("You are not subscribed to the scorecard.")
    await session.execute(delete(ReportDelivery).where(ReportDelivery.subscription_id == found.id))
    await session.delete(found)
    record(session, actor, "exports.report_unsubscribed", target_kind="report_subscription", target_id=found.id)


# --- the cron: one delivery row and one send job per subscription and due period ---------------------------------


async def queue_due_reports(session: AsyncSession, *, now: datetime | None = None) -> int:
    """Queue every report due at ``now`` not queued before; returns how many were queued. Safe to run on many
    workers at once: the delivery row is unique per subscription and period, and the job goes with it."""
    now = now or utcnow()
    await session.execute(delete(ReportDelivery).where(ReportDelivery.created_at < now - DELIVERIES_KEPT_FOR))
    queued = 0
    for frequency in ReportFrequency:
        due = due_period(frequency, now)
        waiting = (
            await session.scalars(
                select(ReportSubscription.id)
                .where(
                    ReportSubscription.frequency == frequency.value,
                    ~select(ReportDelivery.id)
                    .where(ReportDelivery.subscription_id == ReportSubscription.id, ReportDelivery.period == due.period)
                    .exists(),
                )
                .limit(QUEUE_BATCH)
            )
        ).all()
        for subscription_id in waiting:
            if await _claim(session, subscription_id, due, now):
                queued += 1
    return queued


async def _claim(session: AsyncSession, subscription_id: uuid.UUID, due: Due, now: datetime) -> bool:
    """Insert the period's delivery row unless another worker did; with it, its send job."""
    delivery_id = new_id()
    values = {
        "id": delivery_id,
        "subscription_id": subscription_id,
        "period": due.period,
        "month": due.month,
        "state": ReportDeliveryState.queued.value,
        "created_at": now,
    }
    deliveries = table(ReportDelivery)
    statement = (
        conflict_insert(session, deliveries)
        .values(values)
        .on_conflict_do_nothing(index_elements=[deliveries.c.subscription_id, deliveries.c.period])
        .returning(deliveries.c.id)
    )
    done = await session.execute(statement)
    if done.scalar_one_or_none() is None:
        return False
    await enqueue_many(
        session,
        [job_row(SEND_REPORT_JOB, {"delivery_id": delivery_id}, key=f"{SEND_REPORT_JOB}:{delivery_id}", now=now)],
    )
    return True


# --- the send job ---------------------------------------------------------------------------------------------


async def send_report(
    session: AsyncSession,
    delivery_id: uuid.UUID,
    *,
    card: Scorecard,
    mailer: Mailer,
    settings: Settings,
    now: datetime | None = None,
) -> ReportDeliveryState | None:
    """Send one delivery's report, once; returns its state (None: the delivery is gone, unsubscribed since).
    A mail server's refusal raises, so the job engine tries again later."""
    delivery = await session.get(ReportDelivery, delivery_id, with_for_update=True)
    if delivery is None:
        return None
    if delivery.state != ReportDeliveryState.queued:
        return ReportDeliveryState(delivery.state)
    subscription = await session.get(ReportSubscription, delivery.subscription_id)
    user = await session.get(StaffUser, subscription.staff_user_id) if subscription is not None else None
    if subscription is None or user is None or not may_receive(user):
        delivery.state = ReportDeliveryState.skipped
        return ReportDeliveryState.skipped
    now = now or utcnow()
    book = await gather(
        session,
        card,
        delivery.month,
        within=await viewer_services(session, user),
        created_by=f"Scheduled report for {user.display_name}",
        created_at=now,
    )
    message = _message(mailer, settings, user, subscription, delivery, book.file_name)
    if subscription.delivery == ReportDeliveryMode.attachment:
        maintype, subtype = MEDIA_TYPE.split("/")
        message.add_attachment(workbook_bytes(book), maintype=maintype, subtype=subtype, filename=book.file_name)
    delivery.message_id = await mailer.send(message)
    delivery.state = ReportDeliveryState.sent
    delivery.sent_at = utcnow()
    record_scorecard_export(
        session, Actor("staff", str(user.id)), book, how=f"scheduled {subscription.frequency} report"
    )
    return ReportDeliveryState.sent


def _message(
    mailer: Mailer,
    settings: Settings,
    user: StaffUser,
    subscription: ReportSubscription,
    delivery: ReportDelivery,
    file_name: str,
) -> EmailMessage:
    month = f"{delivery.month:%B %Y}"
    weekly = subscription.frequency == ReportFrequency.weekly
    what = f"the scorecard for {month} so far" if weekly else f"the scorecard for {month}"
    link = f"{settings.base_url.rstrip('/')}{SCORECARD_DOWNLOAD}?month={delivery.month:%Y-%m}"
    if subscription.delivery == ReportDeliveryMode.attachment:
        how = f"The spreadsheet is attached ({file_name})."
    else:
        how = f"Download the spreadsheet (you will be asked to sign in):\n{link}"
    text = (
        f"Hello {user.display_name},\n\n"
        f"Here is {what}, for the services you may see.\n\n{how}\n\n"
        f"You receive this {subscription.frequency} because you asked to. To change or stop it, sign in and go to\n"
        f"{settings.base_url.rstrip('/')}/staff/reports/subscription\n"
    )
    message = mailer.message(to=user.email, subject=f"Scorecard: {month}{' so far' if weekly else ''}", text=text)
    message["Message-ID"] = f"<report-{delivery.id}@{mailer.domain}>"
    return message


async def mark_failed(session: AsyncSession, delivery_id: uuid.UUID) -> None:
    delivery = await session.get(ReportDelivery, delivery_id)
    if delivery is not None and delivery.state == ReportDeliveryState.queued:
        delivery.state = ReportDeliveryState.failed
