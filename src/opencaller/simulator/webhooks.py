"""Outgoing HTTP from the simulator to the platform: signed callbacks and TwiML fetches.

Every request carries ``X-Twilio-Signature`` computed with the simulator's auth token, as Twilio does, so the
platform's real signature check runs. Status callbacks of one call go through a :class:`CallbackOutbox`: they are
delivered in order by one worker, and a slow or failing platform never stalls the call itself (Twilio also treats
callbacks as fire-and-forget).
"""

from __future__ import annotations

import asyncio
import logging
from urllib.parse import urlencode

import httpx

from .signature import twilio_signature
from .state import CallbackRecord, SimCall

logger = logging.getLogger(__name__)

USER_AGENT = "TwilioProxy/1.1"
"""The User-Agent Twilio's webhooks carry."""


class TwimlFetchError(RuntimeError):
    """The platform's TwiML URL could not be fetched or did not answer 2xx."""


class WebhookSender:
    """Signs and sends the simulator's HTTP requests to the platform."""

    MAX_IN_FLIGHT = 32
    """Requests sent at once. Queueing more inside the HTTP pool costs time quadratic in the queue length, which
    stalls a simulator running thousands of calls; past this bound requests wait their turn here instead."""

    def __init__(self, client: httpx.AsyncClient, auth_token: str) -> None:
        self._client = client
        self._auth_token = auth_token
        self._in_flight = asyncio.Semaphore(self.MAX_IN_FLIGHT)

    def _prepare(self, url: str, method: str, params: dict[str, str]) -> tuple[str, dict[str, str], bytes | None]:
        headers = {"User-Agent": USER_AGENT}
        if method == "GET":
            full = url + ("&" if "?" in url else "?") + urlencode(params) if params else url
            headers["X-Twilio-Signature"] = twilio_signature(self._auth_token, full)
            return full, headers, None
        headers["X-Twilio-Signature"] = twilio_signature(self._auth_token, url, params)
        headers["Content-Type"] = "application/x-www-form-urlencoded; charset=utf-8"
        return url, headers, urlencode(params).encode()

    async def _request(self, url: str, method: str, params: dict[str, str]) -> httpx.Response:
        target, headers, body = self._prepare(url, method, params)
        async with self._in_flight:
            return await self._client.request(method, target, headers=headers, content=body)

    async def deliver(self, call: SimCall, kind: str, url: str, method: str, params: dict[str, str]) -> None:
        """Send one callback and record the outcome on the call; failures are logged, never raised."""
        record = CallbackRecord(kind=kind, url=url, method=method, params=dict(params))
        call.callbacks.append(record)
        try:
            response = await self._request(url, method, params)
            record.status_code = response.status_code
        except httpx.HTTPError as exc:
            record.error = f"{type(exc).__name__}: {exc}"
            logger.warning("callback %s to %s failed: %s", kind, url, record.error)
        call.note("callback", kind=kind, status=params.get("CallStatus"), http_status=record.status_code)

    async def fetch_twiml(self, url: str, method: str, params: dict[str, str]) -> str:
        """Fetch TwiML from the platform, signed like a callback; raise :class:`TwimlFetchError` on failure."""
        try:
            response = await self._request(url, method, params)
        except httpx.HTTPError as exc:
            raise TwimlFetchError(f"fetching TwiML from {url} failed: {exc}") from exc
        if not response.is_success:
            raise TwimlFetchError(f"fetching TwiML from {url} answered HTTP {response.status_code}")
        return response.text

    def signature_for(self, url: str) -> str:
        """The signature for a request with no body to ``url`` (used on the Media Stream upgrade)."""
        return twilio_signature(self._auth_token, url)


class CallbackOutbox:
    """Delivers one call's callbacks in order, in the background, until closed."""

    def __init__(self, sender: WebhookSender, call: SimCall) -> None:
        self._sender = sender
        self._call = call
        self._queue: asyncio.Queue[tuple[str, str, str, dict[str, str]] | None] = asyncio.Queue()

    def post(self, kind: str, url: str, method: str, params: dict[str, str]) -> None:
        """Queue a callback for delivery."""
        self._queue.put_nowait((kind, url, method, params))

    def close(self) -> None:
        """No more callbacks: the worker stops after delivering what is queued."""
        self._queue.put_nowait(None)

    async def run(self) -> None:
        """The delivery worker: send queued callbacks one by one until :meth:`close`."""
        while (item := await self._queue.get()) is not None:
            kind, url, method, params = item
            await self._sender.deliver(self._call, kind, url, method, params)
