"""The Media Streams client: the simulator's side of ``<Connect><Stream>``, speaking Twilio's protocol.

It opens the WebSocket to the platform (with ``X-Twilio-Signature`` on the upgrade), sends ``connected`` and
``start``, then lets the call's :class:`~.line.Line` clock send a ``media`` frame every 20 ms and echo ``mark``
messages as their audio plays. From the platform it accepts only ``media`` (µ-law, base64, no WAV header),
``mark`` and ``clear`` for its own ``streamSid``; anything else is a protocol error (Twilio's 31924) that closes
the stream. The session ends when the platform closes the socket (TwiML then continues) or when the call ends
(the simulator sends ``stop`` and closes).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
from collections.abc import Callable
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from .line import Line
from .state import SimCall, new_sid
from .twiml import ConnectStream

logger = logging.getLogger(__name__)

StreamNotifier = Callable[[str, str | None], None]
"""Called with ``(StreamEvent, StreamError)`` for the ``<Stream statusCallback>``."""


class StreamProtocolError(ValueError):
    """The platform sent something Twilio would reject on a bidirectional stream (error 31924)."""


class MediaStreamSession:
    """One bidirectional Media Stream between the simulated call and the platform."""

    def __init__(self, call: SimCall, line: Line, verb: ConnectStream, signature: str, notify: StreamNotifier) -> None:
        self._call = call
        self._line = line
        self._verb = verb
        self._signature = signature
        self._notify = notify
        self.stream_sid = new_sid("MZ")
        self._sequence = 0
        self._chunk = 0
        self._ws: ClientConnection | None = None
        self._send_lock = asyncio.Lock()

    def _count(self, key: str) -> None:
        self._call.stream_messages[key] = self._call.stream_messages.get(key, 0) + 1

    async def _send(self, message: dict[str, Any]) -> None:
        ws = self._ws
        if ws is None:
            return
        async with self._send_lock:
            if message["event"] != "connected":
                self._sequence += 1
                message = {"event": message["event"], "sequenceNumber": str(self._sequence), **message}
            try:
                await ws.send(json.dumps(message))
            except ConnectionClosed:
                return
        self._count("sent:" + message["event"])

    async def send_media(self, payload: bytes) -> None:
        """Send one 20 ms frame of the callee's audio as a ``media`` message."""
        self._chunk += 1
        media = {
            "track": "inbound",
            "chunk": str(self._chunk),
            "timestamp": str((self._chunk - 1) * 20),
            "payload": base64.b64encode(payload).decode(),
        }
        await self._send({"event": "media", "streamSid": self.stream_sid, "media": media})

    async def send_mark(self, name: str) -> None:
        """Echo mark ``name``: the audio the platform queued before it has played (or was cleared)."""
        await self._send({"event": "mark", "streamSid": self.stream_sid, "mark": {"name": name}})

    async def send_dtmf(self, digit: str) -> None:
        """Report a key the callee pressed."""
        dtmf = {"track": "inbound_track", "digit": digit}
        await self._send({"event": "dtmf", "streamSid": self.stream_sid, "dtmf": dtmf})

    async def run(self) -> str:
        """Run the stream; returns ``"platform-closed"``, ``"call-ended"`` or ``"error"``."""
        self._call.stream_sid = self.stream_sid
        headers = {"X-Twilio-Signature": self._signature}
        try:
            async with connect(
                self._verb.url, additional_headers=headers, proxy=None, compression=None, open_timeout=10
            ) as ws:
                self._ws = ws
                return await self._converse(ws)
        except (OSError, InvalidHandshake, InvalidURI, TimeoutError) as exc:
            self._call.note("stream-error", code=31920, error=f"{type(exc).__name__}: {exc}")
            self._notify("stream-error", f"31920: {exc}")
            return "error"
        finally:
            self._line.detach()
            self._ws = None

    async def _converse(self, ws: ClientConnection) -> str:
        await self._send({"event": "connected", "protocol": "Call", "version": "1.0.0"})
        start = {
            "accountSid": self._call.account_sid,
            "streamSid": self.stream_sid,
            "callSid": self._call.sid,
            "tracks": ["inbound"],
            "customParameters": dict(self._verb.parameters),
            "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
        }
        await self._send({"event": "start", "streamSid": self.stream_sid, "start": start})
        self._call.note("stream-started", stream_sid=self.stream_sid, url=self._verb.url)
        self._notify("stream-started", None)
        self._line.attach(self)
        async with asyncio.TaskGroup() as group:
            reader = group.create_task(self._read(ws))
            hangup = group.create_task(self._call.hangup_requested.wait())
            await asyncio.wait({reader, hangup}, return_when=asyncio.FIRST_COMPLETED)
            if reader.done():
                hangup.cancel()
                outcome = reader.result()
            else:
                self._line.detach()
                stop = {"accountSid": self._call.account_sid, "callSid": self._call.sid}
                await self._send({"event": "stop", "streamSid": self.stream_sid, "stop": stop})
                await ws.close()
                outcome = "call-ended"
        self._call.note("stream-stopped", reason=outcome)
        self._notify("stream-stopped", None)
        return outcome

    async def _read(self, ws: ClientConnection) -> str:
        try:
            async for raw in ws:
                try:
                    await self._handle(raw)
                except StreamProtocolError as exc:
                    self._call.note("stream-error", code=31924, error=str(exc))
                    self._notify("stream-error", f"31924: {exc}")
                    await ws.close(1008, "31924")
                    return "error"
        except ConnectionClosed:
            pass
        return "platform-closed"

    async def _handle(self, raw: str | bytes) -> None:
        if isinstance(raw, bytes):
            raise StreamProtocolError("binary frames are not part of the protocol")
        try:
            message = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise StreamProtocolError("message is not JSON") from exc
        if not isinstance(message, dict):
            raise StreamProtocolError("message is not a JSON object")
        event = message.get("event")
        if event not in ("media", "mark", "clear"):
            raise StreamProtocolError(f"unexpected event {event!r}")
        if message.get("streamSid") != self.stream_sid:
            raise StreamProtocolError("wrong or missing streamSid")
        self._count(f"received:{event}")
        if event == "media":
            self._call.media_arrivals.append(self._call.since_answer())
            self._line.playback.add_audio(_decode_payload(message))
        elif event == "mark":
            name = (message.get("mark") or {}).get("name")
            if not isinstance(name, str):
                raise StreamProtocolError("mark without a name")
            for due in self._line.playback.add_mark(name):
                await self.send_mark(due)
        else:
            cleared = self._line.playback.clear()
            self._call.note("stream-clear", pending_marks=cleared)
            for name in cleared:
                await self.send_mark(name)


def _decode_payload(message: dict[str, Any]) -> bytes:
    payload = (message.get("media") or {}).get("payload")
    if not isinstance(payload, str):
        raise StreamProtocolError("media without a payload")
    try:
        audio = base64.b64decode(payload, validate=True)
    except binascii.Error as exc:
        raise StreamProtocolError("media payload is not valid base64") from exc
    if audio.startswith(b"RIFF"):
        raise StreamProtocolError("media payload must be raw µ-law, not a WAV file")
    return audio
