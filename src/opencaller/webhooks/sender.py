"""One webhook delivery attempt over HTTP, safe against server-side request forgery.

:func:`send` checks the URL, resolves its host **once**, refuses if any answer is unsafe, and then connects
only to a checked address through :class:`PinnedTransport`, which keeps the original host name in the
``Host`` header and in TLS (SNI and certificate verification). Because nothing resolves the name a second
time, a DNS answer that changes between the check and the connection (DNS rebinding) cannot steer the
request to another address. Redirects are never followed, proxies and ``.netrc`` from the environment are
ignored, and the whole attempt is bounded by one deadline.

The outcome is classified for the outbox worker: 2xx delivered; 410 gone (the worker disables a team
subscription); every other status, timeout or connection error retryable; an unsafe target refused. Logs carry
the target's scheme, host and port only (paths and queries can hold tokens) and never headers, so neither
secrets nor signatures reach them.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import urlsplit

import httpx
import structlog

from opencaller.webhooks.url_safety import (
    IPAddress,
    Resolver,
    UnsafeWebhookTarget,
    WebhookTarget,
    parse_target_url,
    resolve_and_check,
)

DEFAULT_TIMEOUT = 10.0
"""Seconds one delivery attempt may take, from DNS to the first bytes of the response body."""

SNIPPET_BYTES = 512
"""How much of the response body is kept for the delivery log; the rest is never read."""

USER_AGENT = "opencaller-webhooks/1"

_log = structlog.get_logger(__name__)


class DeliveryOutcome(StrEnum):
    """What the worker should do after an attempt."""

    DELIVERED = "delivered"
    """The receiver answered 2xx: done."""
    GONE = "gone"
    """The receiver answered 410: stop, and disable a team subscription."""
    RETRYABLE = "retryable"
    """Any other status, a timeout or a connection error: try again later."""
    REFUSED = "refused"
    """The target failed the safety check; nothing was sent. Not retried: the URL or its DNS must change."""


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    """The observable result of one attempt, as stored in the delivery log."""

    status_code: int | None
    latency_ms: float
    error: str | None
    response_snippet: str
    outcome: DeliveryOutcome

    @property
    def delivered(self) -> bool:
        """True when the receiver accepted the delivery (2xx)."""
        return self.outcome is DeliveryOutcome.DELIVERED

    @property
    def gone(self) -> bool:
        """True when the receiver answered 410 Gone."""
        return self.outcome is DeliveryOutcome.GONE

    @property
    def retryable(self) -> bool:
        """True when the worker should schedule another attempt."""
        return self.outcome is DeliveryOutcome.RETRYABLE


class PinnedTransport(httpx.AsyncBaseTransport):
    """An httpx transport that connects to one pre-checked address whatever the URL's host resolves to.

    The request keeps its URL host for the ``Host`` header; for HTTPS the same name is sent as SNI and the
    certificate is verified against it. A request for any other host is refused without connecting.
    """

    def __init__(self, target: WebhookTarget, address: IPAddress, *, ssl_context: ssl.SSLContext | None = None):
        """Pin ``target``'s host to ``address``; ``ssl_context`` replaces the default trust store."""
        self._target = target
        self._address = address
        verify: ssl.SSLContext | bool = ssl_context if ssl_context is not None else True
        self._inner = httpx.AsyncHTTPTransport(verify=verify, retries=0, trust_env=False)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` to the pinned address, or refuse it if it is for another host or port."""
        url = request.url
        port = url.port if url.port is not None else (443 if url.scheme == "https" else 80)
        if url.host != self._target.host or port != self._target.port or url.scheme != self._target.scheme:
            raise httpx.ConnectError("refusing to connect to a host that was not checked", request=request)
        extensions = dict(request.extensions)
        if self._target.address is None:
            extensions["sni_hostname"] = self._target.host
        pinned = httpx.Request(
            request.method,
            url.copy_with(host=str(self._address)),
            headers=request.headers,
            stream=request.stream,
            extensions=extensions,
        )
        return await self._inner.handle_async_request(pinned)

    async def aclose(self) -> None:
        """Close the pooled connection, if any."""
        await self._inner.aclose()


async def send(
    url: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    timeout: float = DEFAULT_TIMEOUT,  # noqa: ASYNC109 - the deadline is applied inside, with asyncio.timeout
    allow_private: bool,
    resolver: Resolver | None = None,
    ssl_context: ssl.SSLContext | None = None,
) -> DeliveryResult:
    """POST ``body`` with ``headers`` to ``url`` once and classify the answer; never raises for network
    trouble.

    ``resolver`` replaces the system DNS (tests); ``ssl_context`` replaces the default trust store.
    """
    started = time.perf_counter()
    status_code: int | None = None
    snippet = ""
    error: str | None = None
    try:
        target = parse_target_url(url, allow_private=allow_private)
        request_url = httpx.URL(url).copy_with(scheme=target.scheme, host=target.host, port=target.port)
        async with asyncio.timeout(timeout):
            addresses = await resolve_and_check(
                target.host, target.port, allow_private=allow_private, resolver=resolver
            )
            status_code, snippet = await _post_to_first_reachable(
                request_url, target, addresses, headers, body, request_timeout=timeout, ssl_context=ssl_context
            )
    except (UnsafeWebhookTarget, httpx.InvalidURL) as exc:
        outcome, error = DeliveryOutcome.REFUSED, str(exc) or "webhook URL is invalid"
    except (TimeoutError, httpx.TimeoutException):
        outcome, error = DeliveryOutcome.RETRYABLE, f"timed out after {timeout:g} s"
    except httpx.HTTPError as exc:
        outcome, error = DeliveryOutcome.RETRYABLE, f"connection failed: {str(exc) or type(exc).__name__}"
    except OSError as exc:
        outcome, error = DeliveryOutcome.RETRYABLE, f"could not resolve host: {exc.strerror or exc}"
    else:
        outcome, error = _classify(status_code)
    result = DeliveryResult(
        status_code=status_code,
        latency_ms=round((time.perf_counter() - started) * 1000, 1),
        error=error,
        response_snippet=snippet,
        outcome=outcome,
    )
    _log.info(
        "webhook.delivery",
        target=_loggable_target(url),
        outcome=result.outcome.value,
        status_code=result.status_code,
        latency_ms=result.latency_ms,
        error=result.error,
    )
    return result


async def _post_to_first_reachable(
    request_url: httpx.URL,
    target: WebhookTarget,
    addresses: list[IPAddress],
    headers: Mapping[str, str],
    body: bytes,
    *,
    request_timeout: float,
    ssl_context: ssl.SSLContext | None,
) -> tuple[int, str]:
    """Try the checked addresses in order until one accepts the connection; return status and body snippet."""
    last_error: httpx.ConnectError | None = None
    for address in addresses:
        try:
            return await _post_pinned(
                request_url, target, address, headers, body, request_timeout=request_timeout, ssl_context=ssl_context
            )
        except httpx.ConnectError as exc:
            last_error = exc
    assert last_error is not None  # resolve_and_check never returns an empty list
    raise last_error


async def _post_pinned(
    request_url: httpx.URL,
    target: WebhookTarget,
    address: IPAddress,
    headers: Mapping[str, str],
    body: bytes,
    *,
    request_timeout: float,
    ssl_context: ssl.SSLContext | None,
) -> tuple[int, str]:
    """One POST through a :class:`PinnedTransport` to ``address``, reading at most :data:`SNIPPET_BYTES`."""
    request_headers = {"user-agent": USER_AGENT, "accept-encoding": "identity", **headers}
    transport = PinnedTransport(target, address, ssl_context=ssl_context)
    async with (
        httpx.AsyncClient(
            transport=transport, follow_redirects=False, trust_env=False, timeout=httpx.Timeout(request_timeout)
        ) as client,
        client.stream("POST", request_url, content=body, headers=request_headers) as response,
    ):
        return response.status_code, await _read_snippet(response)


async def _read_snippet(response: httpx.Response) -> str:
    """The start of the response body as text, without reading (or decompressing) more than needed."""
    collected = bytearray()
    async for chunk in response.aiter_raw():
        collected += chunk
        if len(collected) >= SNIPPET_BYTES:
            break
    return bytes(collected[:SNIPPET_BYTES]).decode("utf-8", errors="replace")


def _classify(status_code: int | None) -> tuple[DeliveryOutcome, str | None]:
    """Map an HTTP status to the worker's next step, with an error text for anything but success."""
    if status_code is not None and 200 <= status_code < 300:
        return DeliveryOutcome.DELIVERED, None
    if status_code == 410:
        return DeliveryOutcome.GONE, "receiver answered 410 Gone"
    if status_code is not None and 300 <= status_code < 400:
        return DeliveryOutcome.RETRYABLE, f"receiver answered {status_code}; redirects are not followed"
    return DeliveryOutcome.RETRYABLE, f"receiver answered {status_code}"


def _loggable_target(url: str) -> str:
    """``scheme://host:port`` of ``url`` for logs: paths and queries can carry tokens, so they are left
    out."""
    try:
        parts = urlsplit(url)
        return f"{parts.scheme}://{parts.hostname}:{parts.port or ''}".rstrip(":")
    except ValueError:
        return "<unparsable url>"
