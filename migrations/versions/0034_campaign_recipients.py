"""campaign recipients: the people on a campaign's list; a campaign's invitation has no contact or decision

Revision ID: 0034
Revises: 0031
Create Date: 2026-12-01 18:00:00.000000
"""

import sqlalchemy as sa
from advanced_alchemy.types import GUID, DateTimeUTC
from alembic import op

revision = "0034"
down_revision = "0031"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("invitation", schema=None) as batch_op:
        batch_op.alter_column("contact_id", existing_type=GUID(length=16), nullable=True)
        batch_op.alter_column("decision_id", existing_type=GUID(length=16), nullable=True)
    op.create_table(
        "campaign_recipient",
        sa.Column("id", GUID(length=16), nullable=False),
        sa.Column("survey_id", GUID(length=16), nullable=False),
        sa.Column("subject_id", GUID(length=16), nullable=True),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("organisation_ciphertext", sa.LargeBinary(), nullable=True),
        sa.Column("added_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("invitation_id", GUID(length=16), nullable=True),
        sa.Column("invited_at", DateTimeUTC(timezone=True), nullable=True),
        sa.Column("not_invited", sa.String(length=40), nullable=True),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["survey_id"], ["survey.id"], name=op.f("fk_campaign_recipient_survey_id_survey"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["subject_id"],
            ["data_subject.id"],
            name=op.f("fk_campaign_recipient_subject_id_data_subject"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["invitation_id"],
            ["invitation.id"],
            name=op.f("fk_campaign_recipient_invitation_id_invitation"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaign_recipient")),
        sa.UniqueConstraint("survey_id", "subject_id", name="uq_campaign_recipient_person"),
        sa.UniqueConstraint("invitation_id", name=op.f("uq_campaign_recipient_invitation_id")),
    )
    op.create_index("ix_campaign_recipient_subject", "campaign_recipient", ["subject_id"])
    op.create_index("ix_campaign_recipient_survey_invited", "campaign_recipient", ["survey_id", "invited_at"])


def downgrade() -> None:
    op.drop_index("ix_campaign_recipient_survey_invited", table_name="campaign_recipient")
    op.drop_index("ix_campaign_recipient_subject", table_name="campaign_recipient")
    op.drop_table("campaign_recipient")
    # A campaign's invitations have no contact, so they cannot stay in the older table.
    invitation = sa.table("invitation", sa.column("contact_id", GUID(length=16)))
    op.execute(invitation.delete().where(invitation.c.contact_id.is_(None)))
    with op.batch_alter_table("invitation", schema=None) as batch_op:
        batch_op.alter_column("decision_id", existing_type=GUID(length=16), nullable=False)
        batch_op.alter_column("contact_id", existing_type=GUID(length=16), nullable=False)
