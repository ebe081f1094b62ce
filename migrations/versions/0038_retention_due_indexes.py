"""retention: rows that still name a person, by the time their period counts from (partial indexes), so a
retention run reads only the rows it changes, oldest first, instead of passing over those it anonymised before

Building them reads each table once; on a large PostgreSQL database, run this migration in a quiet hour.

Revision ID: 0038
Revises: 0037
Create Date: 2026-12-02 05:45:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0038"
down_revision = "0037"
branch_labels = None
depends_on = None

INDEXES = (
    ("contact", "ix_contact_retention_due", "occurred_at"),
    ("invitation_decision", "ix_invitation_decision_retention_due", "decided_at"),
    ("invitation", "ix_invitation_retention_due", "created_at"),
    ("response", "ix_response_retention_due", "submitted_at"),
)
LINKED = sa.text("subject_id IS NOT NULL")


def upgrade() -> None:
    for table, name, column in INDEXES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.create_index(name, [column], unique=False, postgresql_where=LINKED, sqlite_where=LINKED)


def downgrade() -> None:
    for table, name, _ in reversed(INDEXES):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(name, postgresql_where=LINKED, sqlite_where=LINKED)
