"""privacy: audit chain, staged key rotation, erasure ledger, retention policy, subject requests

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01 10:30:00.000000
"""

import sqlalchemy as sa
from advanced_alchemy.types import GUID, DateTimeUTC, JsonB
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reason_ciphertext", sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column("seq", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("prev_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("entry_hash", sa.String(length=64), nullable=True))
        batch_op.create_index("ix_audit_event_seq", ["seq"], unique=True)
    op.create_table(
        "audit_checkpoint",
        sa.Column("id", GUID(length=16), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("entry_hash", sa.String(length=64), nullable=False),
        sa.Column("occurred_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("created_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("signature", sa.String(length=64), nullable=False),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_checkpoint")),
        sa.UniqueConstraint("seq", name=op.f("uq_audit_checkpoint_seq")),
    )

    op.create_table(
        "key_holder",
        sa.Column("id", GUID(length=16), nullable=False),
        sa.Column("process", sa.String(length=120), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("kek_versions", JsonB, nullable=False),
        sa.Column("index_versions", JsonB, nullable=False),
        sa.Column("started_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("seen_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_key_holder")),
        sa.UniqueConstraint("process", name=op.f("uq_key_holder_process")),
    )
    op.create_table(
        "kek_version",
        sa.Column("id", GUID(length=16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("added_at", DateTimeUTC(timezone=True), nullable=True),
        sa.Column("activated_at", DateTimeUTC(timezone=True), nullable=True),
        sa.Column("retired_at", DateTimeUTC(timezone=True), nullable=True),
        sa.Column("destroyed_at", DateTimeUTC(timezone=True), nullable=True),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kek_version")),
        sa.UniqueConstraint("version", name=op.f("uq_kek_version_version")),
    )
    op.create_table(
        "erasure_ledger",
        sa.Column("id", GUID(length=16), nullable=False),
        sa.Column("erased_subject_id", GUID(length=16), nullable=False),
        sa.Column("erased_on", sa.Date(), nullable=False),
        sa.Column("request_id", GUID(length=16), nullable=True),
        sa.Column("purged_at", DateTimeUTC(timezone=True), nullable=True),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_erasure_ledger")),
        sa.UniqueConstraint("erased_subject_id", name=op.f("uq_erasure_ledger_erased_subject_id")),
    )
    op.create_table(
        "retention_policy",
        sa.Column("id", GUID(length=16), nullable=False),
        sa.Column("retention_class", sa.String(length=40), nullable=False),
        sa.Column("months", sa.Integer(), nullable=False),
        sa.Column("updated_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=64), nullable=True),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_retention_policy")),
        sa.UniqueConstraint("retention_class", name=op.f("uq_retention_policy_retention_class")),
    )
    op.create_table(
        "subject_request",
        sa.Column("id", GUID(length=16), nullable=False),
        sa.Column("reference", sa.String(length=20), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("received_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("received_on", sa.Date(), nullable=False),
        sa.Column("identity_required", sa.Boolean(), nullable=False),
        sa.Column("identity_verified_on", sa.Date(), nullable=True),
        sa.Column("identity_method", sa.String(length=100), nullable=True),
        sa.Column("clock_started_on", sa.Date(), nullable=True),
        sa.Column("pauses", JsonB, nullable=False),
        sa.Column("extension_months", sa.Integer(), nullable=True),
        sa.Column("extension_notified_on", sa.Date(), nullable=True),
        sa.Column("due_on", sa.Date(), nullable=True),
        sa.Column("original_due_on", sa.Date(), nullable=True),
        sa.Column("subject_id", GUID(length=16), nullable=True),
        sa.Column("requester_ciphertext", sa.LargeBinary(), nullable=True),
        sa.Column("closed_at", DateTimeUTC(timezone=True), nullable=True),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["subject_id"],
            ["data_subject.id"],
            name=op.f("fk_subject_request_subject_id_data_subject"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subject_request")),
        sa.UniqueConstraint("reference", name=op.f("uq_subject_request_reference")),
    )
    with op.batch_alter_table("subject_request", schema=None) as batch_op:
        batch_op.create_index("ix_subject_request_state_due", ["state", "due_on"], unique=False)
    op.create_table(
        "subject_request_event",
        sa.Column("id", GUID(length=16), nullable=False),
        sa.Column("request_id", GUID(length=16), nullable=False),
        sa.Column("at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("actor_kind", sa.String(length=20), nullable=False),
        sa.Column("actor_id", sa.String(length=64), nullable=False),
        sa.Column("from_state", sa.String(length=20), nullable=True),
        sa.Column("to_state", sa.String(length=20), nullable=False),
        sa.Column("note_ciphertext", sa.LargeBinary(), nullable=True),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["subject_request.id"],
            name=op.f("fk_subject_request_event_request_id_subject_request"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subject_request_event")),
    )
    with op.batch_alter_table("subject_request_event", schema=None) as batch_op:
        batch_op.create_index("ix_subject_request_event_request", ["request_id", "at"], unique=False)
    op.create_table(
        "access_package",
        sa.Column("id", GUID(length=16), nullable=False),
        sa.Column("subject_id", GUID(length=16), nullable=True),
        sa.Column("request_id", GUID(length=16), nullable=True),
        sa.Column("created_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("expires_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("flagged", sa.Integer(), nullable=False),
        sa.Column("releases", sa.Integer(), nullable=False),
        sa.Column("file_name", sa.String(length=80), nullable=True),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["subject_id"],
            ["data_subject.id"],
            name=op.f("fk_access_package_subject_id_data_subject"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_package")),
    )


def downgrade() -> None:
    op.drop_table("access_package")
    op.drop_table("subject_request_event")
    op.drop_table("subject_request")
    op.drop_table("retention_policy")
    op.drop_table("erasure_ledger")
    op.drop_table("kek_version")
    op.drop_table("key_holder")
    op.drop_table("audit_checkpoint")
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_event_seq")
        batch_op.drop_column("entry_hash")
        batch_op.drop_column("prev_hash")
        batch_op.drop_column("seq")
        batch_op.drop_column("reason_ciphertext")
