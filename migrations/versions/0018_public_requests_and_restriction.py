"""public subject requests with one-time codes, restriction of processing, complaint acknowledgement

Revision ID: 0018
Revises: 0004
Create Date: 2026-12-01 13:15:00.000000
"""

import sqlalchemy as sa
from advanced_alchemy.types import GUID, DateTimeUTC
from alembic import op

revision = "0018"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "processing_restriction",
        sa.Column("id", GUID(length=16), nullable=False),
        sa.Column("subject_id", GUID(length=16), nullable=False),
        sa.Column("request_id", GUID(length=16), nullable=True),
        sa.Column("placed_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("placed_by", sa.String(length=64), nullable=False),
        sa.Column("lifted_at", DateTimeUTC(timezone=True), nullable=True),
        sa.Column("lifted_by", sa.String(length=64), nullable=True),
        sa.Column("lift_reason", sa.String(length=200), nullable=True),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["subject_request.id"],
            name=op.f("fk_processing_restriction_request_id_subject_request"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["subject_id"],
            ["data_subject.id"],
            name=op.f("fk_processing_restriction_subject_id_data_subject"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_processing_restriction")),
    )
    with op.batch_alter_table("processing_restriction", schema=None) as batch_op:
        batch_op.create_index("ix_processing_restriction_subject", ["subject_id", "lifted_at"], unique=False)

    op.create_table(
        "request_confirmation",
        sa.Column("id", GUID(length=16), nullable=False),
        sa.Column("link_digest", sa.String(length=64), nullable=False),
        sa.Column("code_digest", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("email_digest", sa.String(length=64), nullable=False),
        sa.Column("client_digest", sa.String(length=64), nullable=False),
        sa.Column("requester_ciphertext", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("expires_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("last_sent_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("codes_sent", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("confirmed_at", DateTimeUTC(timezone=True), nullable=True),
        sa.Column("request_id", GUID(length=16), nullable=True),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["subject_request.id"],
            name=op.f("fk_request_confirmation_request_id_subject_request"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_request_confirmation")),
        sa.UniqueConstraint("link_digest", name=op.f("uq_request_confirmation_link_digest")),
    )
    with op.batch_alter_table("request_confirmation", schema=None) as batch_op:
        batch_op.create_index("ix_request_confirmation_client", ["client_digest", "last_sent_at"], unique=False)
        batch_op.create_index("ix_request_confirmation_created", ["created_at"], unique=False)
        batch_op.create_index("ix_request_confirmation_email", ["email_digest", "last_sent_at"], unique=False)

    with op.batch_alter_table("subject_request", schema=None) as batch_op:
        batch_op.add_column(sa.Column("acknowledged_on", sa.Date(), nullable=True))

    with op.batch_alter_table("subject_request_event", schema=None) as batch_op:
        batch_op.add_column(sa.Column("action", sa.String(length=20), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("subject_request_event", schema=None) as batch_op:
        batch_op.drop_column("action")

    with op.batch_alter_table("subject_request", schema=None) as batch_op:
        batch_op.drop_column("acknowledged_on")

    with op.batch_alter_table("request_confirmation", schema=None) as batch_op:
        batch_op.drop_index("ix_request_confirmation_email")
        batch_op.drop_index("ix_request_confirmation_created")
        batch_op.drop_index("ix_request_confirmation_client")
    op.drop_table("request_confirmation")

    with op.batch_alter_table("processing_restriction", schema=None) as batch_op:
        batch_op.drop_index("ix_processing_restriction_subject")
    op.drop_table("processing_restriction")
