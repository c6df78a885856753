"""The agent's view of a live call: a line it can play audio into and learn what was actually heard."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import numpy as np
import numpy.typing as npt

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
class Turn:
    """One thing said on the call, as it goes into the transcript."""

    role: str
    text: str
    started_at: datetime
    ended_at: datetime


@dataclass(frozen=True)
class AgentOutcome:
    """What the agent reports when it is done: the transcript and the outcome code for ``statusExtraInfo``."""

    turns: list[Turn]
    status_code: str
