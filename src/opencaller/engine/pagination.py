"""Cursor pagination over time-ordered ids: newest first, stable under inserts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from opencaller.domain.ids import is_valid_id
from opencaller.errors import ErrorDetail, ValidationFailed

T = TypeVar("T")
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of results and the cursor for the next (``None`` on the last page)."""

    items: list[T]
    limit: int
    next_cursor: str | None


def check_page_args(limit: int | None, cursor: str | None) -> tuple[int, str | None]:
    """Validate ``limit`` (1..1000, default 100) and ``cursor`` (the opaque value a previous page returned)."""
    size = DEFAULT_LIMIT if limit is None else limit
    problems = []
    if not 1 <= size <= MAX_LIMIT:
        problems.append(ErrorDetail("limit", f"must be between 1 and {MAX_LIMIT}"))
    if cursor is not None and not is_valid_id(cursor):
        problems.append(ErrorDetail("cursor", "is not a cursor returned by this API"))
    if problems:
        raise ValidationFailed("invalid pagination parameters", problems)
    return size, cursor


async def paginate(
    session: AsyncSession,
    query: Select[Any],
    id_column: InstrumentedAttribute[str],
    limit: int | None,
    cursor: str | None,
) -> Page[Any]:
    """Run ``query`` newest-first from ``cursor``, fetching one extra row to know whether a next page exists."""
    size, after = check_page_args(limit, cursor)
    if after is not None:
        query = query.where(id_column < after)
    rows = list((await session.scalars(query.order_by(id_column.desc()).limit(size + 1))).all())
    has_more = len(rows) > size
    rows = rows[:size]
    return Page(items=rows, limit=size, next_cursor=rows[-1].id if has_more and rows else None)
