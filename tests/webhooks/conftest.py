"""Fixtures for the webhook tests: loopback receivers that are always closed after the test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from .receiver import Receiver

StartReceiver = Callable[..., Awaitable[Receiver]]


@pytest.fixture
async def start_receiver() -> AsyncIterator[StartReceiver]:
    """Start loopback receivers: ``await start_receiver(status=..., port=..., ssl_context=...)``."""
    started: list[Receiver] = []

    async def start(*, port: int = 0, ssl_context: Any = None, **options: Any) -> Receiver:
        receiver = Receiver(**options)
        started.append(receiver)
        return await receiver.start(port=port, ssl_context=ssl_context)

    yield start
    for receiver in started:
        await receiver.close()
