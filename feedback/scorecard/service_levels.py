"""Service-level thresholds per channel, set by an admin (staff page or CLI), audited, and read by every process
that computes rollups. A change enqueues a rebuild of the months still inside retention in the same transaction,
so no month inside retention stays computed with the old thresholds; each rollup row records the threshold it was
measured against, so a month outside retention (or one the rebuild has not reached yet) says what it used.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Any, Final

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from civicvoice.core.audit import Actor, record
from civicvoice.core.clock import utcnow
from civicvoice.core.errors import InvalidInput
from civicvoice.core.jobs import enqueue
from feedback.scorecard.formulas import DEFAULT_SERVICE_LEVEL_SECONDS, ServiceLevelThresholds
from feedback.scorecard.models import ScorecardRollup, ServiceLevelSetting
from feedback.scorecard.rollups import RollupFilter, month_start, next_month
from feedback.scorecard.upkeep import rebuild_month, retention_start
from surveys.models import Contact
from surveys.rules import ContactChannel

REBUILD_JOB: Final = "scorecard.rebuild_retained"
# How long a process may keep using thresholds it read (see Scorecard.thresholds). The rebuild after a change
# waits this long, so every process computes with the new thresholds before the months are rebuilt.
CACHE_SECONDS: Final = 30.0
# Real-time channels are answered within the hour; the others (a reply to an email, a letter) within days, so
# their defaults (1 to 5 days) stay representable.
REAL_TIME: Final = frozenset({"phone", "web_chat", "face_to_face"})
REAL_TIME_MAX: Final = 3600
DEFERRED_MAX: Final = 30 * 24 * 3600
CHANNELS: Final = tuple(channel.value for channel in ContactChannel)


class ServiceLevelInputError(InvalidInput):
    slug = "service-level-threshold"
    title = "Service-level threshold not accepted"


def limit_for(channel: str) -> int:
    return REAL_TIME_MAX if channel in REAL_TIME else DEFERRED_MAX


def parse_thresholds(values: Mapping[str, str]) -> dict[str, int]:
    """Whole seconds per channel from form or CLI text; every problem raises with the channel as its field."""
    parsed: dict[str, int] = {}
    for channel, text in values.items():
        if channel not in CHANNELS:
            raise ServiceLevelInputError(
                f"No channel is called {channel[:30]!r}; one of {', '.join(CHANNELS)}.", field=channel[:30]
            )
        label = channel.replace("_", " ")
        cleaned = text.strip().replace(",", "")
        if not cleaned.isdigit() or not cleaned.isascii():
            raise ServiceLevelInputError(
                f"Give the {label} threshold as a whole number of seconds, for example 20.", field=channel
            )
        seconds = int(cleaned)
        if not 1 <= seconds <= limit_for(channel):
            raise ServiceLevelInputError(
                f"The {label} threshold must be from 1 to {limit_for(channel):,} seconds.", field=channel
            )
        parsed[channel] = seconds
    return parsed


async def configured_thresholds(session: AsyncSession) -> ServiceLevelThresholds:
    """The thresholds in force: the admin's per channel, the defaults for the others."""
    seconds = dict(DEFAULT_SERVICE_LEVEL_SECONDS)
    for channel, value in (
        await session.execute(select(ServiceLevelSetting.channel, ServiceLevelSetting.seconds))
    ).all():
        seconds[channel] = int(value)
    return ServiceLevelThresholds(seconds)


