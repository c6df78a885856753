"""The last dashboard route: any other path under ``/dashboard`` answers an HTML 404 page."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import RedirectResponse, Response

from opencaller.dashboard.nav import PREFIX
from opencaller.dashboard.routing import error_page, page_router

router = page_router(prefix=PREFIX)


@router.api_route("/{path:path}", methods=["GET", "HEAD", "POST"])
async def not_found(request: Request, path: str) -> Response:
    """No such dashboard page (``/dashboard/`` itself is the home page)."""
    if not path:
        return RedirectResponse(f"{PREFIX}/calls", status_code=303)
    return error_page(request, 404, "There is no such page in the dashboard.")
