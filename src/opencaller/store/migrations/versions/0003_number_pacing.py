"""Pace dials per caller number: the next time a dial from the number may start.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import opencaller.store.types

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("phone_numbers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("next_dial_at", opencaller.store.types.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("phone_numbers", schema=None) as batch_op:
        batch_op.drop_column("next_dial_at")
