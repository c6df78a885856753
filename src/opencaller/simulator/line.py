"""The audio line of an answered call: a 20 ms clock, the callee, and Twilio's playback buffer.

From the moment a call is answered until it ends, :class:`Line` ticks every 20 ms against the monotonic clock
(each tick's deadline is computed from the start, so pacing never drifts). On each tick the callee says one frame
(sent to the platform as a Media Streams ``media`` message when a stream is attached), the playback buffer plays
one frame of the platform's audio to the callee, and ``mark`` messages whose audio has now played are echoed.
Both directions are recorded on the call. The clock runs with or without a stream, so a voicemail greeting
plays out during a synchronous AMD wait just as it would on a real line.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from typing import Protocol

from opencaller.audio import ulaw_decode, ulaw_encode

from .callee import FRAME_SAMPLES, FRAME_SECONDS, Callee
from .state import SimCall

_ULAW_SILENCE = b"\xff"


class StreamPort(Protocol):
    """What the clock needs from an attached Media Stream."""

    async def send_media(self, payload: bytes) -> None:
        """Send one frame of the callee's µ-law audio to the platform."""
        ...

    async def send_mark(self, name: str) -> None:
        """Tell the platform that the audio before mark ``name`` has played."""
        ...

    async def send_dtmf(self, digit: str) -> None:
        """Tell the platform the callee pressed ``digit``."""
        ...


class PlaybackBuffer:
    """Twilio's buffer of audio the platform sent: played in order in real time, with marks between.

    A mark is due once the audio queued before it has played; it is due at once when nothing is queued.
    :meth:`clear` drops the queued audio and returns every pending mark, which Twilio then echoes.
    """

    def __init__(self) -> None:
        self._items: deque[bytes | str] = deque()
        self._queued_bytes = 0
        self._drained = asyncio.Event()
        self._drained.set()

    @property
    def queued_seconds(self) -> float:
        """Seconds of audio waiting to be played."""
        return self._queued_bytes / 8000

    def add_audio(self, ulaw: bytes) -> None:
        """Queue µ-law audio to be played after what is already queued."""
        if ulaw:
            self._items.append(ulaw)
            self._queued_bytes += len(ulaw)
            self._drained.clear()

    def add_mark(self, name: str) -> list[str]:
        """Queue a mark; returns it at once (as due) when no audio is queued before it."""
        if self._queued_bytes == 0:
            return [name]
        self._items.append(name)
        return []

    def play(self, count: int) -> tuple[bytes, list[str]]:
        """Play up to ``count`` bytes; returns the bytes played and the marks that became due."""
        played = bytearray()
        due: list[str] = []
        while self._items:
            head = self._items[0]
            if isinstance(head, str):
                due.append(head)  # the audio before this mark has now played
                self._items.popleft()
                continue
            if len(played) >= count:
                break
            take = head[: count - len(played)]
            played += take
            if len(take) == len(head):
                self._items.popleft()
            else:
                self._items[0] = head[len(take) :]
        self._queued_bytes -= len(played)
        if self._queued_bytes == 0:
            self._drained.set()
        return bytes(played), due

    def clear(self) -> list[str]:
        """Drop all queued audio; returns the pending marks in order."""
        marks = [item for item in self._items if isinstance(item, str)]
        self._items.clear()
        self._queued_bytes = 0
        self._drained.set()
        return marks

    async def wait_drained(self) -> None:
        """Wait until everything queued has been played (or cleared)."""
        await self._drained.wait()


class Line:
    """The real-time audio clock of one answered call."""

    def __init__(self, call: SimCall, callee: Callee) -> None:
        self.call = call
        self.callee = callee
        self.playback = PlaybackBuffer()
        self._port: StreamPort | None = None
        self.frames = 0

    def attach(self, port: StreamPort) -> None:
        """Route the callee's audio and events to a Media Stream from the next tick on."""
        self._port = port

    def detach(self) -> None:
        """Stop sending to the Media Stream (it has closed)."""
        self._port = None

    async def run(self) -> None:
        """Tick every 20 ms until the call is asked to end."""
        started = time.monotonic()
        while not self.call.hangup_requested.is_set():
            self.call.tick_lateness.append(time.monotonic() - started - self.frames * FRAME_SECONDS)
            await self._tick()
            self.frames += 1
            delay = started + self.frames * FRAME_SECONDS - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)

    async def _tick(self) -> None:
        port = self._port
        said = self.callee.next_frame()
        self.call.sent_audio.append(said)
        if port is not None:
            await port.send_media(ulaw_encode(said))
        played, due_marks = self.playback.play(FRAME_SAMPLES)
        if len(played) < FRAME_SAMPLES:
            played += _ULAW_SILENCE * (FRAME_SAMPLES - len(played))
        heard = ulaw_decode(played)
        self.call.received_audio.append(heard)
        self.callee.hear(heard)
        actions = self.callee.take_actions()
        if port is not None:
            for name in due_marks:
                await port.send_mark(name)
            for digit in actions.digits:
                await port.send_dtmf(digit)
        if actions.hangup:
            self.call.request_hangup("callee")
