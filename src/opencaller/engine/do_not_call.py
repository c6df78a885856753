"""The team's do-not-call list: numbers the dispatcher must never dial."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from opencaller.domain.ids import is_valid_id
from opencaller.domain.phone import InvalidPhoneNumber, normalize_e164
from opencaller.engine.pagination import Page, paginate
from opencaller.errors import ErrorDetail, NotFound, ValidationFailed
from opencaller.store.models import DoNotCallEntry


async def add_number(
    session: AsyncSession, team_id: str, raw_number: str, reason: str | None = None, source: str = "api"
) -> DoNotCallEntry:
    """Put a number on the list; adding one that is already there returns the existing entry."""
    try:
        number = normalize_e164(raw_number)
    except InvalidPhoneNumber as exc:
        raise ValidationFailed("invalid phone number", [ErrorDetail("number", str(exc))]) from exc
    existing = await find(session, team_id, number)
    if existing is not None:
        return existing
    entry = DoNotCallEntry(team_id=team_id, number=number, reason=reason, source=source)
    session.add(entry)
    await session.flush()
    return entry


async def find(session: AsyncSession, team_id: str, e164: str) -> DoNotCallEntry | None:
    """The list entry for a number, if it is on the team's list."""
    query = select(DoNotCallEntry).where(DoNotCallEntry.team_id == team_id, DoNotCallEntry.number == e164)
    return await session.scalar(query)


async def list_numbers(
    session: AsyncSession, team_id: str, limit: int | None, cursor: str | None
) -> Page[DoNotCallEntry]:
    """The team's list, newest first."""
    query = select(DoNotCallEntry).where(DoNotCallEntry.team_id == team_id)
    return await paginate(session, query, DoNotCallEntry.id, limit, cursor)


async def remove(session: AsyncSession, team_id: str, entry_id: str) -> None:
    """Take an entry off the list, by its id."""
    entry = await session.get(DoNotCallEntry, entry_id) if is_valid_id(entry_id) else None
    if entry is None or entry.team_id != team_id:
        raise NotFound(f"do-not-call entry {entry_id} not found")
    await session.delete(entry)
