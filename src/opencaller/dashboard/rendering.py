"""Rendering pages: one Jinja2 environment (autoescaped), the values every page gets, and the response headers.

Every page is complete HTML that shows its data without JavaScript; htmx only refreshes parts of it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape

from opencaller.dashboard.nav import NAV, PREFIX
from opencaller.dashboard.session import apply_session_cookie, session_of
from opencaller.domain.clock import parse_timestamp
from opencaller.errors import ErrorDetail

STATUS_LABELS = {
    "queued": "queued",
    "ringing": "ringing",
    "inProgress": "in progress",
    "busy": "busy",
    "failed": "failed",
    "noAnswer": "no answer",
    "cancelled": "cancelled",
    "completed": "completed",
}


def errors_by_field(details: list[ErrorDetail]) -> dict[str, str]:
    """The engine's problems by top-level form field: one with an item of a list (``events.2``) belongs to the
    list's field; the first problem of a field is the one shown."""
    errors: dict[str, str] = {}
    for detail in details:
        errors.setdefault(detail.field.split(".", 1)[0], detail.message)
    return errors


def _when(value: datetime | str | None) -> str:
    """A timestamp for people: ``2024-03-11 10:00:05 UTC`` (the wire form is kept in ``<time datetime>``)."""
    if value is None or value == "":
        return "—"
    moment = parse_timestamp(value) if isinstance(value, str) else value.astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def _duration(seconds: int | float | None) -> str:
    if seconds is None:
        return "—"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s" if minutes else f"{rest} s"


def _status_label(status: str | None) -> str:
    return STATUS_LABELS.get(status or "", status or "—")


def _value(value: Any) -> str:
    """A result value as text: booleans as yes/no, missing as a dash."""
    if value is None or value == "":
        return "—"
    if value is True:
        return "yes"
    if value is False:
        return "no"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("opencaller.dashboard", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(when=_when, duration=_duration, status_label=_status_label, value=_value)
    env.globals.update(nav=NAV, prefix=PREFIX, static=f"{PREFIX}/static")
    return env


ENV = _environment()


def content_security_policy(media_origin: str | None = None) -> str:
    """Scripts, styles and everything else from this origin only; no inline script, no framing."""
    media = "'self'" + (f" {media_origin}" if media_origin else "")
    return (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        f"media-src {media}; connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    )


def secure(response: Response, media_origin: str | None = None) -> Response:
    """Add the dashboard's security headers to ``response``."""
    response.headers.setdefault("Content-Security-Policy", content_security_policy(media_origin))
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("Cache-Control", "no-store")
    return response


def render(request: Request, template: str, status_code: int = 200, **values: Any) -> HTMLResponse:
    """Render ``template`` with ``values`` plus what every page uses: the signed-in viewer (or None), the
    session's CSRF token, whether the request came from htmx. Sets the session cookie when it changed."""
    session = session_of(request)
    token = session.csrf_token if session is not None else ""
    page = {
        "request": request,
        "viewer": getattr(request.state, "viewer", None),
        "csrf_token": token,
        "csrf_field": lambda: Markup('<input type="hidden" name="csrf_token" value="{}">').format(escape(token)),
        "htmx": request.headers.get("hx-request") == "true",
        "area": "",
        **values,
    }
    response = HTMLResponse(ENV.get_template(template).render(page), status_code=status_code)
    apply_session_cookie(request, response)
    return response
