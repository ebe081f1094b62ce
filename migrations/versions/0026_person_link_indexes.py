"""indexes on the person links of response and invitation_decision

Finding a person's data for an access package, erasing them and expiring them by retention all read their rows
through the data map's subject link; these two tables, the biggest, had no index on it (a full scan per person).

Revision ID: 0026
Revises: 0004
Create Date: 2026-12-01 14:20:00.000000
"""

from alembic import op

revision = "0026"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_response_subject", "response", ["subject_id"])
    op.create_index("ix_invitation_decision_subject", "invitation_decision", ["subject_id"])


def downgrade() -> None:
    op.drop_index("ix_invitation_decision_subject", table_name="invitation_decision")
    op.drop_index("ix_response_subject", table_name="response")
