"""Webhook events: names, which status emits which events, subscription matching and payload bytes."""

from __future__ import annotations

import json

import pytest

from opencaller.domain.status import CallStatus
from opencaller.webhooks.events import (
    EMITTED_EVENTS,
    WebhookEvent,
    build_payload,
    events_for_status,
    matches,
    parse_subscribed_event,
)


def test_event_names_are_the_documented_ones() -> None:
    assert {event.value for event in WebhookEvent} == {
        "phoneCall.queued",
        "phoneCall.ringing",
        "phoneCall.inProgress",
        "phoneCall.completed",
        "phoneCall.busy",
        "phoneCall.noAnswer",
        "phoneCall.failed",
        "phoneCall.cancelled",
        "phoneCall.ended",
        "*",
    }
    assert WebhookEvent.ALL not in EMITTED_EVENTS


@pytest.mark.parametrize("status", list(CallStatus))
def test_every_status_emits_its_own_event_and_final_ones_also_ended(status: CallStatus) -> None:
    events = events_for_status(status)
    assert events[0].value == f"phoneCall.{status.value}"
    if status.is_final:
        assert events == (events[0], WebhookEvent.ENDED)
    else:
        assert WebhookEvent.ENDED not in events and len(events) == 1


def test_completed_and_ringing_examples() -> None:
    assert events_for_status(CallStatus.COMPLETED) == (WebhookEvent.COMPLETED, WebhookEvent.ENDED)
    assert events_for_status(CallStatus.NO_ANSWER) == (WebhookEvent.NO_ANSWER, WebhookEvent.ENDED)
    assert events_for_status(CallStatus.RINGING) == (WebhookEvent.RINGING,)


def test_star_matches_every_emitted_event() -> None:
    assert all(matches("*", event) for event in EMITTED_EVENTS)


def test_named_subscription_matches_only_its_event() -> None:
    assert matches("phoneCall.completed", "phoneCall.completed")
    assert not matches("phoneCall.completed", "phoneCall.ended")
    assert not matches("phoneCall.ended", "phoneCall.completed")
    assert matches("phoneCall.ended", WebhookEvent.ENDED)


def test_one_l_cancelled_is_an_alias() -> None:
    assert parse_subscribed_event("phoneCall.canceled") is WebhookEvent.CANCELLED
    assert matches("phoneCall.canceled", "phoneCall.cancelled")


def test_unknown_names_never_match_and_star_is_not_an_event() -> None:
    assert not matches("phoneCall.whatever", "phoneCall.completed")
    assert not matches("phoneCall.completed", "phoneCall.whatever")
    assert not matches("*", "*")
    assert not matches("PHONECALL.COMPLETED", "phoneCall.completed")


def test_unknown_subscribed_event_error_lists_the_choices() -> None:
    with pytest.raises(ValueError, match=r"phoneCall\.completed") as info:
        parse_subscribed_event("call.done")
    assert "call.done" in str(info.value)


def test_payload_is_canonical_json_bytes() -> None:
    data = {"status": "completed", "_id": "65a1b2c3d4e5f60718293a4b", "nameOfHuman": "Zoë", "callDuration": 60}
    body = build_payload(WebhookEvent.COMPLETED, data)
    assert (
        body
        == (
            '{"data":{"_id":"65a1b2c3d4e5f60718293a4b","callDuration":60,"nameOfHuman":"Zoë","status":"completed"},'
            '"event":"phoneCall.completed"}'
        ).encode()
    )
    assert json.loads(body) == {"event": "phoneCall.completed", "data": data}


def test_payload_does_not_depend_on_key_order() -> None:
    first = build_payload("phoneCall.ended", {"a": 1, "b": {"y": 2, "x": 3}})
    second = build_payload("phoneCall.ended", {"b": {"x": 3, "y": 2}, "a": 1})
    assert first == second


def test_payload_refuses_star_unknown_events_and_non_json_data() -> None:
    with pytest.raises(ValueError, match="wildcard"):
        build_payload("*", {})
    with pytest.raises(ValueError, match="unknown webhook event"):
        build_payload("phoneCall.exploded", {})
    with pytest.raises(ValueError):
        build_payload(WebhookEvent.FAILED, {"score": float("nan")})
    with pytest.raises(TypeError):
        build_payload(WebhookEvent.FAILED, {"when": object()})
