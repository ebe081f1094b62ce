"""survey responses and comment scores

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 11:17:31.928506
"""

import sqlalchemy as sa
from advanced_alchemy.types import GUID, DateTimeUTC, JsonB
from alembic import op

sa.GUID = GUID  # type: ignore[attr-defined]
sa.DateTimeUTC = DateTimeUTC  # type: ignore[attr-defined]
sa.JsonB = JsonB  # type: ignore[attr-defined]

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "response",
        sa.Column("id", sa.GUID(length=16), nullable=False),
        sa.Column("invitation_id", sa.GUID(length=16), nullable=True),
        sa.Column("survey_version_id", sa.GUID(length=16), nullable=False),
        sa.Column("subject_id", sa.GUID(length=16), nullable=True),
        sa.Column("service_id", sa.GUID(length=16), nullable=True),
        sa.Column("contact_id", sa.GUID(length=16), nullable=True),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("anonymous", sa.Boolean(), nullable=False),
        sa.Column("submitted_at", sa.DateTimeUTC(timezone=True), nullable=False),
        sa.Column("satisfaction", sa.Integer(), nullable=True),
        sa.Column("resolved", sa.String(length=10), nullable=True),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["contact.id"], name=op.f("fk_response_contact_id_contact"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["invitation_id"], ["invitation.id"], name=op.f("fk_response_invitation_id_invitation"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(["service_id"], ["service.id"], name=op.f("fk_response_service_id_service")),
        sa.ForeignKeyConstraint(
            ["subject_id"], ["data_subject.id"], name=op.f("fk_response_subject_id_data_subject"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["survey_version_id"], ["survey_version.id"], name=op.f("fk_response_survey_version_id_survey_version")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_response")),
        sa.UniqueConstraint("invitation_id", name=op.f("uq_response_invitation_id")),
    )
    with op.batch_alter_table("response", schema=None) as batch_op:
        batch_op.create_index("ix_response_service_submitted", ["service_id", "submitted_at"], unique=False)

    op.create_table(
        "answer",
        sa.Column("id", sa.GUID(length=16), nullable=False),
        sa.Column("response_id", sa.GUID(length=16), nullable=False),
        sa.Column("question_key", sa.String(length=40), nullable=False),
        sa.Column("number", sa.Integer(), nullable=True),
        sa.Column("choice", sa.String(length=40), nullable=True),
        sa.Column("text_ciphertext", sa.LargeBinary(), nullable=True),
        sa.Column("text_length", sa.Integer(), nullable=True),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["response_id"], ["response.id"], name=op.f("fk_answer_response_id_response"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_answer")),
        sa.UniqueConstraint("response_id", "question_key", name="uq_answer_question"),
    )
    op.create_table(
        "comment_score",
        sa.Column("id", sa.GUID(length=16), nullable=False),
        sa.Column("answer_id", sa.GUID(length=16), nullable=False),
        sa.Column("response_id", sa.GUID(length=16), nullable=False),
        sa.Column("question_key", sa.String(length=40), nullable=False),
        sa.Column("polarity", sa.Float(), nullable=False),
        sa.Column("label", sa.String(length=10), nullable=False),
        sa.Column("scorer_version", sa.String(length=30), nullable=False),
        sa.Column("scored_at", sa.DateTimeUTC(timezone=True), nullable=False),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["answer_id"], ["answer.id"], name=op.f("fk_comment_score_answer_id_answer"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["response_id"], ["response.id"], name=op.f("fk_comment_score_response_id_response"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_comment_score")),
        sa.UniqueConstraint("answer_id", name=op.f("uq_comment_score_answer_id")),
    )
    with op.batch_alter_table("comment_score", schema=None) as batch_op:
        batch_op.create_index("ix_comment_score_response", ["response_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("comment_score", schema=None) as batch_op:
        batch_op.drop_index("ix_comment_score_response")

    op.drop_table("comment_score")
    op.drop_table("answer")
    with op.batch_alter_table("response", schema=None) as batch_op:
        batch_op.drop_index("ix_response_service_submitted")

    op.drop_table("response")
