"""IVR post-call surveys in progress

Revision ID: 0024
Revises: 0004
Create Date: 2026-12-01 14:30:00.000000
"""

import sqlalchemy as sa
from advanced_alchemy.types import GUID, DateTimeUTC, JsonB
from alembic import op

revision = "0024"
down_revision = "0026"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ivr_call",
        sa.Column("id", GUID(length=16), nullable=False),
        sa.Column("invitation_id", GUID(length=16), nullable=False),
        sa.Column("platform", sa.String(length=64), nullable=False),
        sa.Column("outcomes", JsonB, nullable=False),
        sa.Column("current", sa.String(length=40), nullable=True),
        sa.Column("retries", sa.Integer(), nullable=False),
        sa.Column("started_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("updated_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("finished_at", DateTimeUTC(timezone=True), nullable=True),
        sa.Column("response_id", GUID(length=16), nullable=True),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["invitation_id"], ["invitation.id"], name=op.f("fk_ivr_call_invitation_id_invitation"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["response_id"], ["response.id"], name=op.f("fk_ivr_call_response_id_response"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ivr_call")),
        sa.UniqueConstraint("invitation_id", name=op.f("uq_ivr_call_invitation_id")),
    )


def downgrade() -> None:
    op.drop_table("ivr_call")
