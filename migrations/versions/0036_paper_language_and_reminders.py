"""paper surveys: the language a contact event asks letters to be written in; the one reminder letter per
printed letter, and batches of reminders

Revision ID: 0036
Revises: 0035
Create Date: 2026-12-01 20:00:00.000000
"""

from datetime import timedelta

import sqlalchemy as sa
from advanced_alchemy.types import GUID, DateTimeUTC
from alembic import op

revision = "0036"
down_revision = "0035"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("contact", schema=None) as batch_op:
        batch_op.add_column(sa.Column("preferred_language", sa.String(length=3), nullable=True))
    with op.batch_alter_table("letter_batch", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reminders", sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table("letter", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reminder_batch_id", GUID(length=16), nullable=True))
        batch_op.create_foreign_key(
            op.f("fk_letter_reminder_batch_id_letter_batch"),
            "letter_batch",
            ["reminder_batch_id"],
            ["id"],
            ondelete="SET NULL",
        )
    # Paper invitations are due their reminder letter a number of days after printing (14 by default), set when
    # printed; the rules' email reminder time, set when they were decided, never applied to paper.
    invitation = sa.table(
        "invitation",
        sa.column("id", GUID(length=16)),
        sa.column("channel", sa.String()),
        sa.column("state", sa.String()),
        sa.column("sent_at", DateTimeUTC(timezone=True)),
        sa.column("reminder_at", DateTimeUTC(timezone=True)),
    )
    bind = op.get_bind()
    op.execute(invitation.update().where(invitation.c.channel == "paper").values(reminder_at=None))
    printed = bind.execute(
        sa.select(invitation.c.id, invitation.c.sent_at).where(
            invitation.c.channel == "paper", invitation.c.state == "sent", invitation.c.sent_at.is_not(None)
        )
    ).all()
    for invitation_id, sent_at in printed:
        bind.execute(
            invitation.update().where(invitation.c.id == invitation_id).values(reminder_at=sent_at + timedelta(days=14))
        )


def downgrade() -> None:
    with op.batch_alter_table("letter", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("fk_letter_reminder_batch_id_letter_batch"), type_="foreignkey")
        batch_op.drop_column("reminder_batch_id")
    with op.batch_alter_table("letter_batch", schema=None) as batch_op:
        batch_op.drop_column("reminders")
    with op.batch_alter_table("contact", schema=None) as batch_op:
        batch_op.drop_column("preferred_language")
