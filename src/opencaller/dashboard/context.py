"""What the dashboard's pages need from the rest of the app, handed over once by the composition root."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request

from opencaller.engine.credentials import CredentialCipher
from opencaller.settings import Settings
from opencaller.store.db import Database


@dataclass(frozen=True)
class SimulatedCallee:
    """One of the embedded phone-network simulator's scripted callees, offered as a test-call target."""

    number: str
    label: str
    description: str = ""


def _no_callees() -> list[SimulatedCallee]:
    return []


@dataclass
class DashboardContext:
    """The dashboard's services: the same settings, database and cipher the API uses.

    ``simulator_callees`` lists the embedded simulator's callees while it runs (empty with a real provider), so
    the test-call form can offer them by name.
    """

    settings: Settings
    db: Database
    cipher: CredentialCipher
    simulator_callees: Callable[[], list[SimulatedCallee]] = field(default=_no_callees)

    @property
    def secure_cookies(self) -> bool:
        """Whether the session cookie is marked Secure: when the node is reached over https."""
        return (self.settings.public_url or "").lower().startswith("https://")


def get_context(request: Request) -> DashboardContext:
    """The dashboard's context, stored on the app by :func:`opencaller.dashboard.mount`."""
    context: DashboardContext = request.app.state.dashboard
    return context


Ctx = Annotated[DashboardContext, Depends(get_context)]
"""Dependency: the :class:`DashboardContext`."""
