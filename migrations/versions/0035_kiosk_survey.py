"""kiosks: the survey each kiosk asks (none: the post-contact survey, as before)

Revision ID: 0035
Revises: 0033
Create Date: 2026-12-01 20:00:00.000000
"""

import sqlalchemy as sa
from advanced_alchemy.types import GUID
from alembic import op

revision = "0035"
down_revision = "0033"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("kiosk", schema=None) as batch_op:
        batch_op.add_column(sa.Column("survey_id", GUID(length=16), nullable=True))
        batch_op.create_foreign_key(batch_op.f("fk_kiosk_survey_id_survey"), "survey", ["survey_id"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("kiosk", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_kiosk_survey_id_survey"), type_="foreignkey")
        batch_op.drop_column("survey_id")
