"""Transcripts: the turns of a call's conversation, as the agent and the callee said them."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from opencaller.engine.calls import get_call
from opencaller.store.models import TranscriptTurn


async def transcript_for(session: AsyncSession, team_id: str, phone_call_id: str) -> list[TranscriptTurn]:
    """The call's turns in order; empty until the call has been transcribed."""
    call = await get_call(session, team_id, phone_call_id)
    query = select(TranscriptTurn).where(TranscriptTurn.phone_call_id == call.id).order_by(TranscriptTurn.seq)
    return list((await session.scalars(query)).all())
