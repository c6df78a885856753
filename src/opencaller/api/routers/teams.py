"""``/v1/teams/me`` and ``/v1/apiKeys``: the caller's own team, its defaults and its keys."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from opencaller.api.deps import ServicesDep, TeamId
from opencaller.api.envelope import data
from opencaller.api.schemas import ERROR_RESPONSES, ApiKeyCreate, TeamUpdate
from opencaller.engine import teams
from opencaller.engine.views import api_key_view, team_view

router = APIRouter(tags=["teams"], responses=ERROR_RESPONSES)


@router.get("/v1/teams/me", summary="Get your team")
async def get_my_team(services: ServicesDep, team_id: TeamId) -> dict[str, Any]:
    """The team the API key belongs to, with its defaults. Provider credentials are never returned."""
    async with services.db.read() as session:
        team = await teams.get_team(session, team_id)
        return data(team_view(team, teams.configured_providers(team, services.cipher)))


@router.patch("/v1/teams/me", summary="Update your team")
async def update_my_team(services: ServicesDep, team_id: TeamId, body: TeamUpdate) -> dict[str, Any]:
    """Change the team's defaults (number, concurrency, time zone) or store provider credentials (encrypted)."""
    changes = body.model_dump(exclude_unset=True, by_alias=True)
    snake = body.model_dump(exclude_unset=True)
    if "provider_credentials" in snake:
        snake["provider_credentials"] = changes.get("providerCredentials")
    async with services.db.transaction() as session:
        team = await teams.update_team(session, team_id, snake, services.cipher)
        return data(team_view(team, teams.configured_providers(team, services.cipher)))


@router.get("/v1/apiKeys", summary="List API keys")
async def list_api_keys(services: ServicesDep, team_id: TeamId) -> dict[str, Any]:
    """The team's keys (prefix and dates only; a key is shown in full once, when created)."""
    async with services.db.read() as session:
        return data([api_key_view(k) for k in await teams.list_api_keys(session, team_id)])


@router.post("/v1/apiKeys", summary="Create an API key")
async def create_api_key(services: ServicesDep, team_id: TeamId, body: ApiKeyCreate) -> dict[str, Any]:
    """A new key for the team; `apiKey` in the answer is the only time it is shown."""
    async with services.db.transaction() as session:
        created = await teams.create_api_key(session, team_id, body.name)
        return data(api_key_view(created.key, created.plain))


@router.delete("/v1/apiKeys/{key_id}", summary="Revoke an API key")
async def revoke_api_key(services: ServicesDep, team_id: TeamId, key_id: str) -> dict[str, Any]:
    """Revoke a key; requests with it answer 401 from now on."""
    async with services.db.transaction() as session:
        return data(api_key_view(await teams.revoke_api_key(session, team_id, key_id)))
