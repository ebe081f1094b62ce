"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-23 11:06:17.198442
"""

import sqlalchemy as sa
from advanced_alchemy.types import GUID, DateTimeUTC, JsonB
from alembic import op

sa.GUID = GUID  # type: ignore[attr-defined]
sa.DateTimeUTC = DateTimeUTC  # type: ignore[attr-defined]
sa.JsonB = JsonB  # type: ignore[attr-defined]

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_key",
        sa.Column("id", sa.GUID(length=16), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("scopes", JsonB, nullable=False),
        sa.Column("created_at", sa.DateTimeUTC(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTimeUTC(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTimeUTC(timezone=True), nullable=True),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_key")),
        sa.UniqueConstraint("digest", name=op.f("uq_api_key_digest")),
        sa.UniqueConstraint("prefix", name=op.f("uq_api_key_prefix")),
    )
    op.create_table(
        "audit_event",
        sa.Column("id", sa.GUID(length=16), nullable=False),
        sa.Column("occurred_at", sa.DateTimeUTC(timezone=True), nullable=False),
        sa.Column("actor_kind", sa.String(length=20), nullable=False),
        sa.Column("actor_id", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=80), nullable=False),
        sa.Column("target_kind", sa.String(length=40), nullable=True),
        sa.Column("target_id", sa.String(length=64), nullable=True),
        sa.Column("detail", JsonB, nullable=False),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_event")),
    )
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.create_index("ix_audit_event_occurred_at", ["occurred_at"], unique=False)

    op.create_table(
        "data_subject",
        sa.Column("id", sa.GUID(length=16), nullable=False),
        sa.Column("identity_ciphertext", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", sa.DateTimeUTC(timezone=True), nullable=False),
        sa.Column("last_contact_at", sa.DateTimeUTC(timezone=True), nullable=True),
        sa.Column("opted_out_at", sa.DateTimeUTC(timezone=True), nullable=True),
        sa.Column("do_not_survey", sa.Boolean(), nullable=False),
        sa.Column("erased_at", sa.DateTimeUTC(timezone=True), nullable=True),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_data_subject")),
    )
    op.create_table(
        "invitation_policy",
        sa.Column("id", sa.GUID(length=16), nullable=False),
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("settings", JsonB, nullable=False),
        sa.Column("updated_at", sa.DateTimeUTC(timezone=True), nullable=False),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invitation_policy")),
        sa.UniqueConstraint("name", name=op.f("uq_invitation_policy_name")),
    )
    op.create_table(
        "job",
        sa.Column("id", sa.GUID(length=16), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("payload", JsonB, nullable=False),
        sa.Column("dedupe_key", sa.String(length=200), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("run_at", sa.DateTimeUTC(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("lease_until", sa.DateTimeUTC(timezone=True), nullable=True),
        sa.Column("worker", sa.String(length=100), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTimeUTC(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTimeUTC(timezone=True), nullable=True),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_job_dedupe_key")),
    )
    with op.batch_alter_table("job", schema=None) as batch_op:
        batch_op.create_index("ix_job_due", ["state", "run_at"], unique=False)

    op.create_table(
        "key_check",
        sa.Column("id", sa.GUID(length=16), nullable=False),
        sa.Column("purpose", sa.String(length=40), nullable=False),
        sa.Column("value", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTimeUTC(timezone=True), nullable=False),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_key_check")),
        sa.UniqueConstraint("purpose", name=op.f("uq_key_check_purpose")),
    )
    op.create_table(
        "service_group",
        sa.Column("id", sa.GUID(length=16), nullable=False),
        sa.Column("slug", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_service_group")),
        sa.UniqueConstraint("slug", name=op.f("uq_service_group_slug")),
    )
    op.create_table(
        "staff_user",
        sa.Column("id", sa.GUID(length=16), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=30), nullable=False),
        sa.Column("service_scope", JsonB, nullable=False),
        sa.Column("agent_ref", sa.String(length=100), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTimeUTC(timezone=True), nullable=False),
        sa.Column("password_changed_at", sa.DateTimeUTC(timezone=True), nullable=True),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_user")),
        sa.UniqueConstraint("email", name=op.f("uq_staff_user_email")),
    )
    op.create_table(
        "suppression_entry",
        sa.Column("id", sa.GUID(length=16), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("key_version", sa.Integer(), nullable=False),
        sa.Column("digest", sa.LargeBinary(length=32), nullable=False),
        sa.Column("reason", sa.String(length=40), nullable=False),
        sa.Column("created_at", sa.DateTimeUTC(timezone=True), nullable=False),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_suppression_entry")),
        sa.UniqueConstraint("kind", "key_version", "digest", name="uq_suppression_value"),
    )
    op.create_table(
        "survey",
        sa.Column("id", sa.GUID(length=16), nullable=False),
        sa.Column("slug", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("is_post_contact_default", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTimeUTC(timezone=True), nullable=False),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_survey")),
        sa.UniqueConstraint("slug", name=op.f("uq_survey_slug")),
    )
    op.create_table(
        "data_key",
        sa.Column("id", sa.GUID(length=16), nullable=False),
        sa.Column("subject_id", sa.GUID(length=16), nullable=True),
        sa.Column("period", sa.String(length=7), nullable=True),
        sa.Column("kek_version", sa.Integer(), nullable=False),
        sa.Column("wrapped", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", sa.DateTimeUTC(timezone=True), nullable=False),
        sa.Column("destroyed_at", sa.DateTimeUTC(timezone=True), nullable=True),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["subject_id"], ["data_subject.id"], name=op.f("fk_data_key_subject_id_data_subject"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_data_key")),
        sa.UniqueConstraint("period", name=op.f("uq_data_key_period")),
        sa.UniqueConstraint("subject_id", name=op.f("uq_data_key_subject_id")),
    )
    op.create_table(
        "service",
        sa.Column("id", sa.GUID(length=16), nullable=False),
        sa.Column("group_id", sa.GUID(length=16), nullable=False),
        sa.Column("slug", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("survey_excluded", sa.Boolean(), nullable=False),
        sa.Column("exclusion_reason", sa.String(length=200), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["group_id"], ["service_group.id"], name=op.f("fk_service_group_id_service_group")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_service")),
        sa.UniqueConstraint("slug", name=op.f("uq_service_slug")),
    )
    op.create_table(
        "subject_conflict",
        sa.Column("id", sa.GUID(length=16), nullable=False),
        sa.Column("chosen_subject_id", sa.GUID(length=16), nullable=False),
        sa.Column("other_subject_id", sa.GUID(length=16), nullable=False),
        sa.Column("matched_on", sa.String(length=20), nullable=False),
        sa.Column("conflicting_field", sa.String(length=20), nullable=False),
        sa.Column("contact_id", sa.GUID(length=16), nullable=True),
        sa.Column("detected_at", sa.DateTimeUTC(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTimeUTC(timezone=True), nullable=True),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["chosen_subject_id"],
            ["data_subject.id"],
            name=op.f("fk_subject_conflict_chosen_subject_id_data_subject"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["other_subject_id"],
            ["data_subject.id"],
            name=op.f("fk_subject_conflict_other_subject_id_data_subject"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subject_conflict")),
    )
    op.create_table(
        "subject_index",
        sa.Column("id", sa.GUID(length=16), nullable=False),
        sa.Column("subject_id", sa.GUID(length=16), nullable=False),
        sa.Column("field", sa.String(length=20), nullable=False),
        sa.Column("key_version", sa.Integer(), nullable=False),
        sa.Column("digest", sa.LargeBinary(length=32), nullable=False),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["subject_id"],
            ["data_subject.id"],
            name=op.f("fk_subject_index_subject_id_data_subject"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subject_index")),
        sa.UniqueConstraint("field", "key_version", "digest", name="uq_subject_index_value"),
    )
    with op.batch_alter_table("subject_index", schema=None) as batch_op:
        batch_op.create_index("ix_subject_index_subject", ["subject_id"], unique=False)

    op.create_table(
        "survey_version",
        sa.Column("id", sa.GUID(length=16), nullable=False),
        sa.Column("survey_id", sa.GUID(length=16), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("definition", JsonB, nullable=False),
        sa.Column("created_at", sa.DateTimeUTC(timezone=True), nullable=False),
        sa.Column("published_at", sa.DateTimeUTC(timezone=True), nullable=True),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["survey_id"], ["survey.id"], name=op.f("fk_survey_version_survey_id_survey")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_survey_version")),
        sa.UniqueConstraint("survey_id", "number", name="uq_survey_version_number"),
    )
    op.create_table(
        "contact",
        sa.Column("id", sa.GUID(length=16), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("ref_key_version", sa.Integer(), nullable=False),
        sa.Column("ref_digest", sa.LargeBinary(length=32), nullable=False),
        sa.Column("subject_id", sa.GUID(length=16), nullable=True),
        sa.Column("service_id", sa.GUID(length=16), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("occurred_at", sa.DateTimeUTC(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTimeUTC(timezone=True), nullable=False),
        sa.Column("agent_ref", sa.String(length=100), nullable=True),
        sa.Column("wait_seconds", sa.Integer(), nullable=True),
        sa.Column("handling_seconds", sa.Integer(), nullable=True),
        sa.Column("transferred", sa.Boolean(), nullable=False),
        sa.Column("resolved_first_contact", sa.Boolean(), nullable=True),
        sa.Column("contact_preference", sa.String(length=10), nullable=True),
        sa.Column("do_not_survey", sa.Boolean(), nullable=False),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["service_id"], ["service.id"], name=op.f("fk_contact_service_id_service")),
        sa.ForeignKeyConstraint(
            ["subject_id"], ["data_subject.id"], name=op.f("fk_contact_subject_id_data_subject"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contact")),
        sa.UniqueConstraint("ref_key_version", "ref_digest", name="uq_contact_ref"),
    )
    with op.batch_alter_table("contact", schema=None) as batch_op:
        batch_op.create_index("ix_contact_service_occurred", ["service_id", "occurred_at"], unique=False)
        batch_op.create_index("ix_contact_subject", ["subject_id"], unique=False)

    op.create_table(
        "invitation_decision",
        sa.Column("id", sa.GUID(length=16), nullable=False),
        sa.Column("contact_id", sa.GUID(length=16), nullable=False),
        sa.Column("subject_id", sa.GUID(length=16), nullable=True),
        sa.Column("invite", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.String(length=40), nullable=False),
        sa.Column("detail", sa.String(length=300), nullable=False),
        sa.Column("rules_version", sa.String(length=20), nullable=False),
        sa.Column("decided_at", sa.DateTimeUTC(timezone=True), nullable=False),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["contact.id"], name=op.f("fk_invitation_decision_contact_id_contact"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["subject_id"],
            ["data_subject.id"],
            name=op.f("fk_invitation_decision_subject_id_data_subject"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invitation_decision")),
        sa.UniqueConstraint("contact_id", name=op.f("uq_invitation_decision_contact_id")),
    )
    with op.batch_alter_table("invitation_decision", schema=None) as batch_op:
        batch_op.create_index("ix_invitation_decision_reason", ["reason", "decided_at"], unique=False)

    op.create_table(
        "invitation",
        sa.Column("id", sa.GUID(length=16), nullable=False),
        sa.Column("contact_id", sa.GUID(length=16), nullable=False),
        sa.Column("decision_id", sa.GUID(length=16), nullable=False),
        sa.Column("subject_id", sa.GUID(length=16), nullable=True),
        sa.Column("survey_version_id", sa.GUID(length=16), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("due_at", sa.DateTimeUTC(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTimeUTC(timezone=True), nullable=False),
        sa.Column("reminder_at", sa.DateTimeUTC(timezone=True), nullable=True),
        sa.Column("reminders_sent", sa.Integer(), nullable=False),
        sa.Column("send_attempts", sa.Integer(), nullable=False),
        sa.Column("message_ref", sa.String(length=200), nullable=True),
        sa.Column("sent_at", sa.DateTimeUTC(timezone=True), nullable=True),
        sa.Column("responded_at", sa.DateTimeUTC(timezone=True), nullable=True),
        sa.Column("failure", sa.String(length=300), nullable=True),
        sa.Column("created_at", sa.DateTimeUTC(timezone=True), nullable=False),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["contact.id"], name=op.f("fk_invitation_contact_id_contact"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["decision_id"],
            ["invitation_decision.id"],
            name=op.f("fk_invitation_decision_id_invitation_decision"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["subject_id"], ["data_subject.id"], name=op.f("fk_invitation_subject_id_data_subject"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["survey_version_id"], ["survey_version.id"], name=op.f("fk_invitation_survey_version_id_survey_version")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invitation")),
        sa.UniqueConstraint("contact_id", name=op.f("uq_invitation_contact_id")),
    )
    with op.batch_alter_table("invitation", schema=None) as batch_op:
        batch_op.create_index("ix_invitation_state_due", ["state", "due_at"], unique=False)
        batch_op.create_index("ix_invitation_subject_due", ["subject_id", "due_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("invitation", schema=None) as batch_op:
        batch_op.drop_index("ix_invitation_subject_due")
        batch_op.drop_index("ix_invitation_state_due")

    op.drop_table("invitation")
    with op.batch_alter_table("invitation_decision", schema=None) as batch_op:
        batch_op.drop_index("ix_invitation_decision_reason")

    op.drop_table("invitation_decision")
    with op.batch_alter_table("contact", schema=None) as batch_op:
        batch_op.drop_index("ix_contact_subject")
        batch_op.drop_index("ix_contact_service_occurred")

    op.drop_table("contact")
    op.drop_table("survey_version")
    with op.batch_alter_table("subject_index", schema=None) as batch_op:
        batch_op.drop_index("ix_subject_index_subject")

    op.drop_table("subject_index")
    op.drop_table("subject_conflict")
    op.drop_table("service")
    op.drop_table("data_key")
    op.drop_table("survey")
    op.drop_table("suppression_entry")
    op.drop_table("staff_user")
    op.drop_table("service_group")
    op.drop_table("key_check")
    with op.batch_alter_table("job", schema=None) as batch_op:
        batch_op.drop_index("ix_job_due")

    op.drop_table("job")
    op.drop_table("invitation_policy")
    op.drop_table("data_subject")
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_event_occurred_at")

    op.drop_table("audit_event")
    op.drop_table("api_key")
