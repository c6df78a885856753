"""The agent's view of a live call: a line it can play audio into and learn what was actually heard."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
import structlog

from opencaller.agent.answerer import AnswerHint
from opencaller.domain.templates import TemplateDefinition

log = structlog.get_logger(__name__)

PCM = npt.NDArray[np.int16]
"""Signed 16-bit mono samples."""


class MediaChannel(Protocol):
    """One call's audio path, at the telephone rate of 8 kHz."""

    closed: asyncio.Event
    """Set when the call's media ends (the callee hung up or the provider closed the stream)."""

    async def play(self, pcm: PCM) -> None:
        """Queue audio for the callee; returns once it is handed to the provider (not once it is heard)."""
        ...

    async def wait_played(self) -> bool:
        """Wait until everything queued so far has been played to the callee; False if the line closed first."""
        ...

    async def clear(self) -> None:
        """Drop audio that is queued but not yet played (barge-in)."""
        ...


@dataclass(frozen=True)
class CallScript:
    """What the agent says on one call (rendered with the call's variables) and what detection said first."""

    definition: TemplateDefinition
    first_message: str
    voicemail_message: str = ""
    hint: AnswerHint | None = None
    prompt: str = ""
    """The template's rendered ``prompt`` (the LLM brain's system prompt)."""


@dataclass(frozen=True)
class Turn:
    """One thing said on the call, as it goes into the transcript."""

    role: str
    text: str
    started_at: datetime
    ended_at: datetime


class AudioInbox:
    """The callee's audio as it arrives (8 kHz PCM chunks), handed from the media socket to the agent.

    The socket side calls :meth:`put` and finally :meth:`close`; the agent awaits :meth:`get`, which returns None
    once the line is closed and everything queued has been taken.
    """

    def __init__(self) -> None:
        self._queue: asyncio.Queue[PCM | None] = asyncio.Queue()
        self.closed = False

    def put(self, pcm: PCM) -> None:
        """Queue a chunk the callee said (ignored after :meth:`close`)."""
        if not self.closed:
            self._queue.put_nowait(pcm)

    def close(self) -> None:
        """No more audio will come (the callee hung up or the stream stopped)."""
        if not self.closed:
            self.closed = True
            self._queue.put_nowait(None)

    async def get(self) -> PCM | None:
        """The next chunk, or None at the end of the line."""
        item = await self._queue.get()
        if item is None:
            self._queue.put_nowait(None)  # every later get() sees the end too
        return item


TurnListener = Callable[[Turn], None]
"""Told of each transcript turn as soon as it is known (the live transcript); the final list is in the outcome."""


class TurnLog(list[Turn]):
    """The call's transcript as it grows: each turn appended is also told to the listener (the live transcript)."""

    def __init__(self, listener: TurnListener | None = None) -> None:
        super().__init__()
        self._listener = listener

    def append(self, turn: Turn) -> None:
        """Add the turn, then tell the listener (whose failure never costs the call)."""
        super().append(turn)
        if self._listener is not None:
            try:
                self._listener(turn)
            except Exception:
                log.exception("the live transcript listener failed")


class LateDetection:
    """Answering-machine detection that reports while the agent already talks (Twilio's asynchronous AMD).

    The engine calls :meth:`report` once the provider's verdict arrives; the agent awaits :meth:`wait`. A verdict
    that never comes is fine: the agent's own classifier of the first words still runs.
    """

    def __init__(self) -> None:
        self._hint: AnswerHint | None = None
        self._reported = asyncio.Event()

    @property
    def hint(self) -> AnswerHint | None:
        """The verdict, once reported."""
        return self._hint

    def report(self, hint: AnswerHint) -> None:
        """Record the provider's verdict (the first one wins)."""
        if self._hint is None:
            self._hint = hint
            self._reported.set()

    async def wait(self) -> AnswerHint:
        """The verdict, when it comes."""
        await self._reported.wait()
        assert self._hint is not None
        return self._hint


@dataclass(frozen=True)
class AgentOutcome:
    """What the agent reports when it is done: the transcript, the outcome code and what it found out.

    ``result_values`` is ``[{"columnName", "value"}]`` with each value typed as its column says (None when not
    found out); ``call_later_at`` and ``meeting_at`` are aware UTC datetimes.
    """

    turns: list[Turn]
    status_code: str
    result_values: list[dict[str, Any]] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    call_later_at: datetime | None = None
    do_not_call: bool = False
    meeting_at: datetime | None = None
