"""survey builder: a survey's kind, channels and campaign period and target; several answer rows for one
multiple-choice question

Revision ID: 0031
Revises: 0028
Create Date: 2026-12-01 16:45:00.000000
"""

import sqlalchemy as sa
from advanced_alchemy.types import JsonB
from alembic import op

revision = "0031"
down_revision = "0028"
branch_labels = None
depends_on = None

# What surveys could be asked on before a survey said so itself; the kiosk's one-tap form came later.
EXISTING_CHANNELS = ["email", "sms", "ivr", "chat", "paper", "web_link"]  # surveys.catalogue.POST_CONTACT_CHANNELS


def upgrade() -> None:
    with op.batch_alter_table("survey", schema=None) as batch_op:
        batch_op.add_column(sa.Column("kind", sa.String(length=20), nullable=False, server_default="post_contact"))
        batch_op.add_column(sa.Column("channels", JsonB, nullable=True))
    survey = sa.table("survey", sa.column("channels", JsonB))
    op.execute(survey.update().values(channels=EXISTING_CHANNELS))
    with op.batch_alter_table("survey", schema=None) as batch_op:
        batch_op.alter_column("channels", existing_type=JsonB, nullable=False)
        batch_op.add_column(sa.Column("campaign_starts_on", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("campaign_ends_on", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("target_responses", sa.Integer(), nullable=True))

    with op.batch_alter_table("answer", schema=None) as batch_op:
        batch_op.add_column(sa.Column("position", sa.Integer(), nullable=False, server_default="0"))
        batch_op.drop_constraint("uq_answer_question", type_="unique")
        batch_op.create_unique_constraint("uq_answer_question_position", ["response_id", "question_key", "position"])


def downgrade() -> None:
    # Only the first choice of a multiple-choice answer fits the older table.
    answer = sa.table("answer", sa.column("position", sa.Integer()))
    op.execute(answer.delete().where(answer.c.position > 0))
    with op.batch_alter_table("answer", schema=None) as batch_op:
        batch_op.drop_constraint("uq_answer_question_position", type_="unique")
        batch_op.create_unique_constraint("uq_answer_question", ["response_id", "question_key"])
        batch_op.drop_column("position")
    with op.batch_alter_table("survey", schema=None) as batch_op:
        batch_op.drop_column("target_responses")
        batch_op.drop_column("campaign_ends_on")
        batch_op.drop_column("campaign_starts_on")
        batch_op.drop_column("channels")
        batch_op.drop_column("kind")
