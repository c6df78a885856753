"""Twilio statuses and callbacks mapped to platform terms (telephony.md §1.1, §2.2)."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from opencaller.domain.status import CallStatus, can_transition
from opencaller.telephony import AnsweredBy, RecordingStatus
from opencaller.telephony.errors import InvalidCallbackError
from opencaller.telephony.twilio.callbacks import (
    map_answered_by,
    map_call_status,
    parse_machine_detection_callback,
    parse_recording_callback,
    parse_status_callback,
)

CALL_SID = "CA" + "1" * 32


@pytest.mark.parametrize(
    ("twilio_status", "platform_status"),
    [
        ("queued", CallStatus.QUEUED),
        ("initiated", CallStatus.QUEUED),
        ("ringing", CallStatus.RINGING),
        ("in-progress", CallStatus.IN_PROGRESS),
        ("completed", CallStatus.COMPLETED),
        ("busy", CallStatus.BUSY),
        ("no-answer", CallStatus.NO_ANSWER),
        ("canceled", CallStatus.CANCELLED),
        ("failed", CallStatus.FAILED),
    ],
)
def test_every_twilio_status_maps(twilio_status: str, platform_status: CallStatus) -> None:
    assert map_call_status(twilio_status) is platform_status


@pytest.mark.parametrize(
    ("sip_code", "platform_status"),
    [
        (486, CallStatus.BUSY),
        (600, CallStatus.BUSY),
        (603, CallStatus.BUSY),
        (480, CallStatus.NO_ANSWER),
        (408, CallStatus.NO_ANSWER),
        (404, CallStatus.FAILED),
        (484, CallStatus.FAILED),
        (503, CallStatus.FAILED),
    ],
)
def test_sip_code_breaks_ties_for_failed_calls(sip_code: int, platform_status: CallStatus) -> None:
    assert map_call_status("failed", sip_code) is platform_status


def test_sip_code_never_overrides_a_definite_status() -> None:
    assert map_call_status("completed", 486) is CallStatus.COMPLETED
    assert map_call_status("no-answer", 486) is CallStatus.NO_ANSWER


def test_unknown_status_is_rejected() -> None:
    with pytest.raises(InvalidCallbackError):
        map_call_status("answered")


@pytest.mark.parametrize(
    ("raw", "folded"),
    [
        ("human", AnsweredBy.HUMAN),
        ("machine_start", AnsweredBy.MACHINE),
        ("machine_end_beep", AnsweredBy.MACHINE),
        ("machine_end_silence", AnsweredBy.MACHINE),
        ("machine_end_other", AnsweredBy.MACHINE),
        ("fax", AnsweredBy.MACHINE),
        ("unknown", AnsweredBy.UNKNOWN),
        ("something-new", AnsweredBy.UNKNOWN),
    ],
)
def test_answered_by_folds_to_three_values(raw: str, folded: AnsweredBy) -> None:
    assert map_answered_by(raw) is folded


def test_terminal_status_callback_is_read_in_full() -> None:
    event = parse_status_callback(
        [
            ("AccountSid", "AC" + "0" * 32),
            ("CallSid", CALL_SID),
            ("CallStatus", "completed"),
            ("Direction", "outbound-api"),
            ("CallbackSource", "call-progress-events"),
            ("SequenceNumber", "3"),
            ("Timestamp", "Tue, 05 May 2026 10:01:30 +0000"),
            ("CallDuration", "42"),
            ("Duration", "1"),
            ("SipResponseCode", "200"),
            ("AnsweredBy", "machine_end_beep"),
        ]
    )
    assert event.provider_call_id == CALL_SID
    assert event.status is CallStatus.COMPLETED
    assert event.provider_status == "completed"
    assert event.sequence_number == 3
    assert event.timestamp == datetime(2026, 5, 5, 10, 1, 30, tzinfo=UTC)
    assert event.duration_seconds == 42
    assert event.sip_response_code == 200
    assert event.answered_by is AnsweredBy.MACHINE
    assert event.answered_by_detail == "machine_end_beep"
    assert event.account_id == "AC" + "0" * 32
    assert event.dedupe_key == f"{CALL_SID}:3"


def test_early_callback_has_only_what_twilio_sends() -> None:
    event = parse_status_callback({"CallSid": CALL_SID, "CallStatus": "initiated", "SequenceNumber": "0"})
    assert event.status is CallStatus.QUEUED
    assert (event.duration_seconds, event.sip_response_code, event.answered_by, event.timestamp) == (
        None,
        None,
        None,
        None,
    )
    assert event.dedupe_key == f"{CALL_SID}:0"


def test_failed_callback_uses_sip_code() -> None:
    event = parse_status_callback({"CallSid": CALL_SID, "CallStatus": "failed", "SipResponseCode": "603"})
    assert event.status is CallStatus.BUSY
    assert event.provider_status == "failed"


@pytest.mark.parametrize(
    "params",
    [
        {"CallStatus": "ringing"},
        {"CallSid": CALL_SID},
        {"CallSid": CALL_SID, "CallStatus": "ringing", "SequenceNumber": "two"},
        {"CallSid": CALL_SID, "CallStatus": "ringing", "Timestamp": "yesterday"},
        {"CallSid": CALL_SID, "CallStatus": "ringin"},
    ],
)
def test_malformed_status_callbacks_are_rejected(params: dict[str, str]) -> None:
    with pytest.raises(InvalidCallbackError):
        parse_status_callback(params)


def test_out_of_order_and_repeated_callbacks_settle_forward_only() -> None:
    """Fed through can_transition, any delivery order of a call's callbacks ends where Twilio's call ended."""
    sequence = [("initiated", 0), ("ringing", 1), ("in-progress", 2), ("completed", 3)]
    callbacks = [{"CallSid": CALL_SID, "CallStatus": status, "SequenceNumber": str(n)} for status, n in sequence]
    shuffler = random.Random(7)
    for _ in range(50):
        delivered = callbacks + shuffler.sample(callbacks, 2)  # redeliveries
        shuffler.shuffle(delivered)
        status = CallStatus.QUEUED
        seen: set[str] = set()
        for params in delivered:
            event = parse_status_callback(params)
            if event.dedupe_key in seen:
                continue
            seen.add(event.dedupe_key)
            if can_transition(status, event.status):
                status = event.status
        assert status is CallStatus.COMPLETED


def test_recording_callback() -> None:
    recording = parse_recording_callback(
        {
            "AccountSid": "AC" + "0" * 32,
            "CallSid": CALL_SID,
            "RecordingSid": "RE" + "2" * 32,
            "RecordingUrl": "https://api.twilio.com/2010-04-01/Accounts/AC0/Recordings/RE2",
            "RecordingStatus": "completed",
            "RecordingDuration": "41",
            "RecordingChannels": "2",
            "RecordingSource": "OutboundAPI",
            "RecordingStartTime": "Tue, 05 May 2026 10:00:49 +0000",
            "RecordingTrack": "both",
        }
    )
    assert recording.provider_call_id == CALL_SID
    assert recording.recording_id == "RE" + "2" * 32
    assert recording.status is RecordingStatus.COMPLETED
    assert recording.url == "https://api.twilio.com/2010-04-01/Accounts/AC0/Recordings/RE2"
    assert (recording.duration_seconds, recording.channels, recording.source) == (41, 2, "OutboundAPI")
    assert recording.started_at == datetime(2026, 5, 5, 10, 0, 49, tzinfo=UTC)
    assert recording.error_code is None


def test_absent_recording_and_unknown_recording_status() -> None:
    absent = parse_recording_callback(
        {"CallSid": CALL_SID, "RecordingSid": "RE1", "RecordingStatus": "absent", "ErrorCode": "0"}
    )
    assert absent.status is RecordingStatus.ABSENT
    assert absent.url is None
    with pytest.raises(InvalidCallbackError):
        parse_recording_callback({"CallSid": CALL_SID, "RecordingSid": "RE1", "RecordingStatus": "done"})


def test_async_machine_detection_callback() -> None:
    result = parse_machine_detection_callback(
        {"CallSid": CALL_SID, "AnsweredBy": "machine_end_beep", "MachineDetectionDuration": "4120"}
    )
    assert result.answered_by is AnsweredBy.MACHINE
    assert result.greeting_ended
    assert result.detection_duration_ms == 4120
    human = parse_machine_detection_callback({"CallSid": CALL_SID, "AnsweredBy": "human"})
    assert human.answered_by is AnsweredBy.HUMAN and not human.greeting_ended
