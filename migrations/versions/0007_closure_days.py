"""council closure days for the working calendar of ICO deadlines and complaint targets

Revision ID: 0007
Revises: 0012
Create Date: 2026-12-01 10:30:00.000000
"""

import sqlalchemy as sa
from advanced_alchemy.types import GUID, DateTimeUTC
from alembic import op

sa.GUID = GUID  # type: ignore[attr-defined]
sa.DateTimeUTC = DateTimeUTC  # type: ignore[attr-defined]

revision = "0007"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "closure_day",
        sa.Column("id", sa.GUID(length=16), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("updated_at", sa.DateTimeUTC(timezone=True), nullable=False),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_closure_day")),
        sa.UniqueConstraint("day", name=op.f("uq_closure_day_day")),
    )


def downgrade() -> None:
    op.drop_table("closure_day")
