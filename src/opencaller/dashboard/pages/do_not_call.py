"""Do not call: the team's list of numbers never to dial, a page at a time; looking a number up, adding one with a
reason, and taking one off the list.

Adding goes through the engine's use-case, as ``POST /v1/doNotCall`` does: queued calls to the number then end
``cancelled`` with ``DO_NOT_CALL`` instead of ringing, and a lead list imported later rejects the number.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import RedirectResponse, Response

from opencaller.dashboard.auth import CsrfChecked, SignedIn
from opencaller.dashboard.context import Ctx, DashboardContext
from opencaller.dashboard.nav import PREFIX
from opencaller.dashboard.rendering import render
from opencaller.dashboard.routing import page_router
from opencaller.domain.phone import InvalidPhoneNumber, normalize_e164
from opencaller.engine import do_not_call
from opencaller.engine.pagination import check_page_args
from opencaller.engine.views import do_not_call_view
from opencaller.errors import ValidationFailed

router = page_router(prefix=f"{PREFIX}/do-not-call")

PAGE_SIZE = 50
MAX_REASON = 500
SOURCE = "dashboard"
"""The ``source`` of entries added here (the API's are ``api``), so the list shows where each came from."""


async def _page(
    request: Request,
    context: DashboardContext,
    team_id: str,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
) -> Response:
    cursor = request.query_params.get("cursor") or None
    try:
        check_page_args(PAGE_SIZE, cursor)
    except ValidationFailed:
        cursor = None  # not one of our cursors: start from the newest
    lookup = (request.query_params.get("number") or "").strip()
    lookup_error: str | None = None
    found: dict[str, Any] | None = None
    async with context.db.read() as db:
        if lookup:
            try:
                entry = await do_not_call.find(db, team_id, normalize_e164(lookup))
                found = do_not_call_view(entry) if entry else None
            except InvalidPhoneNumber as exc:
                lookup_error = str(exc)
        page = await do_not_call.list_numbers(db, team_id, PAGE_SIZE, cursor)
    return render(
        request,
        "do_not_call/list.html",
        status_code=400 if errors or lookup_error else 200,
        area="do-not-call",
        entries=[do_not_call_view(entry) for entry in page.items],
        next_link=f"{PREFIX}/do-not-call?{urlencode({'cursor': page.next_cursor})}" if page.next_cursor else None,
        first_link=f"{PREFIX}/do-not-call" if cursor else None,
        lookup=lookup,
        lookup_error=lookup_error,
        found=found,
        values=values or {"number": "", "reason": ""},
        errors=errors or {},
        notice=request.query_params.get("done", ""),
        notice_number=request.query_params.get("which", ""),
    )


@router.get("")
async def list_entries(request: Request, context: Ctx, viewer: SignedIn) -> Response:
    """The list, newest first, with a look-up by number and the form to add one."""
    return await _page(request, context, viewer.team_id)


@router.post("")
async def add_entry(request: Request, context: Ctx, viewer: SignedIn, _csrf: CsrfChecked) -> Response:
    """Put a number on the list (adding one already there keeps its first entry)."""
    form = await request.form()
    values = {name: (v.strip() if isinstance(v := form.get(name), str) else "") for name in ("number", "reason")}
    if len(values["reason"]) > MAX_REASON:
        errors = {"reason": f"must be at most {MAX_REASON} characters"}
        return await _page(request, context, viewer.team_id, values=values, errors=errors)
    try:
        async with context.db.transaction() as db:
            entry = await do_not_call.add_number(
                db, viewer.team_id, values["number"], values["reason"] or None, source=SOURCE
            )
    except ValidationFailed as exc:
        errors = {detail.field: detail.message for detail in exc.details} or {"number": exc.message}
        return await _page(request, context, viewer.team_id, values=values, errors=errors)
    return RedirectResponse(f"{PREFIX}/do-not-call?{urlencode({'done': 'added', 'which': entry.number})}", 303)


@router.post("/{entry_id}/remove")
async def remove_entry(request: Request, context: Ctx, viewer: SignedIn, _csrf: CsrfChecked, entry_id: str) -> Response:
    """Take a number off the list; it can be called again."""
    async with context.db.transaction() as db:
        await do_not_call.remove(db, viewer.team_id, entry_id)
    return RedirectResponse(f"{PREFIX}/do-not-call?done=removed", status_code=303)
