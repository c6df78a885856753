"""Fixtures: the Twilio-shaped server of :mod:`twilio_double` on a random loopback port, and providers on it.

Every provider built here sends through an httpx transport that refuses any host but 127.0.0.1, so a broken
base-URL override fails the test instead of reaching the real Twilio.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import httpx
import pytest
import uvicorn

from opencaller.telephony.twilio import TwilioConfig, TwilioProvider
from tests.telephony.twilio_double import ACCOUNT_SID, AUTH_TOKEN, FakeTwilio, ProviderFactory, build_app


class LoopbackOnlyTransport(httpx.AsyncBaseTransport):
    """Sends requests to 127.0.0.1 only; anything else is a test failure, never a packet."""

    def __init__(self) -> None:
        self._inner = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        assert request.url.host == "127.0.0.1", f"test tried to reach {request.url.host}"
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


@pytest.fixture
async def fake_twilio() -> AsyncIterator[FakeTwilio]:
    """The fake server, listening on a random loopback port for the duration of one test."""
    state = FakeTwilio()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)  # connections queue here until uvicorn starts accepting: no need to wait for startup
    port = sock.getsockname()[1]
    state.base_url = f"http://127.0.0.1:{port}"
    server = uvicorn.Server(uvicorn.Config(build_app(state), lifespan="off", log_level="warning"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        yield state
    finally:
        state.release.set()
        server.should_exit = True
        await task
        sock.close()


@pytest.fixture
async def make_provider() -> AsyncIterator[ProviderFactory]:
    """Build TwilioProviders (keyword arguments are TwilioConfig fields) on a loopback-only HTTP client."""
    clients: list[httpx.AsyncClient] = []
    providers: list[TwilioProvider] = []

    def build(**config: object) -> TwilioProvider:
        fields: dict[str, object] = {"account_sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN, **config}
        client = httpx.AsyncClient(transport=LoopbackOnlyTransport())
        clients.append(client)
        provider = TwilioProvider(TwilioConfig(**fields), http_client=client)  # type: ignore[arg-type]
        providers.append(provider)
        return provider

    yield build
    for provider in providers:
        await provider.aclose()
    for client in clients:
        await client.aclose()


@pytest.fixture
async def provider(fake_twilio: FakeTwilio, make_provider: ProviderFactory) -> TwilioProvider:
    """A TwilioProvider whose REST base URL is the fake server."""
    return make_provider(api_base_url=fake_twilio.base_url)
