"""The provider-neutral contract every telephony adapter implements, and the values that cross it.

The engine talks to phone networks only through :class:`TelephonyProvider`: it places and ends calls, verifies
and parses the provider's callbacks, and builds the answer document that connects a call's audio to our media
socket. Everything here is plain data in platform terms (:class:`~opencaller.domain.status.CallStatus`), so
the engine never learns a vendor's spelling of a status, and a second provider is one more adapter, not a
change to the engine.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from opencaller.domain.status import CallStatus

CallbackParams = Mapping[str, str] | Sequence[tuple[str, str]]
"""Form fields of a callback: a mapping, or ``(name, value)`` pairs in arrival order (names may repeat)."""


class AnsweredBy(StrEnum):
    """Who picked up, per answering-machine detection, folded to the three answers the engine acts on."""

    HUMAN = "human"
    MACHINE = "machine"
    UNKNOWN = "unknown"


class RecordingStatus(StrEnum):
    """Where a call recording stands; only ``completed`` has a file to download."""

    IN_PROGRESS = "in-progress"
    COMPLETED = "completed"
    ABSENT = "absent"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class PlaceCallRequest:
    """Everything a provider needs to dial one outbound call.

    ``answer_url`` is fetched by the provider when the callee answers and must return the media-stream answer
    (:meth:`TelephonyProvider.media_stream_answer`). ``idempotency_key`` is our id for this dial attempt; it
    is sent to providers that deduplicate on one and otherwise only correlates logs, so callback URLs should
    still carry our call id.
    """

    to_number: str
    from_number: str
    answer_url: str
    status_callback_url: str
    timeout_seconds: int = 30
    record: bool = False
    recording_callback_url: str | None = None
    machine_detection: bool = False
    machine_detection_callback_url: str | None = None
    max_duration_seconds: int | None = None
    idempotency_key: str | None = None

    def __post_init__(self) -> None:
        """Reject values no provider accepts, before anything is sent."""
        if not self.to_number or not self.from_number:
            raise ValueError("to_number and from_number are required")
        if not 1 <= self.timeout_seconds <= 600:
            raise ValueError("timeout_seconds must be between 1 and 600")
        if self.max_duration_seconds is not None and self.max_duration_seconds < 1:
            raise ValueError("max_duration_seconds must be positive")


@dataclass(frozen=True, slots=True)
class PlacedCall:
    """The provider's acknowledgement of a dial: its id for the call and the status it reported."""

    provider_call_id: str
    status: CallStatus
    provider_status: str


@dataclass(frozen=True, slots=True)
class ProviderCallState:
    """A call as the provider currently sees it; used to reconcile calls whose worker died mid-dial."""

    provider_call_id: str
    status: CallStatus
    provider_status: str
    duration_seconds: int | None = None
    answered_by: AnsweredBy | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class CallEvent:
    """One status callback, mapped to platform terms.

    Callbacks arrive out of order and more than once: feed ``status`` through
    :func:`opencaller.domain.status.can_transition` and deduplicate on :attr:`dedupe_key`.
    """

    provider_call_id: str
    status: CallStatus
    provider_status: str
    sequence_number: int | None = None
    timestamp: datetime | None = None
    sip_response_code: int | None = None
    duration_seconds: int | None = None
    answered_by: AnsweredBy | None = None
    answered_by_detail: str | None = None
    account_id: str | None = None

    @property
    def dedupe_key(self) -> str:
        """A key equal for redeliveries of the same callback and different for distinct ones."""
        marker = str(self.sequence_number) if self.sequence_number is not None else self.provider_status
        return f"{self.provider_call_id}:{marker}"


@dataclass(frozen=True, slots=True)
class MachineDetectionResult:
    """The outcome of asynchronous answering-machine detection, delivered on its own callback."""

    provider_call_id: str
    answered_by: AnsweredBy
    answered_by_detail: str
    detection_duration_ms: int | None = None
    greeting_ended: bool = False


