"""jobs: SAQ relay mark on the outbox, the time an invitation's state last changed

Revision ID: 0004
Revises: 0005
Create Date: 2026-12-01 10:30:00.000000
"""

import sqlalchemy as sa
from advanced_alchemy.types import DateTimeUTC
from alembic import op

revision = "0004"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("job", schema=None) as batch_op:
        batch_op.add_column(sa.Column("relayed_at", DateTimeUTC(timezone=True), nullable=True))
    with op.batch_alter_table("invitation", schema=None) as batch_op:
        batch_op.add_column(sa.Column("state_changed_at", DateTimeUTC(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("invitation", schema=None) as batch_op:
        batch_op.drop_column("state_changed_at")
    with op.batch_alter_table("job", schema=None) as batch_op:
        batch_op.drop_column("relayed_at")
