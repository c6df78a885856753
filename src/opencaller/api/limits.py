"""A request-body size limit enforced while the body streams in, so a huge body is never buffered.

The 413 is the API's JSON error, or a short HTML page for a browser's form post (one that accepts ``text/html``).
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodySizeLimit:
    """Pure ASGI middleware: answers 413 in the API's error shape when a body exceeds ``max_bytes``."""

    def __init__(self, app: ASGIApp, max_bytes: int, *, overrides: dict[str, int] | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.overrides = overrides or {}

    def _limit_for(self, path: str) -> int:
        for prefix, limit in self.overrides.items():
            if path.startswith(prefix):
                return limit
        return self.max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self._limit_for(scope.get("path", ""))
        html = any(name == b"accept" and b"text/html" in value for name, value in scope.get("headers", []))
        for name, value in scope.get("headers", []):
            if name == b"content-length" and value.isdigit() and int(value) > limit:
                await _reject(send, limit, html)
                return
        received = 0
        rejected = False
        response_started = False

        async def limited_receive() -> Message:
            nonlocal received, rejected
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    rejected = True
                    raise _TooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            if rejected:
                # The app caught the overflow (FastAPI turns a failed body read into a 400): answer 413 instead.
                if message["type"] == "http.response.start" and not response_started:
                    response_started = True
                    await _reject(send, limit, html)
                return
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _TooLarge:
            if not response_started:
                await _reject(send, limit, html)
        except Exception:
            if rejected and not response_started:
                await _reject(send, limit, html)
            else:
                raise


class _TooLarge(Exception):
    """Raised inside the app's receive when the body passes the limit."""


async def _reject(send: Send, limit: int, html: bool = False) -> None:
    if html:
        size = f"{limit / (1024 * 1024):g} MB" if limit >= 1024 * 1024 else f"{limit} bytes"
        page = (
            '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Too large</title></head><body>'
            f"<h1>Too large</h1><p>The upload is larger than {size}, the most this server accepts. Go back and"
            " choose a smaller file (split a long list into several).</p></body></html>"
        ).encode()
        await _send(send, page, b"text/html; charset=utf-8")
        return
    body = json.dumps(
        {
            "error": {
                "code": "payload_too_large",
                "message": f"the request body is larger than {limit} bytes",
                "details": [],
            }
        }
    ).encode()
    await _send(send, body, b"application/json")


async def _send(send: Send, body: bytes, content_type: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [(b"content-type", content_type), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
