"""Scorecard tables: rollups per month, service, channel and agent; what upkeep still has to fold in; frozen
forecasts; figures entered from other systems; and the targets managers set.

Rollups hold integer sums only (see formulas), so a scope's figure is the column sums of its rows, and a rebuild
of a month from raw rows must land on the very same rows.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import date, datetime
from typing import Final

from advanced_alchemy.types import GUID, DateTimeUTC
from sqlalchemy import BigInteger, Date, Float, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from civicvoice.core.clock import utcnow
from civicvoice.core.datamap import DataMapEntry, Link
from civicvoice.core.db import Base

# The counters of one rollup row, in parts: each part is recomputed by its own queries (feedback.scorecard.rollups),
# so a change that touches only one part (a comment scored, a callback made) has upkeep recompute that part alone.
PART_COUNTERS: Final[Mapping[str, tuple[str, ...]]] = {
    "contacts": (
        "contacts",
        "transferred",
        "offered",
        "answered_in_time",
        "answered_wait_count",
        "answered_wait_sum",
        "answered_wait_squares",
        "wait_count",
        "wait_sum",
        "wait_squares",
        "handling_count",
        "handling_sum",
        "handling_squares",
        "fcr_decided",
        "fcr_resolved",
        "invitations_sent",
        "invitations_answered",
        "rated",
        "satisfied",
    ),
    "sentiment": ("sentiment_count", "sentiment_sum", "sentiment_squares"),
    "compliments": ("compliments",),
    "cases": ("complaints_closed", "complaints_improving"),
    "quality": ("evaluated", "quality_count", "quality_sum", "quality_squares"),
    "callbacks": ("callbacks_due", "callbacks_on_time"),
    "demand": ("demand_value", "demand_excess", "demand_failure", "demand_preventable", "demand_co_dependent"),
}
# All of them, in the order the formulas' rollups are built from them.
COUNTERS: tuple[str, ...] = tuple(name for names in PART_COUNTERS.values() for name in names)


def _counter() -> Mapped[int]:
    return mapped_column(BigInteger, default=0, nullable=False)


class ScorecardRollup(Base):
    """Integer sums of one month (Europe/London), service, channel and agent; agent '' for none."""

    __tablename__ = "scorecard_rollup"
    __datamap__ = DataMapEntry(
        purpose="Scorecard figures per month, service, channel and agent, so dashboards never scan raw rows",
        holds=("agent reference",),
        category="staff activity",
        lawful_basis="public_task",
        retention="kept while the scorecard reports the month",
        subject_kind="staff",
        # An agent's own figures: found, with their contacts, through their account's agent reference.
        links=(Link("agent_ref", "staff_user", to="agent_ref"),),
    )
    __table_args__ = (
        UniqueConstraint("month", "service_id", "channel", "agent_ref", name="uq_scorecard_rollup_key"),
        Index("ix_scorecard_rollup_agent", "agent_ref", "month"),
    )

    month: Mapped[date] = mapped_column(Date)
    service_id: Mapped[uuid.UUID] = mapped_column(GUID, ForeignKey("service.id"))
    channel: Mapped[str] = mapped_column(String(20))
    agent_ref: Mapped[str] = mapped_column(String(100), default="")
    updated_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True), default=utcnow)
    # The service-level threshold (seconds) the row's channel was measured against when it was computed; None
    # for rows computed before thresholds were recorded.
    service_level_seconds: Mapped[int | None] = mapped_column(Integer)

    contacts: Mapped[int] = _counter()
    transferred: Mapped[int] = _counter()
    offered: Mapped[int] = _counter()
    answered_in_time: Mapped[int] = _counter()
    answered_wait_count: Mapped[int] = _counter()
    answered_wait_sum: Mapped[int] = _counter()
    answered_wait_squares: Mapped[int] = _counter()
    wait_count: Mapped[int] = _counter()
    wait_sum: Mapped[int] = _counter()
    wait_squares: Mapped[int] = _counter()
    handling_count: Mapped[int] = _counter()
    handling_sum: Mapped[int] = _counter()
    handling_squares: Mapped[int] = _counter()
    fcr_decided: Mapped[int] = _counter()
    fcr_resolved: Mapped[int] = _counter()
    invitations_sent: Mapped[int] = _counter()
    invitations_answered: Mapped[int] = _counter()
    rated: Mapped[int] = _counter()
    satisfied: Mapped[int] = _counter()
    sentiment_count: Mapped[int] = _counter()
    sentiment_sum: Mapped[int] = _counter()
    sentiment_squares: Mapped[int] = _counter()
    compliments: Mapped[int] = _counter()
    complaints_closed: Mapped[int] = _counter()
    complaints_improving: Mapped[int] = _counter()
    evaluated: Mapped[int] = _counter()
    quality_count: Mapped[int] = _counter()
    quality_sum: Mapped[int] = _counter()
    quality_squares: Mapped[int] = _counter()
    callbacks_due: Mapped[int] = _counter()
    callbacks_on_time: Mapped[int] = _counter()
    demand_value: Mapped[int] = _counter()
    demand_excess: Mapped[int] = _counter()
    demand_failure: Mapped[int] = _counter()
    demand_preventable: Mapped[int] = _counter()
    demand_co_dependent: Mapped[int] = _counter()


class RollupMark(Base):
    """A changed record whose month upkeep must recompute: a contact, invitation, response, complaint case or
    callback by id, or a whole month of a service (``kind`` "month")."""

    __tablename__ = "scorecard_mark"
    __datamap__ = DataMapEntry.no_personal_data("Records whose scorecard month waits to be recomputed")

    kind: Mapped[str] = mapped_column(String(12))
    ref_id: Mapped[uuid.UUID | None] = mapped_column(GUID)
    month: Mapped[date | None] = mapped_column(Date)
    service_id: Mapped[uuid.UUID | None] = mapped_column(GUID)
    marked_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True), default=utcnow)


class UpkeepWatermark(Base):
    """How far upkeep has read each table of new records (by UUIDv7 id, which grows with time)."""

    __tablename__ = "scorecard_watermark"
    __datamap__ = DataMapEntry.no_personal_data("How far scorecard upkeep has read each table")

    source: Mapped[str] = mapped_column(String(40), unique=True)
    last_id: Mapped[uuid.UUID] = mapped_column(GUID)
    updated_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True), default=utcnow)


class FrozenForecast(Base):
    """A month's demand forecast per service and channel, frozen before the month began (for its WAPE)."""

    __tablename__ = "scorecard_forecast"
    __datamap__ = DataMapEntry.no_personal_data("Demand forecasts frozen before each month")
    __table_args__ = (UniqueConstraint("month", "service_id", "channel", name="uq_scorecard_forecast_key"),)

    month: Mapped[date] = mapped_column(Date)
    service_id: Mapped[uuid.UUID] = mapped_column(GUID, ForeignKey("service.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(20))
    contacts: Mapped[int] = mapped_column(Integer)  # whole contacts, rounded half up
    low: Mapped[float] = mapped_column(Float)
    high: Mapped[float] = mapped_column(Float)
    method: Mapped[str] = mapped_column(String(20))
    frozen_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True), default=utcnow)


