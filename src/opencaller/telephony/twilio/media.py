"""Our end of a Twilio Media Streams WebSocket: µ-law frames out, marks and hang-ups in.

Twilio buffers outbound audio and plays it in real time, so audio is sent as fast as it is produced; a ``mark``
sent after it comes back once everything before it has played, which is how the platform knows what the callee
actually heard. ``clear`` drops what is still buffered (and Twilio echoes the pending marks).
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
from collections.abc import Awaitable, Callable
from typing import Any

import numpy as np
import numpy.typing as npt

from opencaller.audio import ulaw_encode

FRAME_BYTES = 160  # 20 ms of 8 kHz µ-law

SendText = Callable[[str], Awaitable[None]]
ReceiveText = Callable[[], Awaitable[str]]


async def read_until_start(receive: ReceiveText, max_messages: int = 10) -> dict[str, Any]:
    """Read the socket's opening messages and return the ``start`` message (``connected`` comes first)."""
    for _ in range(max_messages):
        message = json.loads(await receive())
        if message.get("event") == "start":
            return dict(message)
    raise ValueError("the media stream sent no 'start' message")


class TwilioMediaStream:
    """A started media stream: play audio, wait until it was heard, clear; :meth:`pump` reads what comes in."""

    def __init__(self, send: SendText, receive: ReceiveText, stream_sid: str) -> None:
        self._send = send
        self._receive = receive
        self.stream_sid = stream_sid
        self.closed = asyncio.Event()
        self._marks: dict[str, asyncio.Event] = {}
        self._names = itertools.count(1)
        self.inbound_frames = 0

    async def play(self, pcm: npt.NDArray[np.int16]) -> None:
        """Send audio as 20 ms µ-law media messages."""
        payload = ulaw_encode(pcm)
        for start in range(0, len(payload), FRAME_BYTES):
            chunk = base64.b64encode(payload[start : start + FRAME_BYTES]).decode()
            media = {"event": "media", "streamSid": self.stream_sid, "media": {"payload": chunk}}
            if self.closed.is_set() or not await self._send_json(media):
                return

    async def wait_played(self) -> bool:
        """Send a mark and wait for its echo; False if the stream stops first."""
        if self.closed.is_set():
            return False
        name = f"m{next(self._names)}"
        echoed = asyncio.Event()
        self._marks[name] = echoed
        if not await self._send_json({"event": "mark", "streamSid": self.stream_sid, "mark": {"name": name}}):
            return False
        closed = asyncio.ensure_future(self.closed.wait())
        heard = asyncio.ensure_future(echoed.wait())
        try:
            await asyncio.wait([closed, heard], return_when=asyncio.FIRST_COMPLETED)
        finally:
            closed.cancel()
            heard.cancel()
            await asyncio.gather(closed, heard, return_exceptions=True)
            self._marks.pop(name, None)
        return echoed.is_set()

    async def clear(self) -> None:
        """Drop the audio Twilio has buffered but not played yet."""
        await self._send_json({"event": "clear", "streamSid": self.stream_sid})

    async def pump(self) -> None:
        """Read inbound messages until ``stop`` or the socket closes; sets :attr:`closed` either way."""
        try:
            while True:
                message = json.loads(await self._receive())
                event = message.get("event")
                if event == "mark":
                    waiter = self._marks.get(str(message.get("mark", {}).get("name")))
                    if waiter is not None:
                        waiter.set()
                elif event == "media":
                    self.inbound_frames += 1
                elif event == "stop":
                    return
        finally:
            self.closed.set()

    async def _send_json(self, message: dict[str, Any]) -> bool:
        """Send one message; a socket that fails to send counts as closed (False)."""
        try:
            await self._send(json.dumps(message))
        except Exception:
            self.closed.set()
            return False
        return True
