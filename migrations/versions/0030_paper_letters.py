"""Paper surveys: letters printed for invitations and the print batches they came in

Revision ID: 0030
Revises: 0027
Create Date: 2026-12-01 16:30:00.000000
"""

import sqlalchemy as sa
from advanced_alchemy.types import GUID, DateTimeUTC
from alembic import op

revision = "0030"
down_revision = "0027"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "letter_batch",
        sa.Column("id", GUID(length=16), nullable=False),
        sa.Column("printed_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("printed_by", sa.String(length=64), nullable=False),
        sa.Column("letters", sa.Integer(), nullable=False),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_letter_batch")),
    )
    op.create_index("ix_letter_batch_printed", "letter_batch", ["printed_at"])
    op.create_table(
        "letter",
        sa.Column("id", GUID(length=16), nullable=False),
        sa.Column("invitation_id", GUID(length=16), nullable=False),
        sa.Column("reference", sa.String(length=12), nullable=False),
        sa.Column("batch_id", GUID(length=16), nullable=False),
        sa.Column("keyed_at", DateTimeUTC(timezone=True), nullable=True),
        sa.Column("keyed_by", sa.String(length=64), nullable=True),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["invitation_id"], ["invitation.id"], name=op.f("fk_letter_invitation_id_invitation"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["batch_id"], ["letter_batch.id"], name=op.f("fk_letter_batch_id_letter_batch"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_letter")),
        sa.UniqueConstraint("invitation_id", name=op.f("uq_letter_invitation_id")),
        sa.UniqueConstraint("reference", name=op.f("uq_letter_reference")),
    )
    op.create_index("ix_letter_batch", "letter", ["batch_id"])


def downgrade() -> None:
    op.drop_index("ix_letter_batch", table_name="letter")
    op.drop_table("letter")
    op.drop_index("ix_letter_batch_printed", table_name="letter_batch")
    op.drop_table("letter_batch")
