"""The HTTP transport the Twilio SDK uses here: async httpx, pointed at a configurable API base URL.

The SDK builds absolute ``https://api.twilio.com/...`` URLs itself and has no base-URL setting, but it sends
every request through a pluggable ``AsyncHttpClient``. This client swaps the scheme and host of any
``*.twilio.com`` URL for the configured base (keeping the path and query), so the same SDK code talks to real
Twilio or to a local simulator that speaks Twilio's wire protocol. Using httpx keeps requests on the event
loop, gives one connection pool per provider, and encodes repeated form fields (``StatusCallbackEvent``) the
way Twilio expects.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import SplitResult, urlsplit, urlunsplit

import httpx
from twilio.http import AsyncHttpClient
from twilio.http.response import Response

DEFAULT_API_BASE_URL = "https://api.twilio.com"
"""Twilio's own REST API origin; requests to it are sent unchanged."""

_logger = logging.getLogger(__name__)


def parse_api_base_url(api_base_url: str) -> SplitResult | None:
    """The parsed override, or None when ``api_base_url`` is Twilio's own origin; ValueError when unusable."""
    parts = urlsplit(api_base_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("api_base_url must be an absolute http(s) URL")
    if parts.query or parts.fragment:
        raise ValueError("api_base_url must not carry a query or fragment")
    if api_base_url.rstrip("/") == DEFAULT_API_BASE_URL:
        return None
    return parts


class RebasingHttpClient(AsyncHttpClient):  # type: ignore[misc]  # the SDK ships no type information
    """An SDK ``AsyncHttpClient`` that sends Twilio API requests to ``api_base_url`` over httpx."""

    def __init__(
        self,
        api_base_url: str = DEFAULT_API_BASE_URL,
        *,
        timeout_seconds: float = 10.0,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        super().__init__(logger=_logger, is_async=True, timeout=timeout_seconds)
        self._base = parse_api_base_url(api_base_url)
        self._client = client if client is not None else httpx.AsyncClient(timeout=timeout_seconds)
        self._owns_client = client is None

    def rebase(self, url: str) -> str:
        """``url`` with a ``*.twilio.com`` origin replaced by the configured base (path prefix kept)."""
        if self._base is None:
            return url
        parts = urlsplit(url)
        host = parts.hostname or ""
        if host != "twilio.com" and not host.endswith(".twilio.com"):
            return url
        path = self._base.path.rstrip("/") + parts.path
        return urlunsplit((self._base.scheme, self._base.netloc, path, parts.query, ""))

    async def request(
        self,
        method: str,
        uri: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,  # noqa: ASYNC109  # the SDK interface passes it
        allow_redirects: bool = False,
    ) -> Any:
        """Send one request for the SDK and return its ``Response``; transport errors stay httpx's."""
        response = await self._client.request(
            method.upper(),
            self.rebase(uri),
            params=_form(params),
            data=_form(data),
            headers=headers,
            auth=auth,
            timeout=timeout if timeout is not None else self.timeout,
            follow_redirects=allow_redirects,
        )
        _logger.debug("twilio api %s %s -> %s", method.upper(), response.request.url.path, response.status_code)
        return Response(response.status_code, response.text, response.headers)

    async def aclose(self) -> None:
        """Close the connection pool if this client created it."""
        if self._owns_client:
            await self._client.aclose()


def _form(values: dict[str, object] | None) -> dict[str, Any] | None:
    """SDK form values as httpx takes them: lists stay lists (repeated fields), everything else a string."""
    if not values:
        return None
    form: dict[str, Any] = {}
    for name, value in values.items():
        if isinstance(value, list | tuple):
            form[name] = [str(item) for item in value]
        else:
            form[name] = str(value)
    return form
