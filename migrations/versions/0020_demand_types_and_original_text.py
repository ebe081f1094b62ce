"""demand types, the permission to see comments as written, comments linked to actions, the inbox at scale

Revision ID: 0020
Revises: 0004
Create Date: 2026-12-01 13:40:00.000000
"""

import sqlalchemy as sa
from advanced_alchemy.types import GUID, DateTimeUTC
from alembic import op

revision = "0020"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "demand_tag",
        sa.Column("id", GUID(length=16), nullable=False),
        sa.Column("contact_id", GUID(length=16), nullable=True),
        sa.Column("answer_id", GUID(length=16), nullable=True),
        sa.Column("demand_type", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.String(length=360), nullable=True),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("service_id", GUID(length=16), nullable=True),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("tagged_by_kind", sa.String(length=10), nullable=False),
        sa.Column("tagged_by", sa.String(length=64), nullable=False),
        sa.Column("tagged_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.CheckConstraint("(contact_id IS NULL) <> (answer_id IS NULL)", name=op.f("ck_demand_tag_one_target")),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["contact.id"], name=op.f("fk_demand_tag_contact_id_contact"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["answer_id"], ["answer.id"], name=op.f("fk_demand_tag_answer_id_answer"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["service_id"], ["service.id"], name=op.f("fk_demand_tag_service_id_service")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_demand_tag")),
        sa.UniqueConstraint("contact_id", name=op.f("uq_demand_tag_contact_id")),
        sa.UniqueConstraint("answer_id", name=op.f("uq_demand_tag_answer_id")),
    )
    with op.batch_alter_table("demand_tag", schema=None) as batch_op:
        batch_op.create_index("ix_demand_tag_month", ["month", "service_id", "channel"], unique=False)
    op.create_table(
        "original_text_grant",
        sa.Column("id", GUID(length=16), nullable=False),
        sa.Column("staff_user_id", GUID(length=16), nullable=False),
        sa.Column("granted_by", sa.String(length=64), nullable=False),
        sa.Column("granted_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["staff_user_id"],
            ["staff_user.id"],
            name=op.f("fk_original_text_grant_staff_user_id_staff_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_original_text_grant")),
        sa.UniqueConstraint("staff_user_id", name=op.f("uq_original_text_grant_staff_user_id")),
    )
    op.create_table(
        "improvement_action_comment",
        sa.Column("id", GUID(length=16), nullable=False),
        sa.Column("action_id", GUID(length=16), nullable=False),
        sa.Column("answer_id", GUID(length=16), nullable=False),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["action_id"],
            ["improvement_action.id"],
            name=op.f("fk_improvement_action_comment_action_id_improvement_action"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["answer_id"],
            ["answer.id"],
            name=op.f("fk_improvement_action_comment_answer_id_answer"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_improvement_action_comment")),
        sa.UniqueConstraint("action_id", "answer_id", name="uq_improvement_action_comment"),
    )
    # The inbox at scale: newest first over every service, by channel, and an agent's own contacts (the agent
    # reference copied onto the response, so an agent's view reads no contacts).
    with op.batch_alter_table("response", schema=None) as batch_op:
        batch_op.add_column(sa.Column("agent_ref", sa.String(length=100), nullable=True))
    op.execute(
        "UPDATE response SET agent_ref = "
        "(SELECT contact.agent_ref FROM contact WHERE contact.id = response.contact_id) WHERE contact_id IS NOT NULL"
    )
    with op.batch_alter_table("response", schema=None) as batch_op:
        batch_op.create_index("ix_response_agent_submitted", ["agent_ref", "submitted_at"], unique=False)
        batch_op.create_index("ix_response_submitted", ["submitted_at", "id"], unique=False)
        batch_op.create_index("ix_response_channel_submitted", ["channel", "submitted_at"], unique=False)
        batch_op.create_index("ix_response_contact", ["contact_id"], unique=False)
    with op.batch_alter_table("contact", schema=None) as batch_op:
        batch_op.create_index("ix_contact_agent_occurred", ["agent_ref", "occurred_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("contact", schema=None) as batch_op:
        batch_op.drop_index("ix_contact_agent_occurred")
    with op.batch_alter_table("response", schema=None) as batch_op:
        batch_op.drop_index("ix_response_agent_submitted")
        batch_op.drop_index("ix_response_contact")
        batch_op.drop_index("ix_response_channel_submitted")
        batch_op.drop_index("ix_response_submitted")
    with op.batch_alter_table("response", schema=None) as batch_op:
        batch_op.drop_column("agent_ref")
    op.drop_table("improvement_action_comment")
    op.drop_table("original_text_grant")
    op.drop_table("demand_tag")
