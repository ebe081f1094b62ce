"""GOV.UK Notify: invitation timeline events, delivery-receipt states, short links, SMS replies, shared rate limit

Revision ID: 0023
Revises: 0004
Create Date: 2026-12-01 13:30:00.000000
"""

import json

import sqlalchemy as sa
from advanced_alchemy.types import GUID, DateTimeUTC, JsonB
from alembic import op

revision = "0023"
down_revision = "0020"
branch_labels = None
depends_on = None

_RECEIPT_STATES = ("permanent_failure", "temporary_failure", "technical_failure")


def upgrade() -> None:
    with op.batch_alter_table("invitation", schema=None) as batch_op:
        # Room for Notify's receipt states (permanent_failure is 17 characters).
        batch_op.alter_column("state", existing_type=sa.String(length=16), type_=sa.String(length=24))
        batch_op.add_column(sa.Column("short_digest", sa.LargeBinary(length=32), nullable=True))
        batch_op.add_column(sa.Column("answer_by_reply", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.create_unique_constraint(op.f("uq_invitation_short_digest"), ["short_digest"])
    op.create_table(
        "invitation_event",
        sa.Column("id", GUID(length=16), nullable=False),
        sa.Column("invitation_id", GUID(length=16), nullable=False),
        sa.Column("state", sa.String(length=24), nullable=False),
        sa.Column("at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("detail", sa.String(length=300), nullable=True),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["invitation_id"],
            ["invitation.id"],
            name=op.f("fk_invitation_event_invitation_id_invitation"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invitation_event")),
    )
    with op.batch_alter_table("invitation_event", schema=None) as batch_op:
        batch_op.create_index("ix_invitation_event_invitation", ["invitation_id", "at"], unique=False)
    op.create_table(
        "rate_limit",
        sa.Column("id", GUID(length=16), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("tat", sa.Float(precision=53), nullable=False),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rate_limit")),
        sa.UniqueConstraint("name", name=op.f("uq_rate_limit_name")),
    )
    # SMS becomes a default channel (it is offered only where GOV.UK Notify is configured). A stored policy that
    # still has the old default, email alone, gets SMS too; any other choice an administrator made is kept.
    bind = op.get_bind()
    policies = sa.table("invitation_policy", sa.column("id", GUID(length=16)), sa.column("settings", JsonB))
    for row in bind.execute(sa.select(policies.c.id, policies.c.settings)).all():
        settings = row.settings if isinstance(row.settings, dict) else json.loads(row.settings)
        if settings.get("enabled_channels") == ["email"]:
            settings = {**settings, "enabled_channels": ["email", "sms"]}
            bind.execute(sa.update(policies).where(policies.c.id == row.id).values(settings=settings))


def downgrade() -> None:
    op.drop_table("rate_limit")
    with op.batch_alter_table("invitation_event", schema=None) as batch_op:
        batch_op.drop_index("ix_invitation_event_invitation")
    op.drop_table("invitation_event")
    # The receipt states do not exist before this revision: such invitations count as failed, their kind kept.
    invitations = sa.table("invitation", sa.column("state", sa.String()), sa.column("failure", sa.String()))
    op.get_bind().execute(
        sa.update(invitations)
        .where(invitations.c.state.in_(_RECEIPT_STATES))
        .values(failure=invitations.c.state, state="failed")
    )
    with op.batch_alter_table("invitation", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("uq_invitation_short_digest"), type_="unique")
        batch_op.drop_column("answer_by_reply")
        batch_op.drop_column("short_digest")
        batch_op.alter_column("state", existing_type=sa.String(length=24), type_=sa.String(length=16))
