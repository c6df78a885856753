"""One-time tokens that authenticate a call's media socket.

Media Streams give no reliable signature on the WebSocket upgrade, so the answer document carries a fresh
random token as a stream parameter, and the media socket is accepted only if its ``start`` message brings the
token back. Only the token's digest is stored, and the engine marks it used on first sight, so a leaked or
replayed token opens nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping

STREAM_TOKEN_PARAMETER = "callToken"  # noqa: S105  # a parameter name, not a secret
"""Name of the stream parameter that carries the token (arrives as ``start.customParameters.callToken``)."""


def mint_stream_token() -> str:
    """A new unguessable token (256 bits, URL-safe), well under the 500-character stream-parameter limit."""
    return secrets.token_urlsafe(32)


def stream_token_digest(token: str) -> str:
    """The SHA-256 hex digest to store instead of the token itself."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def stream_token_matches(token: str | None, expected_digest: str) -> bool:
    """Whether ``token`` is the one whose digest was stored; constant time, False for a missing token."""
    if not token:
        return False
    return hmac.compare_digest(stream_token_digest(token), expected_digest)


def stream_token_from_parameters(custom_parameters: Mapping[str, str]) -> str | None:
    """The token carried in a stream's custom parameters, or None when absent or empty."""
    token = custom_parameters.get(STREAM_TOKEN_PARAMETER)
    return token or None
