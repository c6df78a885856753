"""A live opencaller node with its embedded phone-network simulator and an in-process dispatcher."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.support import LiveServer, TeamClient, running_server

FINAL = {"busy", "failed", "noAnswer", "cancelled", "completed"}


@pytest.fixture(scope="session")
def calling_server(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A node that really dials: the Twilio adapter against the built-in simulator callees."""
    tmp = tmp_path_factory.mktemp(f"calling-{backend}")
    # the greeting-only agent: these tests are about the call machinery, not the conversation
    with running_server(backend, tmp, ring_timeout_seconds=3, webhook_worker_enabled=False, agent="minimal") as live:
        yield live


@pytest.fixture
def caller(calling_server: LiveServer) -> TeamClient:
    """A team with a caller number and a one-variable template, on the calling node."""
    return calling_server.new_caller_team("Callers")


def wait_until(check: Callable[[], Any], what: str, timeout: float = 60.0) -> Any:
    """Poll the API like a client would until ``check`` returns something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def wait_for_end(team: TeamClient, call_id: str, timeout: float = 60.0) -> dict[str, Any]:
    """Poll the call until its status is final (as a client would) and return it."""

    def ended() -> dict[str, Any] | None:
        current: dict[str, Any] = team.data(team.get(f"/v1/phoneCalls/{call_id}"))
        return current if current["status"] in FINAL else None

    final: dict[str, Any] = wait_until(ended, "the call to end", timeout=timeout)
    return final
