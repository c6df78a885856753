"""The simulator's record of one call: its Twilio parameters, status, timeline, audio and callbacks.

A :class:`SimCall` is both the live state the lifecycle task drives and what the inspection API reports, so a
test can see exactly what the "phone network" did: every status, every callback it sent (and the reply it got),
what the callee said and heard, and both directions of audio.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from opencaller.audio import PCM, TELEPHONE_RATE

from .scenarios import CalleeScenario

TERMINAL_STATUSES = frozenset({"completed", "busy", "no-answer", "failed", "canceled"})
"""Twilio call statuses a call never leaves."""


def new_sid(prefix: str) -> str:
    """A Twilio-style resource id: a two-letter prefix and 32 lower-case hex digits."""
    return prefix + secrets.token_hex(16)


def rfc2822(moment: datetime | None) -> str | None:
    """Format a UTC time the way Twilio's REST API does (``Tue, 31 Aug 2010 20:36:28 +0000``)."""
    return moment.strftime("%a, %d %b %Y %H:%M:%S +0000") if moment is not None else None


def utcnow() -> datetime:
    """The current UTC time, to the second (Twilio's resolution)."""
    return datetime.now(UTC).replace(microsecond=0)


@dataclass(frozen=True)
class CallRequest:
    """The validated parameters of a create-call request."""

    to: str
    from_: str
    url: str | None
    method: str
    twiml: str | None
    status_callback: str | None
    status_callback_method: str
    status_callback_events: frozenset[str]
    timeout: int
    record: bool
    recording_status_callback: str | None
    recording_status_callback_method: str
    recording_channels: str
    machine_detection: str | None
    async_amd: bool
    async_amd_status_callback: str | None
    async_amd_status_callback_method: str


@dataclass
class CallbackRecord:
    """One webhook the simulator sent, and what the platform answered."""

    kind: str
    url: str
    method: str
    params: dict[str, str]
    status_code: int | None = None
    error: str | None = None


