"""Fixtures of the dashboard tests over real HTTP."""

from __future__ import annotations

import pytest

from tests.integration.dashboard_client import DashboardVisitor, signed_in
from tests.support import LiveServer, TeamClient


@pytest.fixture
def browser(server: LiveServer, team: TeamClient) -> DashboardVisitor:
    """A browser without JavaScript, signed in to the dashboard with ``team``'s key."""
    return signed_in(server, team)
