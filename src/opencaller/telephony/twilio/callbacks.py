"""Twilio's call statuses and callbacks, read into platform terms.

Twilio spells statuses its own way (``in-progress``, ``no-answer``, ``canceled``), reports ``initiated`` only
as a callback event, and sends every number as a string. This module is the one place that knows those
spellings; the engine only ever sees :class:`~opencaller.domain.status.CallStatus` and the neutral events of
:mod:`opencaller.telephony.base`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from opencaller.domain.status import CallStatus
from opencaller.telephony.base import (
    AnsweredBy,
    CallbackParams,
    CallEvent,
    MachineDetectionResult,
    RecordingEvent,
    RecordingStatus,
    StreamStart,
    param_pairs,
)
from opencaller.telephony.errors import InvalidCallbackError

_STATUS_MAP: dict[str, CallStatus] = {
    "queued": CallStatus.QUEUED,
    "initiated": CallStatus.QUEUED,
    "ringing": CallStatus.RINGING,
    "in-progress": CallStatus.IN_PROGRESS,
    "completed": CallStatus.COMPLETED,
    "busy": CallStatus.BUSY,
    "no-answer": CallStatus.NO_ANSWER,
    "canceled": CallStatus.CANCELLED,
    "failed": CallStatus.FAILED,
}

_BUSY_SIP_CODES = frozenset({486, 600, 603})
_NO_ANSWER_SIP_CODES = frozenset({408, 480})

_MACHINE_ANSWERS = frozenset({"machine_start", "machine_end_beep", "machine_end_silence", "machine_end_other", "fax"})
_GREETING_ENDED_ANSWERS = frozenset({"machine_end_beep", "machine_end_silence", "machine_end_other"})


def map_call_status(twilio_status: str, sip_response_code: int | None = None) -> CallStatus:
    """The platform status for a Twilio ``CallStatus`` value.

    A ``failed`` call whose SIP code says the callee was busy (486/600/603) or never picked up (408/480) is
    reported as ``busy`` / ``noAnswer``, because that is what the user needs to know and what retry rules key
    on.
    """
    try:
        status = _STATUS_MAP[twilio_status]
    except KeyError:
        raise InvalidCallbackError(f"unknown Twilio call status {twilio_status!r}") from None
    if status is CallStatus.FAILED and sip_response_code is not None:
        if sip_response_code in _BUSY_SIP_CODES:
            return CallStatus.BUSY
        if sip_response_code in _NO_ANSWER_SIP_CODES:
            return CallStatus.NO_ANSWER
    return status


def map_answered_by(twilio_answered_by: str) -> AnsweredBy:
    """Fold Twilio's ``AnsweredBy`` values (``machine_end_beep``, ``fax`` …) to human / machine / unknown."""
    if twilio_answered_by == "human":
        return AnsweredBy.HUMAN
    if twilio_answered_by in _MACHINE_ANSWERS:
        return AnsweredBy.MACHINE
    return AnsweredBy.UNKNOWN


def parse_status_callback(params: CallbackParams) -> CallEvent:
    """Read a Twilio call-progress callback (``CallSid``, ``CallStatus``, ``SequenceNumber`` …)."""
    fields = _Fields(params)
    provider_status = fields.required("CallStatus")
    sip_code = fields.integer("SipResponseCode")
    answered_by_raw = fields.optional("AnsweredBy")
    return CallEvent(
        provider_call_id=fields.required("CallSid"),
        status=map_call_status(provider_status, sip_code),
        provider_status=provider_status,
        sequence_number=fields.integer("SequenceNumber"),
        timestamp=fields.rfc2822("Timestamp"),
        sip_response_code=sip_code,
        duration_seconds=fields.integer("CallDuration"),
        answered_by=map_answered_by(answered_by_raw) if answered_by_raw else None,
        answered_by_detail=answered_by_raw,
        account_id=fields.optional("AccountSid"),
    )


