"""A call's dial attempts, kept as a JSON list on the call (one entry per dial, oldest first).

Each entry is what a user sees in ``attempts``: ``attempt`` (1-based), ``dialedAt``, ``providerCallId``,
``status``, ``sipResponseCode``, ``answeredBy``, ``endedAt``. ``status`` is ``dialing`` while the provider has
not acknowledged the dial yet, then the call status the provider reported last. The one-time media token's
digest (``streamTokenDigest``) lives here too but is never shown.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from opencaller.domain.clock import format_timestamp
from opencaller.store.models import PhoneCall

DIALING = "dialing"
PUBLIC_KEYS = ("attempt", "dialedAt", "providerCallId", "status", "sipResponseCode", "answeredBy", "endedAt")


def start_attempt(call: PhoneCall, now: datetime) -> dict[str, Any]:
    """Append a new attempt in the ``dialing`` state and return it."""
    entry: dict[str, Any] = {
        "attempt": len(call.attempts) + 1,
        "dialedAt": format_timestamp(now),
        "providerCallId": None,
        "status": DIALING,
        "sipResponseCode": None,
        "answeredBy": None,
        "endedAt": None,
    }
    call.attempts = [*call.attempts, entry]
    return entry


def last_attempt(call: PhoneCall) -> dict[str, Any] | None:
    """The newest attempt, if the call was ever dialled."""
    return call.attempts[-1] if call.attempts else None


def update_attempt(call: PhoneCall, index: int, **changes: Any) -> None:
    """Change fields of one attempt (assigning a new list so the ORM sees the change)."""
    attempts = [dict(entry) for entry in call.attempts]
    attempts[index].update(changes)
    call.attempts = attempts


def attempt_index(call: PhoneCall, provider_call_id: str) -> int | None:
    """Which attempt a provider call id belongs to."""
    for index, entry in enumerate(call.attempts):
        if entry.get("providerCallId") == provider_call_id:
            return index
    return None


def public_view(attempts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The attempts as the API shows them (no token digests)."""
    return [{key: entry.get(key) for key in PUBLIC_KEYS} for entry in attempts]
