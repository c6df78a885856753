"""``/v1/transcripts``: a call's conversation, turn by turn."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from opencaller.api.deps import ServicesDep, TeamId
from opencaller.api.envelope import data
from opencaller.api.schemas import ERROR_RESPONSES
from opencaller.engine.transcripts import transcript_for
from opencaller.engine.views import transcript_turn_view

router = APIRouter(prefix="/v1/transcripts", tags=["transcripts"], responses=ERROR_RESPONSES)


@router.get("", summary="Get a call's transcript")
async def get_transcript(
    services: ServicesDep, team_id: TeamId, phone_call_id: Annotated[str, Query(alias="phoneCallId")]
) -> dict[str, Any]:
    """`[{role: agent|human, text, startedAt, endedAt}]` in order; an empty list until the call has one."""
    async with services.db.read() as session:
        return data([transcript_turn_view(t) for t in await transcript_for(session, team_id, phone_call_id)])