class DemandOutlook(Base):
    """The demand forecast for the coming months per service and channel, with its interval: remade once a day
    (forecasts change at most daily), so the dashboard reads it instead of fitting models per request."""

    __tablename__ = "scorecard_outlook"
    __datamap__ = DataMapEntry.no_personal_data("Demand forecasts for the coming months")
    __table_args__ = (UniqueConstraint("period", "service_id", "channel", name="uq_scorecard_outlook_key"),)

    period: Mapped[date] = mapped_column(Date)  # the month forecast
    service_id: Mapped[uuid.UUID] = mapped_column(GUID, ForeignKey("service.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(20))
    contacts: Mapped[float] = mapped_column(Float)
    low: Mapped[float] = mapped_column(Float)
    high: Mapped[float] = mapped_column(Float)
    method: Mapped[str] = mapped_column(String(20))
    made_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True), default=utcnow)


class EnteredFigure(Base):
    """A month's figure for a measure another system holds, per service and team; never per person."""

    __tablename__ = "scorecard_entry"
    __datamap__ = DataMapEntry(
        purpose="Scorecard measures held by other systems (utilisation, training, sickness as team totals)",
        holds=("staff id of who entered it",),
        category="staff activity",
        lawful_basis="public_task",
        retention="kept while the scorecard reports the month",
        subject_kind="staff",
        subject_link="entered_by",
    )
    __table_args__ = (
        UniqueConstraint("month", "service_id", "team", "measure", name="uq_scorecard_entry_key"),
        Index("ix_scorecard_entry_month", "month", "measure"),
    )

    month: Mapped[date] = mapped_column(Date)
    service_id: Mapped[uuid.UUID] = mapped_column(GUID, ForeignKey("service.id"))
    team: Mapped[str] = mapped_column(String(100), default="")
    measure: Mapped[str] = mapped_column(String(64))
    value: Mapped[float] = mapped_column(Float)
    # Where it came from: "staff UI", "spreadsheet", or the system that posted it to the API.
    source: Mapped[str] = mapped_column(String(100))
    entered_by: Mapped[str] = mapped_column(String(64))  # staff id, or "api_key:<id>"
    entered_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True), default=utcnow)


class MeasureTarget(Base):
    """A manager's target for a measure: for one service, or for the whole council (no service)."""

    __tablename__ = "scorecard_target"
    __datamap__ = DataMapEntry(
        purpose="Scorecard targets set by managers",
        holds=("staff id of who set it",),
        category="staff activity",
        lawful_basis="public_task",
        retention="kept while the target applies",
        subject_kind="staff",
        subject_link="set_by",
    )
    __table_args__ = (UniqueConstraint("measure", "service_key", name="uq_scorecard_target_key"),)

    measure: Mapped[str] = mapped_column(String(64))
    service_id: Mapped[uuid.UUID | None] = mapped_column(GUID, ForeignKey("service.id", ondelete="CASCADE"))
    # The service id as text, '' for council-wide: a unique key that treats "no service" as one value everywhere.
    service_key: Mapped[str] = mapped_column(String(36), default="")
    value: Mapped[float] = mapped_column(Float)
    direction: Mapped[str] = mapped_column(String(10))
    tolerance: Mapped[float | None] = mapped_column(Float)
    set_by: Mapped[str] = mapped_column(String(64))
    set_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True), default=utcnow)


class ServiceLevelSetting(Base):
    """An admin's service-level threshold for one channel: the wait (seconds) within which a contact counts as
    answered in time. A channel without a row uses the default (formulas.DEFAULT_SERVICE_LEVEL_SECONDS)."""

    __tablename__ = "scorecard_service_level"
    __datamap__ = DataMapEntry(
        purpose="Service-level thresholds per channel set by admins",
        holds=("staff id of who set it",),
        category="staff activity",
        lawful_basis="public_task",
        retention="kept while the threshold applies",
        subject_kind="staff",
        subject_link="set_by",
    )

    channel: Mapped[str] = mapped_column(String(20), unique=True)
    seconds: Mapped[int] = mapped_column(Integer)
    set_by: Mapped[str] = mapped_column(String(64))
    set_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True), default=utcnow)
