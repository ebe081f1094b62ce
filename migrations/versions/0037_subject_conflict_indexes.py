"""subject conflicts: indexed by each person they name, so erasing someone finds theirs without a scan

Revision ID: 0037
Revises: 0036
Create Date: 2026-12-02 05:00:00.000000
"""

from alembic import op

revision = "0037"
down_revision = "0036"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("subject_conflict", schema=None) as batch_op:
        batch_op.create_index("ix_subject_conflict_chosen", ["chosen_subject_id"], unique=False)
        batch_op.create_index("ix_subject_conflict_other", ["other_subject_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("subject_conflict", schema=None) as batch_op:
        batch_op.drop_index("ix_subject_conflict_other")
        batch_op.drop_index("ix_subject_conflict_chosen")