@dataclass(frozen=True, slots=True)
class RecordingEvent:
    """One recording callback: where the recording of a call is and how long it is."""

    provider_call_id: str
    recording_id: str
    status: RecordingStatus
    url: str | None = None
    duration_seconds: int | None = None
    channels: int | None = None
    source: str | None = None
    started_at: datetime | None = None
    error_code: str | None = None


@dataclass(frozen=True, slots=True)
class StreamStart:
    """The first message on a call's media socket: which call it is and the parameters from our answer.

    The engine checks :attr:`custom_parameters` for the one-time stream token before accepting any audio.
    """

    stream_id: str
    provider_call_id: str
    custom_parameters: Mapping[str, str]
    account_id: str | None = None
    encoding: str | None = None
    sample_rate: int | None = None
    channels: int | None = None


@dataclass(frozen=True, slots=True)
class CallbackRequest:
    """An incoming provider callback, as the HTTP layer received it.

    ``url`` must be the *public* URL the provider was told to call (see
    :func:`opencaller.telephony.public_url.public_callback_url`), not the internal one behind a proxy, because
    providers sign the URL they were given. Header names are matched case-insensitively.
    """

    url: str
    params: CallbackParams = ()
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""

    def header(self, name: str) -> str | None:
        """The value of header ``name`` (any case), or None when absent."""
        wanted = name.lower()
        for key, value in self.headers.items():
            if key.lower() == wanted:
                return value
        return None


def param_pairs(params: CallbackParams) -> list[tuple[str, str]]:
    """The callback fields as ``(name, value)`` pairs, whatever shape they came in."""
    if isinstance(params, Mapping):
        return [(str(name), str(value)) for name, value in params.items()]
    return [(str(name), str(value)) for name, value in params]


class TelephonyProvider(Protocol):
    """What the engine needs from a phone network: dial, end, reconcile, and understand its callbacks.

    Network methods are async and raise only :mod:`opencaller.telephony.errors` exceptions. The parsing
    methods are pure and raise :class:`~opencaller.telephony.errors.InvalidCallbackError` on malformed input.
    """

    @property
    def name(self) -> str:
        """The provider's short name (``"twilio"``), used in URLs and stored with each call."""
        ...

    @property
    def answer_content_type(self) -> str:
        """The media type to serve :meth:`media_stream_answer`'s document with."""
        ...

    async def place_call(self, request: PlaceCallRequest) -> PlacedCall:
        """Dial a call; returns once the provider has accepted it (it is usually still queued)."""
        ...

    async def hang_up(self, provider_call_id: str) -> bool:
        """End a call in any live state; False when the provider says it is unknown or already over."""
        ...

    async def cancel(self, provider_call_id: str) -> bool:
        """Stop a call that has not been answered yet; False when unknown or already over."""
        ...

    async def fetch_call(self, provider_call_id: str) -> ProviderCallState | None:
        """The provider's current view of a call, or None when it does not know the call."""
        ...

    def verify_callback(self, request: CallbackRequest) -> bool:
        """Whether a callback really comes from the provider (its signature matches); never raises."""
        ...

    def parse_status_callback(self, params: CallbackParams) -> CallEvent:
        """Read a call-progress callback into a :class:`CallEvent`."""
        ...

    def parse_recording_callback(self, params: CallbackParams) -> RecordingEvent:
        """Read a recording-status callback into a :class:`RecordingEvent`."""
        ...

    def parse_machine_detection_callback(self, params: CallbackParams) -> MachineDetectionResult:
        """Read an asynchronous answering-machine-detection callback."""
        ...

    def media_stream_answer(self, stream_url: str, parameters: Mapping[str, str]) -> str:
        """The answer document that connects the call's audio to ``stream_url``, carrying ``parameters``."""
        ...

    def parse_stream_start(self, message: Mapping[str, Any]) -> StreamStart:
        """Read the media socket's ``start`` message (already JSON-decoded)."""
        ...

    async def aclose(self) -> None:
        """Release connections; the provider is unusable afterwards."""
        ...
