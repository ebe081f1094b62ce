"""Kiosks in face-to-face centres

Revision ID: 0028
Revises: 0030
Create Date: 2026-12-01 16:45:00.000000
"""

import sqlalchemy as sa
from advanced_alchemy.types import GUID, DateTimeUTC
from alembic import op

revision = "0028"
down_revision = "0030"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "kiosk",
        sa.Column("id", GUID(length=16), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("service_id", GUID(length=16), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("enrol_digest", sa.String(length=64), nullable=True),
        sa.Column("enrol_expires_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("device_digest", sa.String(length=64), nullable=True),
        sa.Column("created_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("enrolled_at", DateTimeUTC(timezone=True), nullable=True),
        sa.Column("last_used_at", DateTimeUTC(timezone=True), nullable=True),
        sa.Column("revoked_at", DateTimeUTC(timezone=True), nullable=True),
        sa.Column("responses", sa.Integer(), nullable=False),
        sa.Column("rate_tat", sa.Float(precision=53), nullable=False),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["service_id"], ["service.id"], name=op.f("fk_kiosk_service_id_service")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kiosk")),
        sa.UniqueConstraint("prefix", name=op.f("uq_kiosk_prefix")),
        sa.UniqueConstraint("enrol_digest", name=op.f("uq_kiosk_enrol_digest")),
        sa.UniqueConstraint("device_digest", name=op.f("uq_kiosk_device_digest")),
    )
    op.create_table(
        "kiosk_response",
        sa.Column("id", GUID(length=16), nullable=False),
        sa.Column("kiosk_id", GUID(length=16), nullable=False),
        sa.Column("response_id", GUID(length=16), nullable=False),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["kiosk_id"], ["kiosk.id"], name=op.f("fk_kiosk_response_kiosk_id_kiosk"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["response_id"], ["response.id"], name=op.f("fk_kiosk_response_response_id_response"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kiosk_response")),
        sa.UniqueConstraint("response_id", name=op.f("uq_kiosk_response_response_id")),
    )
    op.create_index("ix_kiosk_response_kiosk", "kiosk_response", ["kiosk_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_kiosk_response_kiosk", table_name="kiosk_response")
    op.drop_table("kiosk_response")
    op.drop_table("kiosk")