async def set_thresholds(session: AsyncSession, changes: Mapping[str, int], *, actor: Actor) -> dict[str, int]:
    """Store the changed thresholds, audit them and enqueue the rebuild of the months inside retention, all in the
    caller's transaction; returns what changed (channel: new seconds), empty when nothing did."""
    for channel, seconds in changes.items():
        if channel not in CHANNELS or not 1 <= seconds <= limit_for(channel):
            raise ServiceLevelInputError(f"{channel[:30]}: {seconds} seconds is not an accepted threshold.")
    before = (await configured_thresholds(session)).seconds
    rows = {row.channel: row for row in (await session.scalars(select(ServiceLevelSetting))).all()}
    changed: dict[str, int] = {}
    now = utcnow()
    for channel, seconds in changes.items():
        if before.get(channel) == seconds:
            continue  # unchanged (a default stays a default, with no row)
        row = rows.get(channel)
        if row is None:
            row = ServiceLevelSetting(channel=channel, seconds=seconds, set_by=actor.id, set_at=now)
            session.add(row)
        row.seconds, row.set_by, row.set_at = seconds, actor.id, now
        changed[channel] = seconds
    await session.flush()
    if changed:
        record(
            session,
            actor,
            "scorecard.service_levels_set",
            target_kind="scorecard_service_level",
            detail={
                "changed": {
                    channel: {"from": before.get(channel), "to": seconds} for channel, seconds in changed.items()
                }
            },
        )
        await enqueue(session, REBUILD_JOB, {}, run_at=now + timedelta(seconds=CACHE_SECONDS))
    return changed


async def measured_against(
    session: AsyncSession, month: date, scope: RollupFilter
) -> dict[str, tuple[int, int] | None]:
    """The thresholds a month's rollups in the scope were measured against, per channel with waits: (lowest,
    highest) seconds, which differ only while a rebuild after a change has not reached every service; None for a
    month computed before thresholds were recorded."""
    query = (
        select(
            ScorecardRollup.channel,
            func.min(ScorecardRollup.service_level_seconds),
            func.max(ScorecardRollup.service_level_seconds),
        )
        .where(ScorecardRollup.month == month, ScorecardRollup.offered > 0, *scope.where())
        .group_by(ScorecardRollup.channel)
    )
    return {
        str(channel): (int(low), int(high)) if low is not None and high is not None else None
        for channel, low, high in (await session.execute(query)).tuples().all()
    }


def describe(thresholds: Mapping[str, tuple[int, int] | None]) -> str:
    """Words for what a month was measured against, for the dashboard and the drill-down."""
    if not thresholds:
        return "No contact with a recorded wait and threshold this month."
    parts = []
    for channel in sorted(thresholds):
        label, pair = channel.replace("_", " "), thresholds[channel]
        if pair is None:
            parts.append(f"{label} not recorded (computed before thresholds were recorded)")
            continue
        low, high = pair
        parts.append(f"{label} {_seconds(low)}" if low == high else f"{label} {_seconds(low)} to {_seconds(high)}")
    mixed = any(pair is not None and pair[0] != pair[1] for pair in thresholds.values())
    text = "Answered within: " + "; ".join(parts) + "."
    return text + " Being recomputed after a change of threshold." if mixed else text


def _seconds(value: int) -> str:
    if value % 86400 == 0:
        return f"{value // 86400} d"
    if value % 3600 == 0:
        return f"{value // 3600} h"
    if value % 60 == 0 and value >= 60:
        return f"{value // 60} min"
    return f"{value} s"


async def rebuild_retained(sessions: Any, *, now: datetime | None = None) -> list[date]:
    """Rebuild every month inside retention with the thresholds in force, a month per transaction (the rebuild
    machinery of ``scorecard rebuild``); months before retention keep their rollups and their recorded thresholds."""
    now = now or utcnow()
    async with sessions() as session:
        month = await retention_start(session, now)
        # Months before the first contact or rollup hold nothing to recompute (as fill_history starts).
        first_contact = await session.scalar(select(func.min(Contact.occurred_at)))
        first_rollup = await session.scalar(select(func.min(ScorecardRollup.month)))
    starts = [month_start(first_contact)] if first_contact is not None else []
    starts += [first_rollup] if first_rollup is not None else []
    if not starts:
        return []
    month = max(month, min(starts))
    last = month_start(now)
    done = []
    while month <= last:
        async with sessions() as session, session.begin():
            await rebuild_month(session, month, thresholds=await configured_thresholds(session), now=now)
        done.append(month)
        month = next_month(month)
    return done
