"""A tiny HTTP/1.1 webhook receiver on loopback for tests: records every request, answers as scripted.

It can verify each delivery with the ``standardwebhooks`` package (answering 401 when verification fails, as a
real receiver would), stall without answering (for timeout tests), or speak TLS.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field

from standardwebhooks import Webhook, WebhookVerificationError


@dataclass
class ReceivedRequest:
    """One request as the receiver saw it (header names lower-cased)."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    verified: bool | None = None
    verification_error: str | None = None


@dataclass
class Receiver:
    """A loopback HTTP server started inside a test; use :meth:`start` and :meth:`close`."""

    host: str = "127.0.0.1"
    status: int = 204
    response_headers: dict[str, str] = field(default_factory=dict)
    response_body: bytes = b""
    stall: bool = False
    verify_with: Webhook | None = None
    on_request: Callable[[ReceivedRequest], None] | None = None
    requests: list[ReceivedRequest] = field(default_factory=list)
    received: asyncio.Event = field(default_factory=asyncio.Event)
    port: int = 0
    _release: asyncio.Event = field(default_factory=asyncio.Event)
    _server: asyncio.Server | None = None

    async def start(self, *, port: int = 0, ssl_context: ssl.SSLContext | None = None) -> Receiver:
        """Listen on ``host:port`` (a free port by default)."""
        self._server = await asyncio.start_server(self._handle, self.host, port, ssl=ssl_context)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def close(self) -> None:
        """Release stalled handlers and stop listening."""
        self._release.set()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def url(self, path: str = "/hook", *, host: str | None = None, scheme: str = "http") -> str:
        """The URL of this receiver, optionally under another host name (resolved by an injected resolver)."""
        return f"{scheme}://{host or self.host}:{self.port}{path}"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Read one request, record it, answer (or stall), close."""
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
            writer.close()
            return
        request_line, *header_lines = head.decode("latin-1").split("\r\n")
        method, path, _version = request_line.split(" ", 2)
        headers: dict[str, str] = {}
        for line in header_lines:
            if line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        request = ReceivedRequest(method=method, path=path, headers=headers, body=body)
        status = self.status
        if self.verify_with is not None:
            try:
                self.verify_with.verify(body, headers)
                request.verified = True
            except WebhookVerificationError as exc:
                request.verified, request.verification_error = False, str(exc)
                status = 401
        self.requests.append(request)
        if self.on_request is not None:
            self.on_request(request)
        self.received.set()
        if self.stall:
            await self._release.wait()
        else:
            extra = "".join(f"{name}: {value}\r\n" for name, value in self.response_headers.items())
            writer.write(
                f"HTTP/1.1 {status} Status\r\ncontent-length: {len(self.response_body)}\r\n{extra}"
                "connection: close\r\n\r\n".encode("latin-1")
                + self.response_body
            )
            await writer.drain()
        writer.close()
