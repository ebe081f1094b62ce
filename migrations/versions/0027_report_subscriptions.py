"""exports: scheduled scorecard reports (who receives them, and one delivery row per subscription and period)

Revision ID: 0027
Revises: 0024
Create Date: 2026-12-01 16:40:00.000000
"""

import sqlalchemy as sa
from advanced_alchemy.types import GUID, DateTimeUTC
from alembic import op

revision = "0027"
down_revision = "0024"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "report_subscription",
        sa.Column("id", GUID(length=16), nullable=False),
        sa.Column("staff_user_id", GUID(length=16), nullable=False),
        sa.Column("frequency", sa.String(length=10), nullable=False),
        sa.Column("delivery", sa.String(length=12), nullable=False),
        sa.Column("created_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("changed_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["staff_user_id"],
            ["staff_user.id"],
            name=op.f("fk_report_subscription_staff_user_id_staff_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_subscription")),
        sa.UniqueConstraint("staff_user_id", name=op.f("uq_report_subscription_staff_user_id")),
    )
    op.create_table(
        "report_delivery",
        sa.Column("id", GUID(length=16), nullable=False),
        sa.Column("subscription_id", GUID(length=16), nullable=False),
        sa.Column("period", sa.String(length=10), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("created_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("sent_at", DateTimeUTC(timezone=True), nullable=True),
        sa.Column("message_id", sa.String(length=200), nullable=True),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["report_subscription.id"],
            name=op.f("fk_report_delivery_subscription_id_report_subscription"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_delivery")),
        sa.UniqueConstraint("subscription_id", "period", name="uq_report_delivery_period"),
    )


def downgrade() -> None:
    op.drop_table("report_delivery")
    op.drop_table("report_subscription")
