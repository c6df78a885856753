"""The dashboard's route class: errors become HTML pages, signed-out visitors go to the sign-in page, and every
answer carries the dashboard's security headers.

The API's exception handlers answer JSON; a person in a browser should see a page instead, with the same message.
Every dashboard router is made by :func:`page_router`, whose routes are :class:`DashboardRoute`.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any
from urllib.parse import quote

import structlog
from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException

from opencaller.dashboard.nav import PREFIX
from opencaller.dashboard.rendering import render, secure
from opencaller.dashboard.session import apply_session_cookie
from opencaller.errors import OpenCallerError

log = structlog.get_logger(__name__)

_TITLES = {
    400: "That did not work",
    403: "Forbidden",
    404: "Not found",
    405: "Not allowed",
    409: "Not possible right now",
    413: "Too large",
    429: "Too many requests",
}


class SignInRequired(Exception):
    """The page needs a signed-in viewer and there is none (or the session's key was revoked)."""


class CsrfRejected(Exception):
    """A form was posted without this session's CSRF token."""


def error_page(request: Request, status: int, message: str, details: list[str] | None = None) -> Response:
    """An HTML error page with the engine's message."""
    title = _TITLES.get(status, "Something went wrong")
    return render(request, "error.html", status_code=status, title=title, message=message, details=details or [])


def sign_in_redirect(request: Request) -> Response:
    """Send the visitor to the sign-in page, coming back here afterwards (htmx requests redirect the page)."""
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    target = f"{PREFIX}/sign-in?next={quote(here, safe='')}"
    if request.headers.get("hx-request") == "true":
        response: Response = Response(status_code=204, headers={"HX-Redirect": target})
    else:
        response = RedirectResponse(target, status_code=303)
    apply_session_cookie(request, response)
    return response


class DashboardRoute(APIRoute):
    """An API route whose failures are rendered for people, with security headers on every answer."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """Wrap FastAPI's handler (which also resolves the dependencies, where sign-in is checked)."""
        handler = super().get_route_handler()

        async def dashboard_handler(request: Request) -> Response:
            try:
                response = await handler(request)
            except SignInRequired:
                response = sign_in_redirect(request)
            except CsrfRejected:
                response = error_page(
                    request,
                    403,
                    "The form was missing its security token or it expired. Reload the page and try again.",
                )
            except OpenCallerError as exc:
                details = [f"{d.field}: {d.message}" for d in exc.details]
                response = error_page(request, exc.http_status, _sentence(exc.message), details)
            except RequestValidationError as exc:
                details = [str(err.get("msg", "is invalid")) for err in exc.errors()]
                response = error_page(request, 400, "The request was not understood.", details)
            except StarletteHTTPException as exc:
                message = exc.detail if isinstance(exc.detail, str) else "The request failed."
                response = error_page(request, exc.status_code, message)
            except Exception as exc:
                log.exception("dashboard page failed", path=request.url.path, exc_info=exc)
                response = error_page(request, 500, "Something went wrong on our side; it has been logged.")
            return secure(response, getattr(request.state, "media_origin", None))

        return dashboard_handler


def _sentence(message: str) -> str:
    return message[:1].upper() + message[1:] + ("" if message.endswith((".", "?", "!")) else ".")


def page_router(**kwargs: Any) -> APIRouter:
    """A router for dashboard pages: HTML errors, sign-in redirects, security headers, no OpenAPI entries."""
    return APIRouter(route_class=DashboardRoute, include_in_schema=False, **kwargs)
