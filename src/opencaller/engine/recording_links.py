"""Signed, expiring links to call recordings: the link itself is the credential.

A recording is fetched by an ``<audio>`` tag, a spreadsheet reader or a webhook consumer that holds no API key, so
``recordingUrl`` carries its own proof: ``?expires=<unix seconds>&signature=<HMAC-SHA256>`` over the call id and the
expiry, keyed by a key derived from the server's secret key (never the secret itself, so a leaked link key could
not decrypt stored credentials). Checking is constant-time. Anyone holding a link can play that one recording until
it expires, and nothing else.

Expiry is rounded up to a whole step (an hour for the default day-long lifetime), so the same call shows the same
link for a while: JSON bodies stay stable between reads and browsers can cache the audio. A link therefore lives at
least the configured lifetime and at most one step longer.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlencode

from opencaller.domain.clock import utc_now
from opencaller.engine.credentials import _data_dir_key
from opencaller.errors import Forbidden
from opencaller.settings import Settings

_KEY_LABEL = b"opencaller recording links v1"
_MAX_STEP_SECONDS = 3600


def link_signing_key(settings: Settings) -> bytes:
    """The key that signs recording links, derived from the server's secret key (shared by every node)."""
    secret = (
        settings.secret_key.get_secret_value() if settings.secret_key is not None else _data_dir_key(settings.data_dir)
    )
    return hmac.new(secret.encode(), _KEY_LABEL, hashlib.sha256).digest()


def sign(key: bytes, call_id: str, expires: int) -> str:
    """The URL-safe signature of a link to ``call_id``'s recording valid until ``expires`` (unix seconds)."""
    digest = hmac.new(key, f"{call_id}.{expires}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


@dataclass(frozen=True)
class RecordingLinks:
    """Mints and checks recording links under one public base URL."""

    key: bytes
    public_base_url: str
    lifetime_seconds: int = 86400
    clock: Callable[[], datetime] = utc_now

    @classmethod
    def from_settings(cls, settings: Settings, request_base_url: str) -> RecordingLinks:
        """Links signed with the server's key, under the configured public URL (else the one the request used)."""
        base = settings.public_url or request_base_url
        return cls(link_signing_key(settings), base, settings.recording_link_seconds)

    def _expiry(self) -> int:
        step = max(1, min(_MAX_STEP_SECONDS, self.lifetime_seconds))
        earliest = int(self.clock().timestamp()) + self.lifetime_seconds
        return -(-earliest // step) * step

    def url(self, call_id: str) -> str:
        """An absolute link to the call's recording, valid for at least the configured lifetime."""
        expires = self._expiry()
        query = urlencode({"expires": expires, "signature": sign(self.key, call_id, expires)})
        return f"{self.public_base_url.rstrip('/')}/v1/phoneCalls/{call_id}/recording?{query}"

    def check(self, call_id: str, expires: str, signature: str) -> None:
        """Accept a link's ``expires`` and ``signature`` for ``call_id``, or raise :class:`Forbidden`.

        A signature that does not match (a tampered expiry, another call's link, garbage) and a valid link whose
        time has passed are both refused; the messages differ because the expiry is no secret (it is in the link).
        """
        valid = expires.isdigit() and len(expires) <= 12
        expected = sign(self.key, call_id, int(expires)) if valid else ""
        if not hmac.compare_digest(expected.encode(), signature.encode()) or not valid:
            raise Forbidden("this recording link is not valid")
        if int(expires) < self.clock().timestamp():
            raise Forbidden("this recording link has expired; read the phone call again for a fresh one")
