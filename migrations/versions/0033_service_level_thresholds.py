"""scorecard: service-level thresholds per channel set by admins, and the threshold each rollup row was measured
against

Revision ID: 0033
Revises: 0031
Create Date: 2026-12-01 17:50:00.000000
"""

import sqlalchemy as sa
from advanced_alchemy.types import GUID, DateTimeUTC
from alembic import op

revision = "0033"
down_revision = "0031"
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
    with op.batch_alter_table("scorecard_rollup", schema=None) as batch_op:
        batch_op.add_column(sa.Column("service_level_seconds", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("scorecard_rollup", schema=None) as batch_op:
        batch_op.drop_column("service_level_seconds")
    op.drop_table("scorecard_service_level")
