"""``/v1/phoneNumbers``: the caller-ID numbers the team dials from."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from opencaller.api.deps import ServicesDep, TeamId
from opencaller.api.envelope import data, page
from opencaller.api.schemas import ERROR_RESPONSES, PhoneNumberCreate, PhoneNumberUpdate
from opencaller.engine import phone_numbers
from opencaller.engine.views import phone_number_view

router = APIRouter(prefix="/v1/phoneNumbers", tags=["phoneNumbers"], responses=ERROR_RESPONSES)


@router.post("", summary="Add a phone number")
async def create_phone_number(services: ServicesDep, team_id: TeamId, body: PhoneNumberCreate) -> dict[str, Any]:
    """Add a number the team owns at a provider. The first number becomes the team's default."""
    async with services.db.transaction() as session:
        number = await phone_numbers.create_phone_number(session, team_id, body.model_dump())
        default_id = await phone_numbers.default_number_id(session, team_id)
        return data(phone_number_view(number, default_id))


@router.get("", summary="List phone numbers")
async def list_phone_numbers(
    services: ServicesDep,
    team_id: TeamId,
    limit: Annotated[int | None, Query()] = None,
    cursor: Annotated[str | None, Query()] = None,
) -> dict[str, Any]:
    """The team's numbers, newest first."""
    async with services.db.read() as session:
        default_id = await phone_numbers.default_number_id(session, team_id)
        result = await phone_numbers.list_phone_numbers(session, team_id, limit, cursor)
        return page(result, lambda n: phone_number_view(n, default_id))


@router.get("/{number_id}", summary="Get a phone number")
async def get_phone_number(services: ServicesDep, team_id: TeamId, number_id: str) -> dict[str, Any]:
    """One of the team's numbers."""
    async with services.db.read() as session:
        number = await phone_numbers.get_phone_number(session, team_id, number_id)
        return data(phone_number_view(number, await phone_numbers.default_number_id(session, team_id)))


@router.patch("/{number_id}", summary="Update a phone number")
async def update_phone_number(
    services: ServicesDep, team_id: TeamId, number_id: str, body: PhoneNumberUpdate
) -> dict[str, Any]:
    """Change a number's label, limits or default flag."""
    async with services.db.transaction() as session:
        changes = body.model_dump(exclude_unset=True)
        number = await phone_numbers.update_phone_number(session, team_id, number_id, changes)
        return data(phone_number_view(number, await phone_numbers.default_number_id(session, team_id)))


@router.delete("/{number_id}", summary="Delete a phone number", responses={409: {"description": "Queued calls use it"}})
async def delete_phone_number(services: ServicesDep, team_id: TeamId, number_id: str) -> dict[str, Any]:
    """Remove a number no queued call is waiting to use."""
    async with services.db.transaction() as session:
        await phone_numbers.delete_phone_number(session, team_id, number_id)
    return data({"_id": number_id, "deleted": True})
