"""scorecard: service-level thresholds per channel set by admins, and the threshold each rollup row was measured
against; the demand forecast for the coming months

Revision ID: 0033
Revises: 0034
Create Date: 2026-12-01 17:50:00.000000
"""

import sqlalchemy as sa
from advanced_alchemy.types import GUID, DateTimeUTC
from alembic import op

revision = "0033"
down_revision = "0034"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "scorecard_service_level",
        sa.Column("id", GUID(length=16), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("seconds", sa.Integer(), nullable=False),
        sa.Column("set_by", sa.String(length=64), nullable=False),
        sa.Column("set_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scorecard_service_level")),
        sa.UniqueConstraint("channel", name=op.f("uq_scorecard_service_level_channel")),
    )
    op.create_table(
        "scorecard_outlook",
        sa.Column("id", GUID(length=16), nullable=False),
        sa.Column("period", sa.Date(), nullable=False),
        sa.Column("service_id", GUID(length=16), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("contacts", sa.Float(), nullable=False),
        sa.Column("low", sa.Float(), nullable=False),
        sa.Column("high", sa.Float(), nullable=False),
        sa.Column("method", sa.String(length=20), nullable=False),
        sa.Column("made_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["service_id"], ["service.id"], name=op.f("fk_scorecard_outlook_service_id_service"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scorecard_outlook")),
        sa.UniqueConstraint("period", "service_id", "channel", name="uq_scorecard_outlook_key"),
    )
    with op.batch_alter_table("scorecard_rollup", schema=None) as batch_op:
        batch_op.add_column(sa.Column("service_level_seconds", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("scorecard_rollup", schema=None) as batch_op:
        batch_op.drop_column("service_level_seconds")
    op.drop_table("scorecard_outlook")
    op.drop_table("scorecard_service_level")
