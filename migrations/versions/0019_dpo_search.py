"""DPO search: name blind index, legal holds placed by the DPO, mention scans, blind-index key rotation

Revision ID: 0019
Revises: 0004
Create Date: 2026-12-01 13:13:00.592360
"""

import sqlalchemy as sa
from advanced_alchemy.types import GUID, DateTimeUTC
from alembic import op

revision = "0019"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "index_rotation",
        sa.Column("id", GUID(length=16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("previous", sa.Integer(), nullable=False),
        sa.Column("added_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("activated_at", DateTimeUTC(timezone=True), nullable=True),
        sa.Column("cursor", GUID(length=16), nullable=True),
        sa.Column("reindexed", sa.Integer(), nullable=False),
        sa.Column("reindexed_at", DateTimeUTC(timezone=True), nullable=True),
        sa.Column("retired_at", DateTimeUTC(timezone=True), nullable=True),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_index_rotation")),
        sa.UniqueConstraint("version", name=op.f("uq_index_rotation_version")),
    )
    op.create_table(
        "legal_hold",
        sa.Column("id", GUID(length=16), nullable=False),
        sa.Column("subject_id", GUID(length=16), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.String(length=300), nullable=False),
        sa.Column("created_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("released_at", DateTimeUTC(timezone=True), nullable=True),
        sa.Column("released_by", sa.String(length=64), nullable=True),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["subject_id"], ["data_subject.id"], name=op.f("fk_legal_hold_subject_id_data_subject"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_legal_hold")),
    )
    with op.batch_alter_table("legal_hold", schema=None) as batch_op:
        batch_op.create_index("ix_legal_hold_subject", ["subject_id", "released_at"], unique=False)

    op.create_table(
        "mention_scan",
        sa.Column("id", GUID(length=16), nullable=False),
        sa.Column("subject_id", GUID(length=16), nullable=True),
        sa.Column("staff_user_id", GUID(length=16), nullable=True),
        sa.Column("request_id", GUID(length=16), nullable=True),
        sa.Column("requested_by", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("cursor", GUID(length=16), nullable=True),
        sa.Column("scanned", sa.Integer(), nullable=False),
        sa.Column("flagged", sa.Integer(), nullable=False),
        sa.Column("note", sa.String(length=200), nullable=True),
        sa.Column("created_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("finished_at", DateTimeUTC(timezone=True), nullable=True),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["staff_user_id"],
            ["staff_user.id"],
            name=op.f("fk_mention_scan_staff_user_id_staff_user"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["subject_id"],
            ["data_subject.id"],
            name=op.f("fk_mention_scan_subject_id_data_subject"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mention_scan")),
    )
    with op.batch_alter_table("mention_scan", schema=None) as batch_op:
        batch_op.create_index("ix_mention_scan_staff", ["staff_user_id"], unique=False)
        batch_op.create_index("ix_mention_scan_subject", ["subject_id"], unique=False)

    op.create_table(
        "subject_name_index",
        sa.Column("id", GUID(length=16), nullable=False),
        sa.Column("subject_id", GUID(length=16), nullable=False),
        sa.Column("key_version", sa.Integer(), nullable=False),
        sa.Column("digest", sa.LargeBinary(length=32), nullable=False),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["subject_id"],
            ["data_subject.id"],
            name=op.f("fk_subject_name_index_subject_id_data_subject"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subject_name_index")),
    )
    with op.batch_alter_table("subject_name_index", schema=None) as batch_op:
        batch_op.create_index("ix_subject_name_index_digest", ["key_version", "digest"], unique=False)
        batch_op.create_index("ix_subject_name_index_subject", ["subject_id"], unique=False)

    op.create_table(
        "mention_hit",
        sa.Column("id", GUID(length=16), nullable=False),
        sa.Column("scan_id", GUID(length=16), nullable=False),
        sa.Column("answer_id", GUID(length=16), nullable=False),
        sa.Column("matched", sa.String(length=40), nullable=False),
        sa.Column("found_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=True),
        sa.Column("reviewed_at", DateTimeUTC(timezone=True), nullable=True),
        sa.Column("reviewed_by", sa.String(length=64), nullable=True),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["answer_id"], ["answer.id"], name=op.f("fk_mention_hit_answer_id_answer"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["scan_id"], ["mention_scan.id"], name=op.f("fk_mention_hit_scan_id_mention_scan"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mention_hit")),
    )
    with op.batch_alter_table("mention_hit", schema=None) as batch_op:
        batch_op.create_index("ix_mention_hit_scan", ["scan_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("mention_hit", schema=None) as batch_op:
        batch_op.drop_index("ix_mention_hit_scan")

    op.drop_table("mention_hit")
    with op.batch_alter_table("subject_name_index", schema=None) as batch_op:
        batch_op.drop_index("ix_subject_name_index_subject")
        batch_op.drop_index("ix_subject_name_index_digest")

    op.drop_table("subject_name_index")
    with op.batch_alter_table("mention_scan", schema=None) as batch_op:
        batch_op.drop_index("ix_mention_scan_subject")
        batch_op.drop_index("ix_mention_scan_staff")

    op.drop_table("mention_scan")
    with op.batch_alter_table("legal_hold", schema=None) as batch_op:
        batch_op.drop_index("ix_legal_hold_subject")

    op.drop_table("legal_hold")
    op.drop_table("index_rotation")
