"""improvement actions and the complaint cases that prompted them

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-01 11:50:00.000000
"""

import sqlalchemy as sa
from advanced_alchemy.types import GUID, DateTimeUTC
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "improvement_action",
        sa.Column("id", GUID(length=16), nullable=False),
        sa.Column("reference", sa.String(length=20), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("service_id", GUID(length=16), nullable=True),
        sa.Column("owner_id", sa.String(length=64), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("evidence", sa.Text(), nullable=True),
        sa.Column("done_on", sa.Date(), nullable=True),
        sa.Column("you_said", sa.Text(), nullable=True),
        sa.Column("we_did", sa.Text(), nullable=True),
        sa.Column("published", sa.Boolean(), nullable=False),
        sa.Column("created_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["service_id"], ["service.id"], name=op.f("fk_improvement_action_service_id_service")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_improvement_action")),
        sa.UniqueConstraint("reference", name=op.f("uq_improvement_action_reference")),
    )
    with op.batch_alter_table("improvement_action", schema=None) as batch_op:
        batch_op.create_index("ix_improvement_action_status", ["status", "due_on"], unique=False)
    op.create_table(
        "improvement_action_case",
        sa.Column("id", GUID(length=16), nullable=False),
        sa.Column("action_id", GUID(length=16), nullable=False),
        sa.Column("case_id", GUID(length=16), nullable=False),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["action_id"],
            ["improvement_action.id"],
            name=op.f("fk_improvement_action_case_action_id_improvement_action"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["complaint_case.id"],
            name=op.f("fk_improvement_action_case_case_id_complaint_case"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_improvement_action_case")),
        sa.UniqueConstraint("action_id", "case_id", name="uq_improvement_action_case"),
    )


def downgrade() -> None:
    op.drop_table("improvement_action_case")
    op.drop_table("improvement_action")
