"""API keys: the team's keys (name, first characters, dates; never the key), creating one, and revoking one.

A new key is shown once, on the page that answers the form, and never again: only its hash is stored. That page is
not cached (every dashboard answer is ``no-store``). Revoking asks first; revoking the key this session was signed
in with ends the session, since the session holds only the key's id.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import RedirectResponse, Response

from opencaller.dashboard.auth import CsrfChecked, SignedIn, Viewer
from opencaller.dashboard.context import Ctx, DashboardContext
from opencaller.dashboard.nav import PREFIX
from opencaller.dashboard.rendering import render
from opencaller.dashboard.routing import page_router
from opencaller.dashboard.session import new_session, replace_session
from opencaller.engine import teams
from opencaller.engine.views import api_key_view
from opencaller.errors import NotFound

router = page_router(prefix=f"{PREFIX}/api-keys")

MAX_NAME = 200


async def _list_page(
    request: Request,
    context: DashboardContext,
    viewer: Viewer,
    *,
    name: str = "",
    error: str | None = None,
    created: dict[str, Any] | None = None,
) -> Response:
    async with context.db.read() as db:
        keys = [api_key_view(key) for key in await teams.list_api_keys(db, viewer.team_id)]
    return render(
        request,
        "api_keys/list.html",
        status_code=400 if error else 200,
        area="api-keys",
        keys=keys,
        name=name,
        error=error,
        created=created,
        current_key_id=viewer.key_id,
        revoked=request.query_params.get("revoked") == "1",
    )


@router.get("")
async def list_keys(request: Request, context: Ctx, viewer: SignedIn) -> Response:
    """The team's keys, newest first, active and revoked, the one this session uses marked."""
    return await _list_page(request, context, viewer)


@router.post("")
async def create_key(request: Request, context: Ctx, viewer: SignedIn, _csrf: CsrfChecked) -> Response:
    """Mint a key and show it, this once."""
    value = (await request.form()).get("name")
    name = value.strip() if isinstance(value, str) else ""
    if len(name) > MAX_NAME:
        return await _list_page(request, context, viewer, name=name, error=f"must be at most {MAX_NAME} characters")
    async with context.db.transaction() as db:
        made = await teams.create_api_key(db, viewer.team_id, name)
        created = api_key_view(made.key, made.plain)
    return await _list_page(request, context, viewer, created=created)


async def _key(context: DashboardContext, team_id: str, key_id: str) -> dict[str, Any]:
    async with context.db.read() as db:
        keys = await teams.list_api_keys(db, team_id)
    for key in keys:
        if key.id == key_id:
            return api_key_view(key)
    raise NotFound(f"API key {key_id} not found")


@router.get("/{key_id}/revoke")
async def confirm_revoke(request: Request, context: Ctx, viewer: SignedIn, key_id: str) -> Response:
    """Ask before revoking: whatever uses the key stops working at once."""
    key = await _key(context, viewer.team_id, key_id)
    return render(request, "api_keys/revoke.html", area="api-keys", key=key, current=key_id == viewer.key_id)


@router.post("/{key_id}/revoke")
async def revoke_key(request: Request, context: Ctx, viewer: SignedIn, _csrf: CsrfChecked, key_id: str) -> Response:
    """Revoke the key; revoking this session's own key signs the viewer out."""
    async with context.db.transaction() as db:
        await teams.revoke_api_key(db, viewer.team_id, key_id)
    if key_id != viewer.key_id:
        return RedirectResponse(f"{PREFIX}/api-keys?revoked=1", status_code=303)
    replace_session(request, new_session())
    request.state.viewer = None
    return render(request, "sign_in.html", next=f"{PREFIX}/calls", error=None, signed_out=True)
