"""``/v1/doNotCall``: numbers the team must never dial."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from opencaller.api.deps import ServicesDep, TeamId
from opencaller.api.envelope import data, page
from opencaller.api.schemas import ERROR_RESPONSES, DoNotCallCreate
from opencaller.engine import do_not_call
from opencaller.engine.views import do_not_call_view

router = APIRouter(prefix="/v1/doNotCall", tags=["doNotCall"], responses=ERROR_RESPONSES)


@router.post("", summary="Add a number to the do-not-call list")
async def add_do_not_call(services: ServicesDep, team_id: TeamId, body: DoNotCallCreate) -> dict[str, Any]:
    """Queued calls to the number will end `cancelled` with statusCode `DO_NOT_CALL` instead of ringing."""
    async with services.db.transaction() as session:
        return data(do_not_call_view(await do_not_call.add_number(session, team_id, body.number, body.reason)))


@router.get("", summary="List the do-not-call list")
async def list_do_not_call(
    services: ServicesDep,
    team_id: TeamId,
    limit: Annotated[int | None, Query()] = None,
    cursor: Annotated[str | None, Query()] = None,
) -> dict[str, Any]:
    """The team's do-not-call numbers, newest first."""
    async with services.db.read() as session:
        return page(await do_not_call.list_numbers(session, team_id, limit, cursor), do_not_call_view)


@router.delete("/{entry_id}", summary="Remove a number from the do-not-call list")
async def remove_do_not_call(services: ServicesDep, team_id: TeamId, entry_id: str) -> dict[str, Any]:
    """Take a number off the list by its entry id."""
    async with services.db.transaction() as session:
        await do_not_call.remove(session, team_id, entry_id)
    return data({"_id": entry_id, "deleted": True})
