"""Twilio request signatures (``X-Twilio-Signature``), computed exactly as Twilio computes them.

Twilio signs each webhook with HMAC-SHA1 keyed by the account's auth token, over the full URL as configured
followed by every POST parameter as ``name + value`` with the names sorted (a repeated name contributes each of
its values, sorted). GET requests carry their parameters in the URL, so only the URL is signed. The result is
base64-encoded. Platforms verify it with the Twilio SDK's ``RequestValidator``, so this must match it bit for bit.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable, Mapping


def twilio_signature(auth_token: str, url: str, params: Mapping[str, str | Iterable[str]] | None = None) -> str:
    """The ``X-Twilio-Signature`` value for a request to ``url`` carrying form ``params``."""
    message = url
    for name in sorted(params or {}):
        value = (params or {})[name]
        values = [value] if isinstance(value, str) else sorted(value)
        for item in values:
            message += name + item
    digest = hmac.new(auth_token.encode(), message.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()
