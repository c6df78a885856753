"""A dashboard visitor over real HTTP: an httpx client with a cookie jar that signs in through the sign-in form and
posts forms with the page's CSRF token, as a browser without JavaScript does."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Any

import httpx

from tests.support import LiveServer, TeamClient, refuse_stack_traces

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class DashboardVisitor:
    """One browser: its cookies and the CSRF token of the last page it loaded."""

    http: httpx.Client
    csrf: str = ""

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        """GET a page (redirects are not followed, so tests can see them) and remember its CSRF token."""
        response = self.http.get(path, **kwargs)
        self._remember(response)
        return response

    def post(
        self, path: str, data: dict[str, Any] | None = None, *, csrf: bool = True, **kwargs: Any
    ) -> httpx.Response:
        """Submit a form; with ``csrf`` (the default) it carries the token a real page would have rendered."""
        fields = dict(data or {})
        if csrf:
            fields.setdefault("csrf_token", self.token())
        response = self.http.post(path, data=fields, **kwargs)
        self._remember(response)
        return response

    def token(self) -> str:
        """This session's CSRF token (loading a page first when none was seen yet)."""
        if not self.csrf:
            self.get("/dashboard/sign-in")
        return self.csrf

    def _remember(self, response: httpx.Response) -> None:
        found = _CSRF.search(response.text)
        if found:
            self.csrf = html.unescape(found.group(1))

    def sign_in(self, api_key: str) -> None:
        """Sign in through the form; assert it worked (the sign-in answers a redirect to the calls)."""
        self.get("/dashboard/sign-in")
        response = self.post("/dashboard/sign-in", {"api_key": api_key, "next": "/dashboard/calls"})
        assert response.status_code == 303, response.text
        self.csrf = ""  # signing in starts a new session with a new token
        self.get("/dashboard/calls")


def visitor(server: LiveServer) -> DashboardVisitor:
    """A browser with no cookies yet."""
    client = httpx.Client(base_url=server.base_url, timeout=60, event_hooks={"response": [refuse_stack_traces]})
    return DashboardVisitor(client)


def signed_in(server: LiveServer, team: TeamClient) -> DashboardVisitor:
    """A browser signed in with ``team``'s key."""
    browser = visitor(server)
    browser.sign_in(team.api_key)
    return browser


def text_of(page: str) -> str:
    """A page's text without tags and entities, spaces squeezed: what a person reads (inline tags such as
    ``<span>`` vanish, block tags separate words)."""
    inline = re.sub(r"</?(?:span|a|strong|em|time|code)\b[^>]*>", "", page)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", inline)))


def assert_sign_in_redirect(response: httpx.Response) -> None:
    """A signed-out visitor is sent to the sign-in page, to come back afterwards."""
    assert response.status_code == 303, response.text
    assert response.headers["location"].startswith("/dashboard/sign-in?next=%2Fdashboard%2F")


def assert_csrf_refused(response: httpx.Response) -> None:
    """A form posted without the session's token gets the 403 page."""
    assert response.status_code == 403, response.text
    assert "security token" in response.text
