"""comment classification: class and themes per comment, as classified and as reviewed

Revision ID: 0013
Revises: 0007
Create Date: 2026-12-01 11:30:00.000000
"""

import sqlalchemy as sa
from advanced_alchemy.types import GUID, DateTimeUTC, JsonB
from alembic import op

revision = "0013"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "comment_classification",
        sa.Column("id", GUID(length=16), nullable=False),
        sa.Column("answer_id", GUID(length=16), nullable=False),
        sa.Column("response_id", GUID(length=16), nullable=False),
        sa.Column("comment_class", sa.String(length=12), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("themes", JsonB, nullable=False),
        sa.Column("classifier_version", sa.String(length=30), nullable=False),
        sa.Column("classified_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("reviewed_class", sa.String(length=12), nullable=True),
        sa.Column("reviewed_themes", JsonB, nullable=True),
        sa.Column("reviewed_by", sa.String(length=64), nullable=True),
        sa.Column("reviewed_at", DateTimeUTC(timezone=True), nullable=True),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["answer_id"], ["answer.id"], name=op.f("fk_comment_classification_answer_id_answer"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["response_id"],
            ["response.id"],
            name=op.f("fk_comment_classification_response_id_response"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_comment_classification")),
        sa.UniqueConstraint("answer_id", name=op.f("uq_comment_classification_answer_id")),
    )
    with op.batch_alter_table("comment_classification", schema=None) as batch_op:
        batch_op.create_index("ix_comment_classification_response", ["response_id"], unique=False)
        batch_op.create_index("ix_comment_classification_class", ["comment_class"], unique=False)


def downgrade() -> None:
    op.drop_table("comment_classification")
