"""Shared fixtures: every API test runs twice, against SQLite and against PostgreSQL, over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import LiveServer, TeamClient, running_server

BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The database backend under test."""
    return str(request.param)


@pytest.fixture(scope="session")
def server(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A live opencaller server on an empty database of ``backend``, shared by the session's tests.

    It places no calls (telephony off), so the calls API tests create stay as they are.
    """
    with running_server(backend, tmp_path_factory.mktemp(f"server-{backend}"), telephony="none") as live:
        yield live


@pytest.fixture
def team(server: LiveServer) -> TeamClient:
    """A fresh team with its own key; tests never see each other's data."""
    return server.new_team("Acme")


@pytest.fixture
def other_team(server: LiveServer) -> TeamClient:
    """A second team, for isolation tests."""
    return server.new_team("Globex")


@pytest.fixture
def tmp_dir(tmp_path: Path) -> Path:
    """A per-test temporary directory."""
    return tmp_path
