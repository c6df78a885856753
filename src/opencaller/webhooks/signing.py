"""Standard Webhooks signatures: secrets, message ids, signing and verification.

Every delivery carries three headers (https://www.standardwebhooks.com/):

* ``webhook-id``: the message id, the same on every retry so receivers can drop duplicates;
* ``webhook-timestamp``: Unix seconds when this attempt was signed, so receivers can refuse replays;
* ``webhook-signature``: ``v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">``, where body is the exact
  bytes sent.

How a secret becomes the HMAC key
---------------------------------
* A secret that starts with ``whsec_`` is a Standard Webhooks secret: the key is the base64 decoding of the
  rest. Secrets we generate have this form, and a receiver passes the string unchanged to any Standard
  Webhooks library (``Webhook("whsec_...")``). A ``whsec_`` secret that is not valid base64 is refused,
  never guessed at.
* Any other string (such as the ``secret`` an aicaller client puts in ``phoneCallWebhooks``) is keyed
  **verbatim**: the key is its UTF-8 bytes, as GitHub-style webhook secrets are. Every string then works,
  no two secrets share a key, and nothing depends on how leniently a library decodes base64. A receiver
  verifies with
  ``Webhook(secret.encode())`` (the libraries take raw key bytes), or with the equivalent ``whsec_`` form that
  :func:`standard_secret` returns. Note that ``Webhook(secret)`` with the bare string would base64-decode
  it and get a different key.

Secrets are never logged; :func:`redact_headers` makes a header dict safe to log.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import time
from collections.abc import Mapping

SECRET_PREFIX = "whsec_"  # noqa: S105 - a format marker, not a secret
"""Marks a Standard Webhooks secret (base64 key bytes follow)."""

SECRET_BYTES = 32
"""Key length of generated secrets: 256 bits, the HMAC-SHA256 block-output size."""

MAX_SECRET_LENGTH = 1024
"""Longest secret string accepted, to keep stored rows and header work bounded."""

DEFAULT_TOLERANCE_SECONDS = 300
"""How far a timestamp may be from now before :func:`verify` refuses it (the spec's five minutes)."""

HEADER_ID = "webhook-id"
HEADER_TIMESTAMP = "webhook-timestamp"
HEADER_SIGNATURE = "webhook-signature"


class InvalidWebhookSecret(ValueError):
    """A webhook secret that cannot be used as a signing key (empty, too long, or a malformed ``whsec_``)."""


class WebhookVerificationError(Exception):
    """A delivery whose headers or signature do not check out."""


def generate_secret() -> str:
    """A fresh Standard Webhooks secret: ``whsec_`` + base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


def signing_key(secret: str) -> bytes:
    """The HMAC key for ``secret`` (see the module docstring); raises :class:`InvalidWebhookSecret`."""
    if not isinstance(secret, str) or not secret:
        raise InvalidWebhookSecret("webhook secret must be a non-empty string")
    if len(secret) > MAX_SECRET_LENGTH:
        raise InvalidWebhookSecret(f"webhook secret must be at most {MAX_SECRET_LENGTH} characters")
    if not secret.startswith(SECRET_PREFIX):
        return secret.encode("utf-8")
    encoded = secret.removeprefix(SECRET_PREFIX)
    try:
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidWebhookSecret("a webhook secret starting with whsec_ must continue in base64") from None
    if not key:
        raise InvalidWebhookSecret("webhook secret decodes to an empty key")
    return key


def validate_secret(secret: str) -> None:
    """Raise :class:`InvalidWebhookSecret` unless ``secret`` can sign; call it when a subscription is
    saved."""
    signing_key(secret)


def standard_secret(secret: str) -> str:
    """The ``whsec_`` form of ``secret`` that keys identically, for receivers using a Standard Webhooks
    library."""
    if secret.startswith(SECRET_PREFIX):
        signing_key(secret)
        return secret
    return SECRET_PREFIX + base64.b64encode(signing_key(secret)).decode("ascii")


def new_message_id() -> str:
    """A new, unguessable message id (``msg_`` + 24 URL-safe characters); reuse it on every retry."""
    return "msg_" + secrets.token_urlsafe(18)


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value for one delivery: ``v1,<base64 HMAC-SHA256>``.

    ``timestamp`` is in Unix seconds and ``body`` is exactly the bytes that will be sent.
    """
    _check_msg_id(msg_id)
    if isinstance(timestamp, bool) or not isinstance(timestamp, int) or timestamp < 0:
        raise ValueError("timestamp must be a non-negative integer number of Unix seconds")
    if not isinstance(body, bytes | bytearray | memoryview):
        raise TypeError("body must be the bytes that are sent")
    signed = f"{msg_id}.{timestamp}.".encode() + bytes(body)
    digest = hmac.new(signing_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def build_headers(secret: str, msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The headers for one delivery: the three Standard Webhooks headers plus ``content-type`` (JSON)."""
    return {
        "content-type": "application/json",
        HEADER_ID: msg_id,
        HEADER_TIMESTAMP: str(timestamp),
        HEADER_SIGNATURE: sign(secret, msg_id, timestamp, body),
    }


def verify(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: int | None = None,
    tolerance: int = DEFAULT_TOLERANCE_SECONDS,
) -> None:
    """Check a received delivery the way a receiver would; raises :class:`WebhookVerificationError`.

    Accepts any one matching ``v1`` signature among space-separated ones (key rotation). ``now`` (Unix
    seconds) defaults to the system clock; tests inject it.
    """
    lowered = {name.lower(): value for name, value in headers.items()}
    msg_id = lowered.get(HEADER_ID)
    timestamp_text = lowered.get(HEADER_TIMESTAMP)
    signatures = lowered.get(HEADER_SIGNATURE)
    if not (msg_id and timestamp_text and signatures):
        raise WebhookVerificationError("missing webhook-id, webhook-timestamp or webhook-signature header")
    if not timestamp_text.isascii() or not timestamp_text.isdigit():
        raise WebhookVerificationError("webhook-timestamp is not an integer")
    timestamp = int(timestamp_text)
    current = int(time.time()) if now is None else now
    if timestamp < current - tolerance:
        raise WebhookVerificationError("message timestamp too old")
    if timestamp > current + tolerance:
        raise WebhookVerificationError("message timestamp too new")
    try:
        expected = sign(secret, msg_id, timestamp, body).encode()
    except ValueError as exc:
        raise WebhookVerificationError(f"cannot verify: {exc}") from None
    if not any(hmac.compare_digest(expected, candidate.encode()) for candidate in signatures.split(" ")):
        raise WebhookVerificationError("no matching signature found")


def redact_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """A copy of ``headers`` safe to log: signature and authorization values replaced."""
    hidden = {HEADER_SIGNATURE, "authorization", "proxy-authorization", "cookie"}
    return {name: ("<redacted>" if name.lower() in hidden else value) for name, value in headers.items()}


def _check_msg_id(msg_id: str) -> None:
    """Refuse message ids that cannot travel in a header."""
    if not isinstance(msg_id, str) or not msg_id or len(msg_id) > 256:
        raise ValueError("message id must be a non-empty string of at most 256 characters")
    if not msg_id.isascii() or not msg_id.isprintable() or " " in msg_id:
        raise ValueError("message id must be printable ASCII without spaces")
