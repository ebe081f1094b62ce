"""contact quality evaluations

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-01 12:10:00.000000
"""

import sqlalchemy as sa
from advanced_alchemy.types import GUID, DateTimeUTC, JsonB
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "contact_evaluation",
        sa.Column("id", GUID(length=16), nullable=False),
        sa.Column("contact_id", GUID(length=16), nullable=False),
        sa.Column("agent_ref", sa.String(length=100), nullable=True),
        sa.Column("service_id", GUID(length=16), nullable=True),
        sa.Column("reviewer_id", sa.String(length=64), nullable=False),
        sa.Column("marks", JsonB, nullable=False),
        sa.Column("weights", JsonB, nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("evaluated_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["contact.id"], name=op.f("fk_contact_evaluation_contact_id_contact"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["service_id"], ["service.id"], name=op.f("fk_contact_evaluation_service_id_service")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contact_evaluation")),
        sa.UniqueConstraint("contact_id", "reviewer_id", name="uq_contact_evaluation_reviewer"),
    )
    with op.batch_alter_table("contact_evaluation", schema=None) as batch_op:
        batch_op.create_index("ix_contact_evaluation_agent", ["agent_ref", "evaluated_at"], unique=False)


def downgrade() -> None:
    op.drop_table("contact_evaluation")
