"""Rebuild the public URL of a callback request, as the provider saw it.

Providers sign the exact URL they were configured with. Behind a reverse proxy or a tunnel the request arrives
on an internal scheme, host and port, so verifying against the URL the server sees would reject every genuine
callback. The verifier must use the configured public base URL plus the path and raw query of the request.
"""

from __future__ import annotations

from urllib.parse import urlsplit


def public_callback_url(public_base_url: str, path: str, query: str = "") -> str:
    """The URL the provider called: ``public_base_url`` + ``path`` (+ ``?query``, kept byte for byte).

    ``public_base_url`` may carry a path prefix (``https://example.com/opencaller``) when the proxy strips
    one. ``query`` is the raw query string (without ``?``) exactly as received; re-encoding it would change
    the signed bytes.
    """
    parts = urlsplit(public_base_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("public_base_url must be an absolute http(s) URL")
    if parts.query or parts.fragment:
        raise ValueError("public_base_url must not carry a query or fragment")
    url = public_base_url.rstrip("/") + "/" + path.lstrip("/")
    if query:
        url += "?" + query
    return url