def parse_machine_detection_callback(params: CallbackParams) -> MachineDetectionResult:
    """Read Twilio's ``AsyncAmdStatusCallback`` (``CallSid``, ``AnsweredBy``, detection duration)."""
    fields = _Fields(params)
    answered_by_raw = fields.required("AnsweredBy")
    return MachineDetectionResult(
        provider_call_id=fields.required("CallSid"),
        answered_by=map_answered_by(answered_by_raw),
        answered_by_detail=answered_by_raw,
        detection_duration_ms=fields.integer("MachineDetectionDuration"),
        greeting_ended=answered_by_raw in _GREETING_ENDED_ANSWERS,
    )


def parse_recording_callback(params: CallbackParams) -> RecordingEvent:
    """Read Twilio's recording status callback (``RecordingSid``, ``RecordingStatus``, ``RecordingUrl`` …)."""
    fields = _Fields(params)
    raw_status = fields.required("RecordingStatus")
    try:
        status = RecordingStatus(raw_status)
    except ValueError:
        raise InvalidCallbackError(f"unknown Twilio recording status {raw_status!r}") from None
    return RecordingEvent(
        provider_call_id=fields.required("CallSid"),
        recording_id=fields.required("RecordingSid"),
        status=status,
        url=fields.optional("RecordingUrl"),
        duration_seconds=fields.integer("RecordingDuration"),
        channels=fields.integer("RecordingChannels"),
        source=fields.optional("RecordingSource"),
        started_at=fields.rfc2822("RecordingStartTime"),
        error_code=fields.optional("ErrorCode"),
    )


def parse_stream_start(message: Mapping[str, Any]) -> StreamStart:
    """Read a Media Streams ``start`` message (JSON-decoded) into a :class:`StreamStart`."""
    if message.get("event") != "start":
        raise InvalidCallbackError("not a Media Streams start message")
    start = message.get("start")
    if not isinstance(start, Mapping):
        raise InvalidCallbackError("start message has no start object")
    stream_sid = start.get("streamSid") or message.get("streamSid")
    call_sid = start.get("callSid")
    if not isinstance(stream_sid, str) or not stream_sid or not isinstance(call_sid, str) or not call_sid:
        raise InvalidCallbackError("start message lacks streamSid or callSid")
    raw_parameters = start.get("customParameters") or {}
    if not isinstance(raw_parameters, Mapping):
        raise InvalidCallbackError("customParameters is not an object")
    media_format = start.get("mediaFormat") or {}
    if not isinstance(media_format, Mapping):
        raise InvalidCallbackError("mediaFormat is not an object")
    account_sid = start.get("accountSid")
    encoding = media_format.get("encoding")
    return StreamStart(
        stream_id=stream_sid,
        provider_call_id=call_sid,
        custom_parameters={str(name): str(value) for name, value in raw_parameters.items()},
        account_id=account_sid if isinstance(account_sid, str) else None,
        encoding=encoding if isinstance(encoding, str) else None,
        sample_rate=_optional_int(media_format.get("sampleRate"), "sampleRate"),
        channels=_optional_int(media_format.get("channels"), "channels"),
    )


def _optional_int(value: object, name: str) -> int | None:
    """An int from a JSON number or numeric string (Twilio sends both), or None."""
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise InvalidCallbackError(f"{name} is not a number")
    try:
        return int(value)
    except ValueError:
        raise InvalidCallbackError(f"{name} is not a number: {value!r}") from None


class _Fields:
    """Typed access to a callback's form fields; the first value wins when a name repeats."""

    def __init__(self, params: CallbackParams) -> None:
        self._values: dict[str, str] = {}
        for name, value in param_pairs(params):
            self._values.setdefault(name, value)

    def optional(self, name: str) -> str | None:
        """The field's value, or None when absent or empty."""
        return self._values.get(name) or None

    def required(self, name: str) -> str:
        """The field's value; a missing or empty field makes the callback invalid."""
        value = self.optional(name)
        if value is None:
            raise InvalidCallbackError(f"callback lacks {name}")
        return value

    def integer(self, name: str) -> int | None:
        """The field as an int, or None when absent."""
        return _optional_int(self.optional(name), name)

    def rfc2822(self, name: str) -> datetime | None:
        """The field as a timezone-aware datetime (Twilio sends RFC 2822 dates), or None when absent."""
        value = self.optional(name)
        if value is None:
            return None
        try:
            parsed = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            raise InvalidCallbackError(f"{name} is not an RFC 2822 date: {value!r}") from None
        return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
