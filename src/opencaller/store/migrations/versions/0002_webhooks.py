"""webhook subscriptions and the delivery outbox

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-05 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import opencaller.store.types

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "webhook_subscriptions",
        sa.Column("id", sa.String(length=24), nullable=False),
        sa.Column("team_id", sa.String(length=24), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column(
            "events",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("encrypted_secret", sa.Text(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("disabled_reason", sa.String(length=200), nullable=True),
        sa.Column("created_at", opencaller.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", opencaller.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_webhook_subscriptions_team_id_teams"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_subscriptions")),
    )
    with op.batch_alter_table("webhook_subscriptions", schema=None) as batch_op:
        batch_op.create_index("ix_webhook_subscriptions_team_id_id", ["team_id", "id"], unique=False)

    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.String(length=24), nullable=False),
        sa.Column("team_id", sa.String(length=24), nullable=False),
        sa.Column("phone_call_id", sa.String(length=24), nullable=False),
        sa.Column("subscription_id", sa.String(length=24), nullable=True),
        sa.Column("call_webhook_index", sa.Integer(), nullable=True),
        sa.Column("target_key", sa.String(length=40), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("event", sa.String(length=32), nullable=False),
        sa.Column("message_id", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column("last_latency_ms", sa.Double(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("next_attempt_at", opencaller.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("retry_window_started_at", opencaller.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("lease_owner", sa.String(length=64), nullable=True),
        sa.Column("lease_expires_at", opencaller.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", opencaller.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", opencaller.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", opencaller.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["phone_call_id"],
            ["phone_calls.id"],
            name=op.f("fk_webhook_deliveries_phone_call_id_phone_calls"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_webhook_deliveries_team_id_teams"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_deliveries")),
        sa.UniqueConstraint("message_id", name=op.f("uq_webhook_deliveries_message_id")),
        sa.UniqueConstraint("phone_call_id", "target_key", "sequence", name="uq_webhook_deliveries_stream_sequence"),
    )
    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        batch_op.create_index("ix_webhook_deliveries_due", ["status", "next_attempt_at"], unique=False)
        batch_op.create_index("ix_webhook_deliveries_subscription_status", ["subscription_id", "status"], unique=False)
        batch_op.create_index("ix_webhook_deliveries_team_call_id", ["team_id", "phone_call_id", "id"], unique=False)
        batch_op.create_index("ix_webhook_deliveries_team_id_id", ["team_id", "id"], unique=False)
        batch_op.create_index("ix_webhook_deliveries_team_status_id", ["team_id", "status", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_webhook_deliveries_team_status_id")
        batch_op.drop_index("ix_webhook_deliveries_team_id_id")
        batch_op.drop_index("ix_webhook_deliveries_team_call_id")
        batch_op.drop_index("ix_webhook_deliveries_subscription_status")
        batch_op.drop_index("ix_webhook_deliveries_due")

    op.drop_table("webhook_deliveries")
    with op.batch_alter_table("webhook_subscriptions", schema=None) as batch_op:
        batch_op.drop_index("ix_webhook_subscriptions_team_id_id")

    op.drop_table("webhook_subscriptions")
