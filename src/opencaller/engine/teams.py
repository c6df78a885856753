"""Teams and their API keys: creation, authentication, and the team's own settings."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from opencaller.domain.clock import utc_now
from opencaller.domain.ids import is_valid_id
from opencaller.engine.credentials import CredentialCipher
from opencaller.errors import ErrorDetail, NotFound, Unauthorized, ValidationFailed
from opencaller.store.models import ApiKey, PhoneNumber, Team

KEY_PREFIX = "oc_"
PROVIDERS = ("twilio", "plivo", "telnyx")


@dataclass(frozen=True)
class CreatedKey:
    """A new key: the plain text is here once and never stored."""

    key: ApiKey
    plain: str


def hash_key(plain: str) -> str:
    """SHA-256 of a key. Keys carry 256 random bits, so a fast hash is enough and makes lookups cheap."""
    return hashlib.sha256(plain.encode()).hexdigest()


async def create_team(session: AsyncSession, name: str) -> tuple[Team, CreatedKey]:
    """Create a team with a first API key."""
    if not name.strip():
        raise ValidationFailed("a team needs a name", [ErrorDetail("name", "must not be empty")])
    team = Team(name=name.strip())
    session.add(team)
    await session.flush()
    return team, await create_api_key(session, team.id, name="default")


async def create_api_key(session: AsyncSession, team_id: str, name: str = "") -> CreatedKey:
    """Mint a key for ``team_id``; only its hash and a short prefix are stored."""
    if await session.get(Team, team_id) is None:
        raise NotFound(f"team {team_id} not found")
    plain = KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(team_id=team_id, name=name, prefix=plain[:10], key_hash=hash_key(plain))
    session.add(key)
    await session.flush()
    return CreatedKey(key=key, plain=plain)


async def list_api_keys(session: AsyncSession, team_id: str) -> list[ApiKey]:
    """The team's keys (active and revoked), newest first."""
    query = select(ApiKey).where(ApiKey.team_id == team_id).order_by(ApiKey.id.desc())
    return list((await session.scalars(query)).all())


async def revoke_api_key(session: AsyncSession, team_id: str, key_id: str) -> ApiKey:
    """Revoke one of the team's keys; it stops working at once."""
    key = await session.get(ApiKey, key_id) if is_valid_id(key_id) else None
    if key is None or key.team_id != team_id:
        raise NotFound(f"API key {key_id} not found")
    if key.revoked_at is None:
        key.revoked_at = utc_now()
    return key


async def authenticate(session: AsyncSession, plain: str | None) -> str:
    """The team id an API key belongs to; :class:`Unauthorized` when the key is missing, unknown or revoked."""
    if not plain:
        raise Unauthorized("missing API key: send it in the 'aicaller-api-key' header")
    key = await session.scalar(select(ApiKey).where(ApiKey.key_hash == hash_key(plain)))
    if key is None or key.revoked_at is not None:
        raise Unauthorized("invalid API key")
    return key.team_id


async def get_team(session: AsyncSession, team_id: str) -> Team:
    """The caller's own team."""
    team = await session.get(Team, team_id)
    if team is None:
        raise NotFound("team not found")
    return team


async def update_team(session: AsyncSession, team_id: str, changes: dict[str, Any], cipher: CredentialCipher) -> Team:
    """Apply a PATCH of the team's defaults. ``changes`` holds only the fields the client sent."""
    team = await get_team(session, team_id)
    problems: list[ErrorDetail] = []
    if "name" in changes:
        if not (changes["name"] or "").strip():
            problems.append(ErrorDetail("name", "must not be empty"))
        else:
            team.name = changes["name"].strip()
    if "default_phone_number_id" in changes:
        number_id = changes["default_phone_number_id"]
        if number_id is not None:
            number = await session.get(PhoneNumber, number_id) if is_valid_id(number_id) else None
            if number is None or number.team_id != team_id:
                problems.append(ErrorDetail("defaultPhoneNumberId", "is not one of the team's phone numbers"))
        team.default_phone_number_id = number_id
    if "concurrency_limit" in changes:
        team.concurrency_limit = changes["concurrency_limit"]
    if "time_zone" in changes:
        if changes["time_zone"] is not None and not _is_time_zone(changes["time_zone"]):
            problems.append(ErrorDetail("timeZone", "must be an IANA time zone such as Europe/Berlin"))
        team.time_zone = changes["time_zone"]
    if "provider_credentials" in changes:
        stored = cipher.decrypt(team.provider_credentials) if team.provider_credentials else {}
        for provider, creds in (changes["provider_credentials"] or {}).items():
            if creds is None:
                stored.pop(provider, None)
            else:
                stored[provider] = creds
        team.provider_credentials = cipher.encrypt(stored) if stored else None
    if problems:
        raise ValidationFailed("invalid team settings", problems)
    await session.flush()  # so the answer shows the new updatedAt, as a later GET does
    return team


def _is_time_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ValueError, KeyError, OSError):  # ZoneInfoNotFoundError is a KeyError
        return False
    return True


def configured_providers(team: Team, cipher: CredentialCipher) -> list[str]:
    """Names of the providers the team has stored credentials for (the credentials themselves are never shown)."""
    if not team.provider_credentials:
        return []
    return sorted(cipher.decrypt(team.provider_credentials))
