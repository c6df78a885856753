"""Webhook event names, which call statuses emit them, subscription matching and the payload bytes.

A subscription names one event (``phoneCall.completed``) or ``*`` for all. Each status change of a call emits
the event named after the new status; a final status also emits ``phoneCall.ended``, so a receiver that only
cares that a call is over needs a single subscription. The payload is ``{"event": ..., "data": <PhoneCall>}``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from opencaller.domain.status import CallStatus


class WebhookEvent(StrEnum):
    """Event names as they appear in ``subscribedEvent`` and in the payload's ``event``."""

    QUEUED = "phoneCall.queued"
    RINGING = "phoneCall.ringing"
    IN_PROGRESS = "phoneCall.inProgress"
    COMPLETED = "phoneCall.completed"
    BUSY = "phoneCall.busy"
    NO_ANSWER = "phoneCall.noAnswer"
    FAILED = "phoneCall.failed"
    CANCELLED = "phoneCall.cancelled"
    ENDED = "phoneCall.ended"
    ALL = "*"
    """Subscribes to every event; never emitted itself."""


EMITTED_EVENTS: frozenset[WebhookEvent] = frozenset(WebhookEvent) - {WebhookEvent.ALL}
"""The events that can appear in a payload."""

_STATUS_EVENTS: dict[CallStatus, WebhookEvent] = {
    CallStatus.QUEUED: WebhookEvent.QUEUED,
    CallStatus.RINGING: WebhookEvent.RINGING,
    CallStatus.IN_PROGRESS: WebhookEvent.IN_PROGRESS,
    CallStatus.COMPLETED: WebhookEvent.COMPLETED,
    CallStatus.BUSY: WebhookEvent.BUSY,
    CallStatus.NO_ANSWER: WebhookEvent.NO_ANSWER,
    CallStatus.FAILED: WebhookEvent.FAILED,
    CallStatus.CANCELLED: WebhookEvent.CANCELLED,
}

_ALIASES = {"phoneCall.canceled": WebhookEvent.CANCELLED}


def events_for_status(status: CallStatus) -> tuple[WebhookEvent, ...]:
    """The events a call emits on entering ``status``: its status event, then ``phoneCall.ended`` if final."""
    event = _STATUS_EVENTS[status]
    return (event, WebhookEvent.ENDED) if status.is_final else (event,)


def parse_subscribed_event(value: str) -> WebhookEvent:
    """Read a ``subscribedEvent`` from input (``*`` included, ``phoneCall.canceled`` accepted as an alias).

    Raises :class:`ValueError` naming the accepted values, for a validation error the client can act on.
    """
    if value in _ALIASES:
        return _ALIASES[value]
    try:
        return WebhookEvent(value)
    except ValueError:
        accepted = ", ".join(event.value for event in WebhookEvent)
        raise ValueError(f"unknown webhook event {value!r}; expected one of: {accepted}") from None


def matches(subscribed_event: str, event: str) -> bool:
    """Whether a subscription to ``subscribed_event`` receives ``event``; ``*`` receives every event.

    Unknown names never match, so a stale subscription goes quiet instead of failing.
    """
    try:
        subscribed = parse_subscribed_event(subscribed_event)
        emitted = parse_subscribed_event(event)
    except ValueError:
        return False
    if emitted is WebhookEvent.ALL:
        return False
    return subscribed is WebhookEvent.ALL or subscribed is emitted


def build_payload(event: WebhookEvent | str, data: Mapping[str, Any]) -> bytes:
    """The delivery body: canonical JSON of ``{"event": event, "data": data}`` as UTF-8 bytes.

    Canonical means sorted keys, no insignificant whitespace, non-ASCII kept as UTF-8 and no NaN/Infinity,
    so the same call serializes to the same bytes wherever it is built. ``data`` is the PhoneCall as the
    API returns it, already JSON-ready (strings, numbers, booleans, None, lists, dicts); anything else
    raises :class:`TypeError`.
    """
    emitted = parse_subscribed_event(str(event))
    if emitted is WebhookEvent.ALL:
        raise ValueError("'*' is a subscription wildcard, not an event that can be sent")
    document = {"event": emitted.value, "data": dict(data)}
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return text.encode("utf-8")
