"""Fixtures for the simulator tests: the simulator and a tiny test "platform", both on real loopback sockets.

The platform serves TwiML that connects a Media Stream back to itself, receives every callback (checking each
``X-Twilio-Signature`` with the official Twilio SDK's ``RequestValidator``), and hands each incoming Media Stream
WebSocket to the test, which drives it message by message.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI, Request, Response, WebSocket
from starlette.websockets import WebSocketDisconnect
from twilio.request_validator import RequestValidator

from opencaller.simulator import CalleeVoice, SimulatorConfig, create_simulator_app

ACCOUNT_SID = "AC" + "1234abcd" * 4
AUTH_TOKEN = "test-auth-token-0123456789"
SCENARIOS = Path(__file__).with_name("scenarios.yaml")
WAIT = 15.0
"""Upper bound for awaiting an event; a guard against hangs, never an assertion about speed."""


def _listening_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    return sock


@asynccontextmanager
async def serve(app: FastAPI, sock: socket.socket) -> AsyncIterator[str]:
    """Run ``app`` with uvicorn on an already listening socket in this event loop; yield its base URL."""
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        await task


@dataclass
class StreamPeer:
    """The platform's end of one Media Stream, driven by the test."""

    ws: WebSocket
    done: asyncio.Event = field(default_factory=asyncio.Event)
    received: list[dict[str, Any]] = field(default_factory=list)

    async def receive(self) -> dict[str, Any] | None:
        """The next message from the simulator, or None once it has closed the socket."""
        try:
            message = json.loads(await self.ws.receive_text())
        except (WebSocketDisconnect, RuntimeError):
            return None
        self.received.append(message)
        return message

    async def receive_event(self, event: str) -> dict[str, Any]:
        """Skip messages until one of type ``event`` arrives."""
        while True:
            message = await asyncio.wait_for(self.receive(), WAIT)
            assert message is not None, f"stream closed while waiting for {event!r}"
            if message["event"] == event:
                return message

    async def receive_event_any(self) -> dict[str, Any]:
        """The next message, which must arrive (the stream must not close first)."""
        message = await asyncio.wait_for(self.receive(), WAIT)
        assert message is not None, "stream closed unexpectedly"
        return message

    async def send(self, message: dict[str, Any]) -> None:
        """Send one JSON message to the simulator."""
        await self.ws.send_text(json.dumps(message))

    async def close(self) -> None:
        """Close the socket from the platform side (the call's TwiML then continues)."""
        await self.ws.close()
        self.done.set()


class Platform:
    """A minimal stand-in for opencaller's telephony endpoints."""

    def __init__(self) -> None:
        self.base_url = ""
        self.validator = RequestValidator(AUTH_TOKEN)
        self.callbacks: list[dict[str, str]] = []
        self.twiml_requests: list[dict[str, str]] = []
        self.bad_signatures: list[str] = []
        self.streams: asyncio.Queue[StreamPeer] = asyncio.Queue()
        self.stream_handshakes: list[dict[str, str]] = []
        self.peers: list[StreamPeer] = []
        self.twiml_after_stream = ""
        self._changed = asyncio.Condition()
        self.app = self._build()

    def twiml(self) -> str:
        """TwiML connecting a Media Stream to this platform (with a query string Twilio must strip)."""
        ws_url = self.base_url.replace("http://", "ws://") + "/media?dropped=1"
        return (
            '<?xml version="1.0" encoding="UTF-8"?><Response><Connect>'
            f'<Stream url="{ws_url}"><Parameter name="callToken" value="tok-123"/></Stream>'
            f"</Connect>{self.twiml_after_stream}</Response>"
        )

    async def _verified_form(self, request: Request) -> dict[str, str]:
        form = {key: str(value) for key, value in (await request.form()).items()}
        signature = request.headers.get("X-Twilio-Signature", "")
        if not self.validator.validate(str(request.url), form, signature):
            self.bad_signatures.append(str(request.url))
        return form

    def _build(self) -> FastAPI:
        app = FastAPI()

        @app.post("/twiml")
        async def twiml(request: Request) -> Response:
            self.twiml_requests.append(await self._verified_form(request))
            return Response(self.twiml(), media_type="application/xml")

        @app.post("/status")
        async def status(request: Request) -> Response:
            form = await self._verified_form(request)
            async with self._changed:
                self.callbacks.append({"path": "status", **form})
                self._changed.notify_all()
            return Response(status_code=204)

        @app.post("/recording")
        async def recording(request: Request) -> Response:
            form = await self._verified_form(request)
            async with self._changed:
                self.callbacks.append({"path": "recording", **form})
                self._changed.notify_all()
            return Response(status_code=204)

        @app.post("/amd")
        async def amd(request: Request) -> Response:
            form = await self._verified_form(request)
            async with self._changed:
                self.callbacks.append({"path": "amd", **form})
                self._changed.notify_all()
            return Response(status_code=204)

        @app.websocket("/media")
        async def media(ws: WebSocket) -> None:
            self.stream_handshakes.append({"path": ws.url.path, "query": ws.url.query, **dict(ws.headers)})
            await ws.accept()
            peer = StreamPeer(ws)
            self.peers.append(peer)
            await self.streams.put(peer)
            await peer.done.wait()

        return app

    async def wait_callbacks(self, predicate: Callable[[list[dict[str, str]]], bool]) -> list[dict[str, str]]:
        """Wait until the callbacks received so far satisfy ``predicate``; return them."""
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(lambda: predicate(self.callbacks)), WAIT)
            return list(self.callbacks)

    async def wait_final_status(self, call_sid: str) -> dict[str, str]:
        """The status callback with a final CallStatus for ``call_sid``."""
        final = {"completed", "busy", "no-answer", "failed", "canceled"}

        def done(callbacks: list[dict[str, str]]) -> bool:
            return any(c.get("CallSid") == call_sid and c.get("CallStatus") in final for c in callbacks)

        callbacks = await self.wait_callbacks(done)
        return next(c for c in callbacks if c.get("CallSid") == call_sid and c.get("CallStatus") in final)

    def status_sequence(self, call_sid: str) -> list[str]:
        """CallStatus values of the status callbacks for ``call_sid``, in SequenceNumber order."""
        mine = [c for c in self.callbacks if c["path"] == "status" and c.get("CallSid") == call_sid]
        return [c["CallStatus"] for c in sorted(mine, key=lambda c: int(c["SequenceNumber"]))]

    async def next_stream(self) -> StreamPeer:
        """The next Media Stream the simulator opens."""
        return await asyncio.wait_for(self.streams.get(), WAIT)


