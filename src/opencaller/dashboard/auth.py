"""Signing in to the dashboard with an API key, signing out, and the two dependencies every page uses.

* :data:`SignedIn` — the signed-in :class:`Viewer` (team and key); a visitor without a session, or whose key was
  revoked, is sent to the sign-in page and brought back afterwards.
* :data:`CsrfChecked` — refuses (403 page) a POST without this session's CSRF token, sent as the form field
  ``csrf_token`` (every form renders it with ``{{ csrf_field() }}``) or the ``X-CSRF-Token`` header (htmx).
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.responses import RedirectResponse, Response

from opencaller.dashboard.context import Ctx
from opencaller.dashboard.nav import PREFIX
from opencaller.dashboard.rendering import render
from opencaller.dashboard.routing import CsrfRejected, SignInRequired, page_router
from opencaller.dashboard.session import apply_session_cookie, load_session, new_session, replace_session
from opencaller.engine.dashboard_auth import active_key, key_for_sign_in
from opencaller.engine.teams import get_team
from opencaller.errors import Unauthorized

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


@dataclass(frozen=True)
class Viewer:
    """Who is looking: the team, and the API key the session was signed in with."""

    team_id: str
    team_name: str
    key_id: str
    key_name: str
    key_prefix: str


async def current_viewer(request: Request, context: Ctx) -> Viewer:
    """The signed-in viewer; :class:`SignInRequired` when there is none or the key has been revoked."""
    session = load_session(request)
    if session.key_id is None:
        raise SignInRequired
    async with context.db.read() as db:
        try:
            key = await active_key(db, session.key_id)
        except Unauthorized:
            replace_session(request, new_session())  # forget the dead key; a fresh anonymous session
            raise SignInRequired from None
        team = await get_team(db, key.team_id)
        viewer = Viewer(team.id, team.name, key.id, key.name, key.prefix)
    request.state.viewer = viewer
    return viewer


async def csrf_protect(request: Request) -> None:
    """Refuse a state-changing request that does not carry this session's CSRF token."""
    if request.method in SAFE_METHODS:
        return
    session = load_session(request)
    sent = request.headers.get("x-csrf-token")
    if sent is None and request.headers.get("content-type", "").startswith(FORM_TYPES):
        value = (await request.form()).get("csrf_token")
        sent = value if isinstance(value, str) else None
    if not sent or not hmac.compare_digest(sent.encode(), session.csrf_token.encode()):
        raise CsrfRejected


SignedIn = Annotated[Viewer, Depends(current_viewer)]
"""Dependency: the signed-in :class:`Viewer` (redirects to the sign-in page otherwise)."""
CsrfChecked = Annotated[None, Depends(csrf_protect)]
"""Dependency for POST handlers: a 403 page unless the session's CSRF token came with the request."""

router = page_router(prefix=PREFIX)


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a dashboard path of this site only (never another host)."""
    if not target or not target.startswith(PREFIX + "/") or target.startswith("//") or "\\" in target:
        return f"{PREFIX}/calls"
    return target


@router.get("", summary="Dashboard home")
async def home() -> Response:
    """The dashboard starts with the calls."""
    return RedirectResponse(f"{PREFIX}/calls", status_code=303)


@router.get("/sign-in")
async def sign_in_page(request: Request, context: Ctx, next: str | None = None) -> Response:
    """The sign-in form; a visitor already signed in goes straight on."""
    session = load_session(request)
    if session.key_id is not None:
        async with context.db.read() as db:
            try:
                await active_key(db, session.key_id)
            except Unauthorized:
                replace_session(request, new_session())
            else:
                return _redirect(request, safe_next(next))
    return render(request, "sign_in.html", next=safe_next(next), error=None, signed_out=False)


@router.post("/sign-in")
async def sign_in(request: Request, context: Ctx, _csrf: CsrfChecked) -> Response:
    """Check the key and start a signed-in session holding the key's id."""
    form = await request.form()
    plain = form.get("api_key")
    target = safe_next(str(form.get("next") or ""))
    try:
        async with context.db.read() as db:
            key = await key_for_sign_in(db, plain if isinstance(plain, str) else "")
    except Unauthorized as exc:
        return render(request, "sign_in.html", status_code=401, next=target, error=exc.message, signed_out=False)
    replace_session(request, load_session(request).signed_in_as(key.id))
    return _redirect(request, target)


@router.post("/sign-out")
async def sign_out(request: Request, _csrf: CsrfChecked) -> Response:
    """End the session: the browser keeps only a fresh anonymous one."""
    replace_session(request, new_session())
    return render(request, "sign_in.html", next=f"{PREFIX}/calls", error=None, signed_out=True)


def _redirect(request: Request, target: str) -> Response:
    response = RedirectResponse(target, status_code=303)
    apply_session_cookie(request, response)
    return response
