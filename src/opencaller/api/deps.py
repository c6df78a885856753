"""Request dependencies: the app's services and the authenticated team."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from opencaller.engine.calls_runtime import CallRuntime
from opencaller.engine.credentials import CredentialCipher
from opencaller.engine.teams import authenticate
from opencaller.settings import Settings
from opencaller.store.db import Database


@dataclass
class Services:
    """What request handlers need, built once by :func:`opencaller.app.create_app`."""

    settings: Settings
    db: Database
    cipher: CredentialCipher
    calls: CallRuntime | None = None
    """The live-call machinery, present while the node runs a telephony provider."""


def get_services(request: Request) -> Services:
    """The app's services."""
    services: Services = request.app.state.services
    return services


_api_key_header = APIKeyHeader(name="aicaller-api-key", auto_error=False, description="Your team's API key.")
_bearer = HTTPBearer(auto_error=False, description="The same API key as a bearer token.")


async def current_team_id(
    services: Annotated[Services, Depends(get_services)],
    api_key: Annotated[str | None, Depends(_api_key_header)],
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> str:
    """The team the request's API key belongs to (``aicaller-api-key`` header, or ``Authorization: Bearer``)."""
    plain = api_key or (bearer.credentials if bearer else None)
    async with services.db.read() as session:
        return await authenticate(session, plain)


TeamId = Annotated[str, Depends(current_team_id)]
ServicesDep = Annotated[Services, Depends(get_services)]