@dataclass
class Harness:
    """The running simulator and platform, with a Twilio-style REST client for the simulator."""

    simulator_url: str
    platform: Platform
    rest: httpx.AsyncClient
    inspect: httpx.AsyncClient

    @property
    def calls_path(self) -> str:
        """The Calls list resource path of the simulator's account."""
        return f"/2010-04-01/Accounts/{ACCOUNT_SID}/Calls"

    async def dial(self, to: str, **fields: Any) -> httpx.Response:
        """POST a create-call form; by default TwiML from the platform and callbacks for every event."""
        form: dict[str, Any] = {
            "To": to,
            "From": "+15005550199",
            "Url": self.platform.base_url + "/twiml",
            "StatusCallback": self.platform.base_url + "/status",
            "StatusCallbackEvent": ["initiated", "ringing", "answered", "completed"],
        }
        form.update(fields)
        return await self.rest.post(self.calls_path + ".json", data={k: v for k, v in form.items() if v is not None})

    async def dial_ok(self, to: str, **fields: Any) -> dict[str, Any]:
        """Dial and return the created call's JSON, asserting Twilio's 201."""
        response = await self.dial(to, **fields)
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    async def update(self, sid: str, **fields: str) -> httpx.Response:
        """POST an update-call form."""
        return await self.rest.post(f"{self.calls_path}/{sid}.json", data=fields)

    async def detail(self, sid: str) -> dict[str, Any]:
        """The simulator's inspection record of a call."""
        response = await self.inspect.get(f"/_simulator/calls/{sid}")
        assert response.status_code == 200
        body: dict[str, Any] = response.json()
        return body

    async def finished_detail(self, sid: str) -> dict[str, Any]:
        """The inspection record once the platform has been told the call's final status."""
        await self.platform.wait_final_status(sid)
        return await self.detail(sid)


@asynccontextmanager
async def running_harness(scenario_file: Path | None, voice: CalleeVoice | None = None) -> AsyncIterator[Harness]:
    """A simulator (with ``scenario_file``, None for the built-in callees) and a platform, both on loopback.

    Without a ``voice`` the callees use the model-free placeholder voice.
    """
    sim_sock, platform_sock = _listening_socket(), _listening_socket()
    config = SimulatorConfig(
        port=sim_sock.getsockname()[1],
        account_sid=ACCOUNT_SID,
        auth_token=AUTH_TOKEN,
        scenario_file=scenario_file,
        voice="placeholder",
    )
    platform = Platform()
    simulator = create_simulator_app(config, voice)
    async with serve(simulator, sim_sock) as sim_url, serve(platform.app, platform_sock) as p_url:
        platform.base_url = p_url
        async with (
            httpx.AsyncClient(base_url=sim_url, auth=(ACCOUNT_SID, AUTH_TOKEN), trust_env=False) as rest,
            httpx.AsyncClient(base_url=sim_url, trust_env=False) as inspect,
        ):
            harness = Harness(simulator_url=sim_url, platform=platform, rest=rest, inspect=inspect)
            try:
                yield harness
            finally:
                for peer in platform.peers:
                    peer.done.set()
                assert platform.bad_signatures == [], "every webhook must carry a valid X-Twilio-Signature"


@pytest.fixture
async def harness(request: pytest.FixtureRequest) -> AsyncIterator[Harness]:
    """A simulator and a platform, both serving on loopback, with the placeholder voice.

    The simulator uses the fast test scenarios, or the built-in ones when parametrized with ``"builtin"``.
    """
    builtin = getattr(request, "param", None) == "builtin"
    async with running_harness(None if builtin else SCENARIOS) as harness:
        yield harness
