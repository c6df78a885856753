"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-12-04 16:07:05.467283
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import opencaller.store.types

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "teams",
        sa.Column("id", sa.String(length=24), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("default_phone_number_id", sa.String(length=24), nullable=True),
        sa.Column("concurrency_limit", sa.Integer(), nullable=False),
        sa.Column("time_zone", sa.String(length=64), nullable=True),
        sa.Column("provider_credentials", sa.Text(), nullable=True),
        sa.Column("created_at", opencaller.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", opencaller.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_teams")),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(length=24), nullable=False),
        sa.Column("team_id", sa.String(length=24), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", opencaller.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", opencaller.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["team_id"], ["teams.id"], name=op.f("fk_api_keys_team_id_teams"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_api_keys_key_hash")),
    )
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_api_keys_team_id"), ["team_id"], unique=False)

    op.create_table(
        "call_templates",
        sa.Column("id", sa.String(length=24), nullable=False),
        sa.Column("team_id", sa.String(length=24), nullable=False),
        sa.Column("current_version", sa.Integer(), nullable=False),
        sa.Column("deleted_at", opencaller.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", opencaller.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", opencaller.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_call_templates_team_id_teams"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_call_templates")),
    )
    with op.batch_alter_table("call_templates", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_call_templates_team_id"), ["team_id"], unique=False)

    op.create_table(
        "do_not_call",
        sa.Column("id", sa.String(length=24), nullable=False),
        sa.Column("team_id", sa.String(length=24), nullable=False),
        sa.Column("number", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("created_at", opencaller.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_do_not_call_team_id_teams"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_do_not_call")),
        sa.UniqueConstraint("team_id", "number", name="uq_do_not_call_team_number"),
    )
    op.create_table(
        "phone_numbers",
        sa.Column("id", sa.String(length=24), nullable=False),
        sa.Column("team_id", sa.String(length=24), nullable=False),
        sa.Column("number", sa.String(length=20), nullable=False),
        sa.Column("telephony_provider", sa.String(length=16), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=True),
        sa.Column("concurrency_limit", sa.Integer(), nullable=True),
        sa.Column("calls_per_second", sa.Double(), nullable=True),
        sa.Column("created_at", opencaller.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", opencaller.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_phone_numbers_team_id_teams"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_phone_numbers")),
        sa.UniqueConstraint("team_id", "number", name="uq_phone_numbers_team_number"),
    )
    with op.batch_alter_table("phone_numbers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_phone_numbers_team_id"), ["team_id"], unique=False)

    op.create_table(
        "call_template_versions",
        sa.Column("template_id", sa.String(length=24), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column(
            "definition",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", opencaller.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["template_id"],
            ["call_templates.id"],
            name=op.f("fk_call_template_versions_template_id_call_templates"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("template_id", "version", name=op.f("pk_call_template_versions")),
    )
    op.create_table(
        "phone_calls",
        sa.Column("id", sa.String(length=24), nullable=False),
        sa.Column("team_id", sa.String(length=24), nullable=False),
        sa.Column("call_template_id", sa.String(length=24), nullable=False),
        sa.Column("template_version", sa.Integer(), nullable=False),
        sa.Column("name_of_human", sa.String(length=200), nullable=False),
        sa.Column("to_phone_number", sa.String(length=20), nullable=False),
        sa.Column("to_email_address", sa.String(length=320), nullable=True),
        sa.Column("from_phone_number", sa.String(length=20), nullable=True),
        sa.Column("phone_number_id", sa.String(length=24), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("telephony_provider", sa.String(length=16), nullable=True),
        sa.Column("record", sa.Boolean(), nullable=False),
        sa.Column("call_delayed_until", opencaller.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "prompt_variable_values",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "phone_call_webhooks",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "result_values",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "status_extra_info",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("fixed_meeting_time", opencaller.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("recording_path", sa.Text(), nullable=True),
        sa.Column("call_duration", sa.Integer(), nullable=True),
        sa.Column("call_origin", sa.String(length=16), nullable=False),
        sa.Column(
            "custom_tags_hit_on_call",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("file_id", sa.String(length=24), nullable=True),
        sa.Column("file_name", sa.String(length=255), nullable=True),
        sa.Column("call_triggered_at", opencaller.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("call_started_at", opencaller.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("call_ended_at", opencaller.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("next_attempt_at", opencaller.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "attempts",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("provider_call_id", sa.String(length=64), nullable=True),
        sa.Column("lease_owner", sa.String(length=64), nullable=True),
        sa.Column("lease_expires_at", opencaller.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", opencaller.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", opencaller.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["call_template_id"],
            ["call_templates.id"],
            name=op.f("fk_phone_calls_call_template_id_call_templates"),
        ),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_phone_calls_team_id_teams"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_phone_calls")),
    )
    with op.batch_alter_table("phone_calls", schema=None) as batch_op:
        batch_op.create_index("ix_phone_calls_due", ["status", "next_attempt_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_phone_calls_provider_call_id"), ["provider_call_id"], unique=False)
        batch_op.create_index("ix_phone_calls_team_file_id", ["team_id", "file_id", "id"], unique=False)
        batch_op.create_index("ix_phone_calls_team_id_id", ["team_id", "id"], unique=False)
        batch_op.create_index("ix_phone_calls_team_status_id", ["team_id", "status", "id"], unique=False)
        batch_op.create_index("ix_phone_calls_team_template_id", ["team_id", "call_template_id", "id"], unique=False)
        batch_op.create_index("ix_phone_calls_team_to_id", ["team_id", "to_phone_number", "id"], unique=False)

    op.create_table(
        "transcript_turns",
        sa.Column("id", sa.String(length=24), nullable=False),
        sa.Column("team_id", sa.String(length=24), nullable=False),
        sa.Column("phone_call_id", sa.String(length=24), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=8), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("started_at", opencaller.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("ended_at", opencaller.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["phone_call_id"],
            ["phone_calls.id"],
            name=op.f("fk_transcript_turns_phone_call_id_phone_calls"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_transcript_turns_team_id_teams"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transcript_turns")),
    )
    with op.batch_alter_table("transcript_turns", schema=None) as batch_op:
        batch_op.create_index("ix_transcript_turns_call_seq", ["phone_call_id", "seq"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("transcript_turns", schema=None) as batch_op:
        batch_op.drop_index("ix_transcript_turns_call_seq")

    op.drop_table("transcript_turns")
    with op.batch_alter_table("phone_calls", schema=None) as batch_op:
        batch_op.drop_index("ix_phone_calls_team_to_id")
        batch_op.drop_index("ix_phone_calls_team_template_id")
        batch_op.drop_index("ix_phone_calls_team_status_id")
        batch_op.drop_index("ix_phone_calls_team_id_id")
        batch_op.drop_index("ix_phone_calls_team_file_id")
        batch_op.drop_index(batch_op.f("ix_phone_calls_provider_call_id"))
        batch_op.drop_index("ix_phone_calls_due")

    op.drop_table("phone_calls")
    op.drop_table("call_template_versions")
    with op.batch_alter_table("phone_numbers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_phone_numbers_team_id"))

    op.drop_table("phone_numbers")
    op.drop_table("do_not_call")
    with op.batch_alter_table("call_templates", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_call_templates_team_id"))

    op.drop_table("call_templates")
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_keys_team_id"))

    op.drop_table("api_keys")
    op.drop_table("teams")
