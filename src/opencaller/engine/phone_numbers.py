"""The team's caller-ID numbers and which one is the default."""

from __future__ import annotations

from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from opencaller.domain.ids import is_valid_id
from opencaller.domain.phone import InvalidPhoneNumber, normalize_e164
from opencaller.engine.pagination import Page, paginate
from opencaller.errors import Conflict, ErrorDetail, NotFound, ValidationFailed
from opencaller.store.models import PhoneCall, PhoneNumber, Team


def _normalized(raw: str, field: str = "number") -> str:
    try:
        return normalize_e164(raw)
    except InvalidPhoneNumber as exc:
        raise ValidationFailed("invalid phone number", [ErrorDetail(field, str(exc))]) from exc


async def get_phone_number(session: AsyncSession, team_id: str, number_id: str) -> PhoneNumber:
    """One of the team's numbers."""
    number = await session.get(PhoneNumber, number_id) if is_valid_id(number_id) else None
    if number is None or number.team_id != team_id:
        raise NotFound(f"phone number {number_id} not found")
    return number


async def create_phone_number(session: AsyncSession, team_id: str, fields: dict[str, Any]) -> PhoneNumber:
    """Add a number; the team's first number (or one sent with ``isDefault``) becomes the default."""
    number = PhoneNumber(
        team_id=team_id,
        number=_normalized(fields["number"]),
        telephony_provider=fields.get("telephony_provider") or "twilio",
        label=fields.get("label"),
        concurrency_limit=fields.get("concurrency_limit"),
        calls_per_second=fields.get("calls_per_second"),
    )
    taken = await session.scalar(
        select(exists().where(PhoneNumber.team_id == team_id, PhoneNumber.number == number.number))
    )
    if taken:
        raise Conflict(f"the team already has the number {number.number}")
    session.add(number)
    try:
        await session.flush()
    except IntegrityError as exc:  # a concurrent insert of the same number
        raise Conflict(f"the team already has the number {number.number}") from exc
    team = await session.get(Team, team_id)
    assert team is not None
    if fields.get("is_default") or team.default_phone_number_id is None:
        team.default_phone_number_id = number.id
    return number


async def list_phone_numbers(
    session: AsyncSession, team_id: str, limit: int | None, cursor: str | None
) -> Page[PhoneNumber]:
    """The team's numbers, newest first."""
    query = select(PhoneNumber).where(PhoneNumber.team_id == team_id)
    return await paginate(session, query, PhoneNumber.id, limit, cursor)


async def update_phone_number(
    session: AsyncSession, team_id: str, number_id: str, changes: dict[str, Any]
) -> PhoneNumber:
    """Change a number's label, limits, provider or default flag."""
    number = await get_phone_number(session, team_id, number_id)
    for field in ("label", "concurrency_limit", "calls_per_second", "telephony_provider"):
        if field in changes and (changes[field] is not None or field != "telephony_provider"):
            setattr(number, field, changes[field])
    team = await session.get(Team, team_id)
    assert team is not None
    if changes.get("is_default") is True:
        team.default_phone_number_id = number.id
    elif changes.get("is_default") is False and team.default_phone_number_id == number.id:
        team.default_phone_number_id = None
    return number


async def delete_phone_number(session: AsyncSession, team_id: str, number_id: str) -> None:
    """Remove a number that no queued call is waiting to use."""
    number = await get_phone_number(session, team_id, number_id)
    waiting = await session.scalar(
        select(exists().where(PhoneCall.phone_number_id == number.id, PhoneCall.status == "queued"))
    )
    if waiting:
        raise Conflict("queued calls will use this number; cancel them or wait before deleting it")
    team = await session.get(Team, team_id)
    if team is not None and team.default_phone_number_id == number.id:
        team.default_phone_number_id = None
    await session.delete(number)


async def default_number_id(session: AsyncSession, team_id: str) -> str | None:
    """The id of the team's default number, if it has one."""
    team = await session.get(Team, team_id)
    return team.default_phone_number_id if team else None
