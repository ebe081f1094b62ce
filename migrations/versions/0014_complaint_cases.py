"""complaint cases and their notes

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01 11:40:00.000000
"""

import sqlalchemy as sa
from advanced_alchemy.types import GUID, DateTimeUTC
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "complaint_case",
        sa.Column("id", GUID(length=16), nullable=False),
        sa.Column("reference", sa.String(length=20), nullable=False),
        sa.Column("service_id", GUID(length=16), nullable=True),
        sa.Column("subject_id", GUID(length=16), nullable=True),
        sa.Column("response_id", GUID(length=16), nullable=True),
        sa.Column("answer_id", GUID(length=16), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("stage", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.String(length=64), nullable=False),
        sa.Column("stage2_owner_id", sa.String(length=64), nullable=True),
        sa.Column("received_on", sa.Date(), nullable=False),
        sa.Column("acknowledge_due", sa.Date(), nullable=False),
        sa.Column("acknowledged_on", sa.Date(), nullable=True),
        sa.Column("stage1_due", sa.Date(), nullable=True),
        sa.Column("stage1_answered_on", sa.Date(), nullable=True),
        sa.Column("stage2_due", sa.Date(), nullable=True),
        sa.Column("stage2_answered_on", sa.Date(), nullable=True),
        sa.Column("outcome", sa.String(length=20), nullable=True),
        sa.Column("closed_at", DateTimeUTC(timezone=True), nullable=True),
        sa.Column("created_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["service_id"], ["service.id"], name=op.f("fk_complaint_case_service_id_service")),
        sa.ForeignKeyConstraint(
            ["subject_id"],
            ["data_subject.id"],
            name=op.f("fk_complaint_case_subject_id_data_subject"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["response_id"], ["response.id"], name=op.f("fk_complaint_case_response_id_response"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["answer_id"], ["answer.id"], name=op.f("fk_complaint_case_answer_id_answer"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_complaint_case")),
        sa.UniqueConstraint("reference", name=op.f("uq_complaint_case_reference")),
    )
    with op.batch_alter_table("complaint_case", schema=None) as batch_op:
        batch_op.create_index("ix_complaint_case_status", ["status", "service_id"], unique=False)
    op.create_table(
        "complaint_case_note",
        sa.Column("id", GUID(length=16), nullable=False),
        sa.Column("case_id", GUID(length=16), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("author_id", sa.String(length=64), nullable=False),
        sa.Column("text_ciphertext", sa.LargeBinary(), nullable=True),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["complaint_case.id"],
            name=op.f("fk_complaint_case_note_case_id_complaint_case"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_complaint_case_note")),
    )
    with op.batch_alter_table("complaint_case_note", schema=None) as batch_op:
        batch_op.create_index("ix_complaint_case_note_case", ["case_id", "at"], unique=False)


def downgrade() -> None:
    op.drop_table("complaint_case_note")
    op.drop_table("complaint_case")
