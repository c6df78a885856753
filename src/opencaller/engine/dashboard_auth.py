"""Dashboard sign-in: API keys as the dashboard's credentials, checked by key id on every page.

The REST API authenticates each request by the key it carries. The dashboard asks for the key once, at sign-in,
and its session then remembers only the key's id: every page looks that key up again, so revoking the key ends
every dashboard session made with it at once.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from opencaller.domain.ids import is_valid_id
from opencaller.engine.teams import hash_key
from opencaller.errors import Unauthorized
from opencaller.store.models import ApiKey


async def key_for_sign_in(session: AsyncSession, plain: str) -> ApiKey:
    """The active key whose plain text is ``plain``; :class:`Unauthorized` when it is unknown or revoked."""
    plain = plain.strip()
    if not plain:
        raise Unauthorized("enter an API key")
    key = await session.scalar(select(ApiKey).where(ApiKey.key_hash == hash_key(plain)))
    if key is None or key.revoked_at is not None:
        raise Unauthorized("this API key is unknown or has been revoked")
    return key


async def active_key(session: AsyncSession, key_id: str) -> ApiKey:
    """The key a session was signed in with, while it is still active; :class:`Unauthorized` once revoked."""
    key = await session.get(ApiKey, key_id) if is_valid_id(key_id) else None
    if key is None or key.revoked_at is not None:
        raise Unauthorized("the API key of this session has been revoked")
    return key
