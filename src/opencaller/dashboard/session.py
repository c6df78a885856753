"""The dashboard's session cookie: who is signed in (by API key id) and the session's CSRF token.

The cookie is sealed with the server's credential cipher (Fernet: AES plus an HMAC), so it can be neither read nor
forged without the server's secret key, and every node sharing that key accepts it. It holds the key's id, never
the key itself: each page looks the key up again, so revoking the key ends the session. A session without a key
id is an anonymous one; it exists so that the sign-in form is CSRF-protected too.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, replace

from fastapi import Request
from fastapi.responses import Response

from opencaller.dashboard.context import get_context
from opencaller.dashboard.nav import PREFIX
from opencaller.engine.credentials import CredentialCipher

COOKIE_NAME = "opencaller_dashboard"
MAX_AGE_SECONDS = 7 * 24 * 3600
"""A session lasts a week at most, signed in or not; signing in again starts a new one."""
_PURPOSE = "dashboard-session"


@dataclass(frozen=True)
class DashboardSession:
    """One browser's session. ``key_id`` is None until the browser signs in."""

    csrf_token: str
    expires_at: float
    key_id: str | None = None

    @property
    def signed_in(self) -> bool:
        """Whether a key was given at sign-in (it may have been revoked since: check it)."""
        return self.key_id is not None

    def signed_in_as(self, key_id: str) -> DashboardSession:
        """A fresh session for ``key_id``: a new CSRF token, so a token seen before sign-in is worth nothing."""
        return replace(new_session(), key_id=key_id)


def new_session(now: float | None = None) -> DashboardSession:
    """An anonymous session with a fresh CSRF token."""
    start = time.time() if now is None else now
    return DashboardSession(csrf_token=secrets.token_urlsafe(32), expires_at=start + MAX_AGE_SECONDS)


def seal(session: DashboardSession, cipher: CredentialCipher) -> str:
    """The cookie value for ``session``."""
    return cipher.encrypt(
        {"purpose": _PURPOSE, "csrf": session.csrf_token, "exp": session.expires_at, "keyId": session.key_id}
    )


def unseal(value: str | None, cipher: CredentialCipher, now: float | None = None) -> DashboardSession | None:
    """The session in a cookie value; None when it is missing, tampered with, sealed with another key or expired."""
    if not value or len(value) > 4096:
        return None
    try:
        data = cipher.decrypt(value)
    except ValueError:
        return None
    csrf, expires_at, key_id = data.get("csrf"), data.get("exp"), data.get("keyId")
    if data.get("purpose") != _PURPOSE or not isinstance(csrf, str) or not isinstance(expires_at, int | float):
        return None
    if key_id is not None and not isinstance(key_id, str):
        return None
    if expires_at <= (time.time() if now is None else now):
        return None
    return DashboardSession(csrf_token=csrf, expires_at=float(expires_at), key_id=key_id)


def load_session(request: Request) -> DashboardSession:
    """The request's session: the one in its cookie, or a new anonymous one (sent back with the response)."""
    cached: DashboardSession | None = getattr(request.state, "dashboard_session", None)
    if cached is not None:
        return cached
    session = unseal(request.cookies.get(COOKIE_NAME), get_context(request).cipher)
    if session is None:
        session = new_session()
        request.state.dashboard_session_changed = True
    request.state.dashboard_session = session
    return session


def session_of(request: Request) -> DashboardSession | None:
    """The session :func:`load_session` found or made for this request, if it was asked for."""
    session: DashboardSession | None = getattr(request.state, "dashboard_session", None)
    return session


def replace_session(request: Request, session: DashboardSession) -> None:
    """Make ``session`` the browser's session from this response on (sign-in, sign-out)."""
    request.state.dashboard_session = session
    request.state.dashboard_session_changed = True


def apply_session_cookie(request: Request, response: Response) -> None:
    """Send the session cookie when this request created or replaced the session."""
    session = session_of(request)
    if session is None or not getattr(request.state, "dashboard_session_changed", False):
        return
    response.set_cookie(
        COOKIE_NAME,
        seal(session, get_context(request).cipher),
        max_age=max(0, int(session.expires_at - time.time())),
        path=PREFIX,
        httponly=True,
        samesite="lax",
        secure=get_context(request).secure_cookies,
    )
