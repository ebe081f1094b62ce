"""scorecard: rollups per month, service, channel and agent; upkeep marks and watermarks; frozen forecasts;
entered figures and targets; the repeat-contact flag stored on each contact

Revision ID: 0021
Revises: 0004
Create Date: 2026-12-01 13:20:00.000000
"""

import sqlalchemy as sa
from advanced_alchemy.types import GUID, DateTimeUTC
from alembic import op

revision = "0021"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("contact", schema=None) as batch_op:
        batch_op.add_column(sa.Column("repeat_contact", sa.Boolean(), nullable=True))
        batch_op.create_index(
            "ix_contact_repeat_open",
            ["occurred_at"],
            unique=False,
            postgresql_where=sa.text("repeat_contact IS NULL"),
            sqlite_where=sa.text("repeat_contact IS NULL"),
        )
    op.create_table(
        "scorecard_rollup",
        sa.Column("id", GUID(length=16), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("service_id", GUID(length=16), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("agent_ref", sa.String(length=100), nullable=False),
        sa.Column("updated_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("contacts", sa.BigInteger(), nullable=False),
        sa.Column("transferred", sa.BigInteger(), nullable=False),
        sa.Column("offered", sa.BigInteger(), nullable=False),
        sa.Column("answered_in_time", sa.BigInteger(), nullable=False),
        sa.Column("answered_wait_count", sa.BigInteger(), nullable=False),
        sa.Column("answered_wait_sum", sa.BigInteger(), nullable=False),
        sa.Column("answered_wait_squares", sa.BigInteger(), nullable=False),
        sa.Column("wait_count", sa.BigInteger(), nullable=False),
        sa.Column("wait_sum", sa.BigInteger(), nullable=False),
        sa.Column("wait_squares", sa.BigInteger(), nullable=False),
        sa.Column("handling_count", sa.BigInteger(), nullable=False),
        sa.Column("handling_sum", sa.BigInteger(), nullable=False),
        sa.Column("handling_squares", sa.BigInteger(), nullable=False),
        sa.Column("fcr_decided", sa.BigInteger(), nullable=False),
        sa.Column("fcr_resolved", sa.BigInteger(), nullable=False),
        sa.Column("invitations_sent", sa.BigInteger(), nullable=False),
        sa.Column("invitations_answered", sa.BigInteger(), nullable=False),
        sa.Column("rated", sa.BigInteger(), nullable=False),
        sa.Column("satisfied", sa.BigInteger(), nullable=False),
        sa.Column("sentiment_count", sa.BigInteger(), nullable=False),
        sa.Column("sentiment_sum", sa.BigInteger(), nullable=False),
        sa.Column("sentiment_squares", sa.BigInteger(), nullable=False),
        sa.Column("compliments", sa.BigInteger(), nullable=False),
        sa.Column("complaints_closed", sa.BigInteger(), nullable=False),
        sa.Column("complaints_improving", sa.BigInteger(), nullable=False),
        sa.Column("evaluated", sa.BigInteger(), nullable=False),
        sa.Column("quality_count", sa.BigInteger(), nullable=False),
        sa.Column("quality_sum", sa.BigInteger(), nullable=False),
        sa.Column("quality_squares", sa.BigInteger(), nullable=False),
        sa.Column("callbacks_due", sa.BigInteger(), nullable=False),
        sa.Column("callbacks_on_time", sa.BigInteger(), nullable=False),
        sa.Column("demand_value", sa.BigInteger(), nullable=False),
        sa.Column("demand_excess", sa.BigInteger(), nullable=False),
        sa.Column("demand_failure", sa.BigInteger(), nullable=False),
        sa.Column("demand_preventable", sa.BigInteger(), nullable=False),
        sa.Column("demand_co_dependent", sa.BigInteger(), nullable=False),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["service_id"], ["service.id"], name=op.f("fk_scorecard_rollup_service_id_service")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scorecard_rollup")),
        sa.UniqueConstraint("month", "service_id", "channel", "agent_ref", name="uq_scorecard_rollup_key"),
    )
    with op.batch_alter_table("scorecard_rollup", schema=None) as batch_op:
        batch_op.create_index("ix_scorecard_rollup_agent", ["agent_ref", "month"], unique=False)
    op.create_table(
        "scorecard_mark",
        sa.Column("id", GUID(length=16), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("ref_id", GUID(length=16), nullable=True),
        sa.Column("month", sa.Date(), nullable=True),
        sa.Column("service_id", GUID(length=16), nullable=True),
        sa.Column("marked_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scorecard_mark")),
    )
    op.create_table(
        "scorecard_watermark",
        sa.Column("id", GUID(length=16), nullable=False),
        sa.Column("source", sa.String(length=40), nullable=False),
        sa.Column("last_id", GUID(length=16), nullable=False),
        sa.Column("updated_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scorecard_watermark")),
        sa.UniqueConstraint("source", name=op.f("uq_scorecard_watermark_source")),
    )
    op.create_table(
        "scorecard_forecast",
        sa.Column("id", GUID(length=16), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("service_id", GUID(length=16), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("contacts", sa.Integer(), nullable=False),
        sa.Column("low", sa.Float(), nullable=False),
        sa.Column("high", sa.Float(), nullable=False),
        sa.Column("method", sa.String(length=20), nullable=False),
        sa.Column("frozen_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["service_id"], ["service.id"], name=op.f("fk_scorecard_forecast_service_id_service"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scorecard_forecast")),
        sa.UniqueConstraint("month", "service_id", "channel", name="uq_scorecard_forecast_key"),
    )
    op.create_table(
        "scorecard_entry",
        sa.Column("id", GUID(length=16), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("service_id", GUID(length=16), nullable=False),
        sa.Column("team", sa.String(length=100), nullable=False),
        sa.Column("measure", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("source", sa.String(length=100), nullable=False),
        sa.Column("entered_by", sa.String(length=64), nullable=False),
        sa.Column("entered_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["service_id"], ["service.id"], name=op.f("fk_scorecard_entry_service_id_service")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scorecard_entry")),
        sa.UniqueConstraint("month", "service_id", "team", "measure", name="uq_scorecard_entry_key"),
    )
    with op.batch_alter_table("scorecard_entry", schema=None) as batch_op:
        batch_op.create_index("ix_scorecard_entry_month", ["month", "measure"], unique=False)
    op.create_table(
        "scorecard_target",
        sa.Column("id", GUID(length=16), nullable=False),
        sa.Column("measure", sa.String(length=64), nullable=False),
        sa.Column("service_id", GUID(length=16), nullable=True),
        sa.Column("service_key", sa.String(length=36), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("direction", sa.String(length=10), nullable=False),
        sa.Column("tolerance", sa.Float(), nullable=True),
        sa.Column("set_by", sa.String(length=64), nullable=False),
        sa.Column("set_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["service_id"], ["service.id"], name=op.f("fk_scorecard_target_service_id_service"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scorecard_target")),
        sa.UniqueConstraint("measure", "service_key", name="uq_scorecard_target_key"),
    )


def downgrade() -> None:
    op.drop_table("scorecard_target")
    op.drop_table("scorecard_entry")
    op.drop_table("scorecard_forecast")
    op.drop_table("scorecard_watermark")
    op.drop_table("scorecard_mark")
    op.drop_table("scorecard_rollup")
    with op.batch_alter_table("contact", schema=None) as batch_op:
        batch_op.drop_index("ix_contact_repeat_open")
        batch_op.drop_column("repeat_contact")