@dataclass
class SimCall:
    """Live state and history of one simulated call."""

    sid: str
    account_sid: str
    request: CallRequest
    scenario: CalleeScenario
    status: str = "queued"
    date_created: datetime = field(default_factory=utcnow)
    date_updated: datetime = field(default_factory=utcnow)
    start_time: datetime | None = None
    end_time: datetime | None = None
    answered_at: float | None = None
    ended_at: float | None = None
    answered_by: str | None = None
    sip_code: int | None = None
    ended_by: str | None = None
    stream_sid: str | None = None
    recording_sid: str | None = None
    callback_sequence: int = 0
    log: list[dict[str, Any]] = field(default_factory=list)
    transcript: list[dict[str, Any]] = field(default_factory=list)
    callbacks: list[CallbackRecord] = field(default_factory=list)
    stream_messages: dict[str, int] = field(default_factory=dict)
    sent_audio: list[PCM] = field(default_factory=list)
    received_audio: list[PCM] = field(default_factory=list)
    media_arrivals: list[float] = field(default_factory=list)
    """Timing record: seconds since the answer at which each of the platform's ``media`` messages arrived."""
    tick_lateness: list[float] = field(default_factory=list)
    """Timing record: how many seconds after its deadline each 20 ms tick of the line ran."""
    hangup_requested: asyncio.Event = field(default_factory=asyncio.Event)
    finished: asyncio.Event = field(default_factory=asyncio.Event)
    created_at: float = field(default_factory=time.monotonic)

    @property
    def is_terminal(self) -> bool:
        """True once the call has reached a final status."""
        return self.status in TERMINAL_STATUSES

    def note(self, event: str, **details: Any) -> None:
        """Append an entry to the call log, stamped with seconds since the call was created."""
        self.log.append({"at": round(time.monotonic() - self.created_at, 3), "event": event, **details})

    def since_answer(self) -> float:
        """Seconds since the call was answered (0 before the answer)."""
        return 0.0 if self.answered_at is None else time.monotonic() - self.answered_at

    def timing(self) -> dict[str, Any]:
        """The call's timing records, for latency and jitter measurements (seconds, to the microsecond)."""
        return {
            "sid": self.sid,
            "frame_seconds": 0.02,
            "media_arrivals": [round(t, 6) for t in self.media_arrivals],
            "tick_lateness": [round(t, 6) for t in self.tick_lateness],
        }

    def set_status(self, status: str) -> None:
        """Move the call to ``status`` and log it."""
        self.status = status
        self.date_updated = utcnow()
        self.note("status", status=status)

    def request_hangup(self, by: str) -> bool:
        """Ask the call to end; ``by`` says who hung up. Returns False if it was already ending."""
        if self.hangup_requested.is_set():
            return False
        self.ended_by = by
        self.hangup_requested.set()
        self.note("hangup-requested", by=by)
        return True

    @property
    def duration(self) -> int | None:
        """Whole seconds from answer to hang-up (Twilio's ``duration``), once the call has ended."""
        if self.answered_at is None:
            return 0 if self.is_terminal else None
        if self.ended_at is None:
            return None
        return int(self.ended_at - self.answered_at + 0.5)

    def audio(self, direction: str) -> PCM:
        """The recorded audio of one direction: ``sent`` (callee to platform) or ``received`` (heard)."""
        frames = self.sent_audio if direction == "sent" else self.received_audio
        return np.concatenate(frames) if frames else np.zeros(0, dtype=np.int16)

    def mixed_audio(self) -> PCM:
        """Both directions mixed into one mono track, as a mono call recording sounds."""
        sent, received = self.audio("sent"), self.audio("received")
        length = max(sent.size, received.size)
        mix = np.zeros(length, dtype=np.int32)
        mix[: sent.size] += sent
        mix[: received.size] += received
        return np.clip(mix, -32768, 32767).astype(np.int16)

    def to_twilio(self) -> dict[str, Any]:
        """The call as Twilio's REST API represents it (the ``Call`` resource JSON)."""
        uri = f"/2010-04-01/Accounts/{self.account_sid}/Calls/{self.sid}.json"
        base = uri[: -len(".json")]
        duration = self.duration
        return {
            "account_sid": self.account_sid,
            "annotation": None,
            "answered_by": self.answered_by,
            "api_version": "2010-04-01",
            "caller_name": None,
            "date_created": rfc2822(self.date_created),
            "date_updated": rfc2822(self.date_updated),
            "direction": "outbound-api",
            "duration": str(duration) if duration is not None else None,
            "end_time": rfc2822(self.end_time),
            "forwarded_from": None,
            "from": self.request.from_,
            "from_formatted": self.request.from_,
            "group_sid": None,
            "parent_call_sid": None,
            "phone_number_sid": None,
            "price": None,
            "price_unit": "USD",
            "queue_time": "0",
            "sid": self.sid,
            "start_time": rfc2822(self.start_time),
            "status": self.status,
            "subresource_uris": {
                "notifications": f"{base}/Notifications.json",
                "recordings": f"{base}/Recordings.json",
                "events": f"{base}/Events.json",
            },
            "to": self.request.to,
            "to_formatted": self.request.to,
            "trunk_sid": None,
            "uri": uri,
        }

    def summary(self) -> dict[str, Any]:
        """A short view of the call for the inspection API's list."""
        return {
            "sid": self.sid,
            "to": self.request.to,
            "from": self.request.from_,
            "callee": self.scenario.label,
            "status": self.status,
            "sip_code": self.sip_code,
            "answered_by": self.answered_by,
            "ended_by": self.ended_by,
            "duration": self.duration,
            "finished": self.finished.is_set(),
        }

    def detail(self) -> dict[str, Any]:
        """Everything the simulator knows about the call, for the inspection API."""
        return {
            **self.summary(),
            "stream_sid": self.stream_sid,
            "recording_sid": self.recording_sid,
            "twilio": self.to_twilio(),
            "log": self.log,
            "transcript": self.transcript,
            "callbacks": [
                {
                    "kind": record.kind,
                    "url": record.url,
                    "method": record.method,
                    "params": record.params,
                    "status_code": record.status_code,
                    "error": record.error,
                }
                for record in self.callbacks
            ],
            "stream_messages": self.stream_messages,
            "audio": {
                "sample_rate": TELEPHONE_RATE,
                "sent_seconds": self.audio("sent").size / TELEPHONE_RATE,
                "received_seconds": self.audio("received").size / TELEPHONE_RATE,
            },
        }
