"""Alembic environment: runs migrations over the async engine handed in by :mod:`opencaller.store.migrate`."""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from opencaller.store.models import Base


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through opencaller.store.migrate, which passes a connection")
_run(connection)
