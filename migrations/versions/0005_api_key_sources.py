"""api keys bound to the sources they may report

Revision ID: 0005
Revises: 0017
Create Date: 2026-12-01 10:30:00.000000

Keys made before this revision report no source until an administrator binds them
(`civicvoice apikey sources PREFIX --source crm ...`): which contact system holds which key is not recorded
anywhere, and guessing would let a key report another system's contacts.
"""

import sqlalchemy as sa
from advanced_alchemy.types import JsonB
from alembic import op

revision = "0005"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("api_key") as batch:
        batch.add_column(sa.Column("sources", JsonB, nullable=False, server_default=sa.text("'[]'")))


def downgrade() -> None:
    with op.batch_alter_table("api_key") as batch:
        batch.drop_column("sources")
