"""Lead-list files: the ``files`` table, and each file call's data-row number and original values.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import opencaller.store.types

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "files",
        sa.Column("id", sa.String(length=24), nullable=False),
        sa.Column("team_id", sa.String(length=24), nullable=False),
        sa.Column("file_name", sa.String(length=255), nullable=False),
        sa.Column("call_template_id", sa.String(length=24), nullable=False),
        sa.Column("template_version", sa.Integer(), nullable=False),
        sa.Column("header", _json(), nullable=False),
        sa.Column("delimiter", sa.String(length=1), nullable=False),
        sa.Column("column_map", _json(), nullable=False),
        sa.Column("default_region", sa.String(length=2), nullable=True),
        sa.Column("phone_number_id", sa.String(length=24), nullable=True),
        sa.Column("call_delayed_until", opencaller.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("row_count", sa.Integer(), nullable=False),
        sa.Column("accepted_count", sa.Integer(), nullable=False),
        sa.Column("rejected_count", sa.Integer(), nullable=False),
        sa.Column("rejected_rows", _json(), nullable=False),
        sa.Column("cancelled_at", opencaller.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", opencaller.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", opencaller.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["call_template_id"], ["call_templates.id"], name=op.f("fk_files_call_template_id_call_templates")
        ),
        sa.ForeignKeyConstraint(["team_id"], ["teams.id"], name=op.f("fk_files_team_id_teams"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_files")),
    )
    with op.batch_alter_table("files", schema=None) as batch_op:
        batch_op.create_index("ix_files_team_id_id", ["team_id", "id"], unique=False)
    with op.batch_alter_table("phone_calls", schema=None) as batch_op:
        batch_op.add_column(sa.Column("file_row_number", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("file_row", _json(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("phone_calls", schema=None) as batch_op:
        batch_op.drop_column("file_row")
        batch_op.drop_column("file_row_number")
    with op.batch_alter_table("files", schema=None) as batch_op:
        batch_op.drop_index("ix_files_team_id_id")
    op.drop_table("files")
