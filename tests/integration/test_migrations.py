"""Alembic's ``upgrade head`` gives exactly the schema the models describe, on both backends."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from opencaller.store.db import Database
from opencaller.store.migrate import upgrade
from opencaller.store.models import Base
from tests.support import temporary_database


def _diff(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


def _tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


def test_upgrade_head_equals_models(backend: str, tmp_path: Path) -> None:
    async def check(url: str) -> tuple[list[Any], set[str]]:
        db = Database(url)
        try:
            await upgrade(db)
            await upgrade(db)  # a second run is a no-op
            async with db.engine.connect() as conn:
                return await conn.run_sync(_diff), await conn.run_sync(_tables)
        finally:
            await db.dispose()

    with temporary_database(backend, tmp_path) as url:
        diff, tables = asyncio.run(check(url))

    assert diff == []
    assert set(Base.metadata.tables) <= tables
