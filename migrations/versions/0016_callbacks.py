"""callbacks: closing the loop with very dissatisfied respondents and those who ask to be contacted

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-01 12:00:00.000000
"""

import sqlalchemy as sa
from advanced_alchemy.types import GUID, DateTimeUTC
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "callback",
        sa.Column("id", GUID(length=16), nullable=False),
        sa.Column("response_id", GUID(length=16), nullable=False),
        sa.Column("subject_id", GUID(length=16), nullable=True),
        sa.Column("service_id", GUID(length=16), nullable=True),
        sa.Column("reason", sa.String(length=20), nullable=False),
        sa.Column("raised_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("due_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("done_at", DateTimeUTC(timezone=True), nullable=True),
        sa.Column("done_by", sa.String(length=64), nullable=True),
        sa.Column("outcome", sa.String(length=20), nullable=True),
        sa.Column("note_ciphertext", sa.LargeBinary(), nullable=True),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["response_id"], ["response.id"], name=op.f("fk_callback_response_id_response"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["subject_id"], ["data_subject.id"], name=op.f("fk_callback_subject_id_data_subject"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(["service_id"], ["service.id"], name=op.f("fk_callback_service_id_service")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_callback")),
        sa.UniqueConstraint("response_id", name=op.f("uq_callback_response_id")),
    )
    with op.batch_alter_table("callback", schema=None) as batch_op:
        batch_op.create_index("ix_callback_open_due", ["done_at", "due_at"], unique=False)


def downgrade() -> None:
    op.drop_table("callback")
