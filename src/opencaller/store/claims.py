"""Claiming due calls for dialling: many workers share one PostgreSQL database without dialling a call twice.

A claim sets a lease (owner and expiry) in the same statement that selects the rows, with
``FOR UPDATE SKIP LOCKED`` on PostgreSQL so concurrent workers skip each other's rows instead of waiting.
SQLite runs a single dispatcher, so its claim is a plain update inside the writer's transaction.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from opencaller.store.models import PhoneCall

ACTIVE_STATUSES = ("queued", "ringing", "inProgress")


async def claim_due_calls(
    session: AsyncSession, *, now: datetime, owner: str, lease_until: datetime, limit: int
) -> list[PhoneCall]:
    """Lease up to ``limit`` queued calls whose time has come and that no live lease holds."""
    query = (
        select(PhoneCall)
        .where(
            PhoneCall.status == "queued",
            PhoneCall.next_attempt_at.is_not(None),
            PhoneCall.next_attempt_at <= now,
            or_(PhoneCall.lease_expires_at.is_(None), PhoneCall.lease_expires_at < now),
        )
        .order_by(PhoneCall.next_attempt_at, PhoneCall.id)
        .limit(limit)
    )
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    calls = list((await session.scalars(query)).all())
    for call in calls:
        call.lease_owner = owner
        call.lease_expires_at = lease_until
    return calls


async def active_call_counts(session: AsyncSession, team_ids: set[str]) -> tuple[dict[str, int], dict[str, int]]:
    """Calls on the line (dialled and not over) per team and per caller number, for concurrency limits."""
    on_line = and_(PhoneCall.provider_call_id.is_not(None), PhoneCall.status.in_(ACTIVE_STATUSES))
    by_team: dict[str, int] = {}
    by_number: dict[str, int] = {}
    query = (
        select(PhoneCall.team_id, PhoneCall.phone_number_id, func.count())
        .where(on_line, PhoneCall.team_id.in_(team_ids))
        .group_by(PhoneCall.team_id, PhoneCall.phone_number_id)
    )
    for team_id, number_id, count in (await session.execute(query)).all():
        by_team[team_id] = by_team.get(team_id, 0) + count
        if number_id is not None:
            by_number[number_id] = by_number.get(number_id, 0) + count
    return by_team, by_number


async def lock_call(session: AsyncSession, call_id: str) -> PhoneCall | None:
    """Load a call for a read-modify-write of its JSON columns, locking its row (PostgreSQL) until commit."""
    return await session.get(PhoneCall, call_id, with_for_update=True, populate_existing=True)
