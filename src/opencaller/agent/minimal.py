"""The minimal agent: greets with the template's first message, waits until it was heard, and ends the call.

It stands in for the conversational agent so that every answered call already has a real voice, a transcript
and an outcome.
"""

from __future__ import annotations

from typing import Protocol

from opencaller.agent.channel import PCM, AgentOutcome, MediaChannel, Turn
from opencaller.domain.clock import utc_now
from opencaller.domain.status import StatusCode


class Speaker(Protocol):
    """Anything that turns text into telephone-rate audio."""

    async def synthesize(self, text: str) -> PCM:
        """Speak ``text``."""
        ...


class MinimalAgent:
    """Speaks one message and reports ``ENDED_NORMALLY`` if the callee heard it all, else ``HUNG_UP_BY_HUMAN``."""

    def __init__(self, speaker: Speaker) -> None:
        self.speaker = speaker

    async def run(self, channel: MediaChannel, first_message: str) -> AgentOutcome:
        """Greet, wait for the greeting to finish playing, and return the outcome."""
        text = first_message.strip() or "Hello, this is an automated call. Goodbye."
        audio = await self.speaker.synthesize(text)
        started = utc_now()
        await channel.play(audio)
        heard_all = await channel.wait_played()
        turn = Turn(role="agent", text=text, started_at=started, ended_at=utc_now())
        code = StatusCode.ENDED_NORMALLY if heard_all else StatusCode.HUNG_UP_BY_HUMAN
        return AgentOutcome(turns=[turn], status_code=code.value)
