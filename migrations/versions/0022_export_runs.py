"""exports: the record of every export, background progress and the encrypted file's wrapped key

Revision ID: 0022
Revises: 0004
Create Date: 2026-12-01 13:30:00.000000
"""

import sqlalchemy as sa
from advanced_alchemy.types import GUID, DateTimeUTC
from alembic import op

revision = "0022"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "export_run",
        sa.Column("id", GUID(length=16), nullable=False),
        sa.Column("dataset", sa.String(length=20), nullable=False),
        sa.Column("format", sa.String(length=4), nullable=False),
        sa.Column("identified", sa.Boolean(), nullable=False),
        sa.Column("date_from", sa.Date(), nullable=True),
        sa.Column("date_to", sa.Date(), nullable=True),
        sa.Column("service", sa.String(length=64), nullable=True),
        sa.Column("channel", sa.String(length=20), nullable=True),
        sa.Column("created_by", sa.String(length=64), nullable=True),
        sa.Column("created_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("expected_rows", sa.Integer(), nullable=True),
        sa.Column("finished_at", DateTimeUTC(timezone=True), nullable=True),
        sa.Column("expires_at", DateTimeUTC(timezone=True), nullable=True),
        sa.Column("file_name", sa.String(length=80), nullable=True),
        sa.Column("file_bytes", sa.BigInteger(), nullable=True),
        sa.Column("file_key_version", sa.Integer(), nullable=True),
        sa.Column("file_key", sa.LargeBinary(), nullable=True),
        sa.Column("problem", sa.String(length=300), nullable=True),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_export_run")),
    )
    with op.batch_alter_table("export_run", schema=None) as batch_op:
        batch_op.create_index("ix_export_run_created_by", ["created_by", "created_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("export_run", schema=None) as batch_op:
        batch_op.drop_index("ix_export_run_created_by")
    op.drop_table("export_run")
