"""``TwilioProvider``: the :class:`~opencaller.telephony.base.TelephonyProvider` for Twilio Voice.

REST calls go through the official ``twilio`` SDK on an async httpx transport whose base URL is configurable,
so the provider drives real Twilio or a local simulator that speaks Twilio's wire protocol. Callbacks are
verified with the SDK's ``RequestValidator`` and read by :mod:`.callbacks`; the answer is
``<Connect><Stream>`` TwiML.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

import httpx
from twilio.rest import Client

from opencaller.telephony.base import (
    CallbackParams,
    CallbackRequest,
    CallEvent,
    MachineDetectionResult,
    PlaceCallRequest,
    PlacedCall,
    ProviderCallState,
    RecordingEvent,
    StreamStart,
    TelephonyProvider,
)
from opencaller.telephony.errors import CallNotFoundError, OutcomeUnknownError
from opencaller.telephony.twilio import callbacks, twiml
from opencaller.telephony.twilio.errors import translate
from opencaller.telephony.twilio.http_client import DEFAULT_API_BASE_URL, RebasingHttpClient
from opencaller.telephony.twilio.signature import TwilioSignatureVerifier

STATUS_CALLBACK_EVENTS = ("initiated", "ringing", "answered", "completed")
"""Every call-progress event we subscribe to (Twilio sends only ``completed`` unless asked)."""

_logger = logging.getLogger(__name__)

RECORDING_CALLBACK_EVENTS = ("completed", "absent")
"""Recording events we subscribe to: the file is ready, or there is nothing to wait for."""


@dataclass(frozen=True, slots=True)
class TwilioConfig:
    """How to reach and authenticate with Twilio (or a Twilio-compatible simulator).

    ``api_key_sid``/``api_key_secret`` replace the auth token for REST when set; the auth token is still what
    Twilio signs webhooks with. ``webhook_shared_key`` is the secret of a Webhooks SharedKey, if one is in
    use.
    """

    account_sid: str
    auth_token: str
    api_base_url: str = DEFAULT_API_BASE_URL
    request_timeout_seconds: float = 10.0
    api_key_sid: str | None = None
    api_key_secret: str | None = None
    webhook_shared_key: str | None = None

    def __repr__(self) -> str:
        """Show where the config points without printing any secret."""
        return f"TwilioConfig(account_sid={self.account_sid!r}, api_base_url={self.api_base_url!r})"


class _NoEnvironment(dict[str, str]):
    """An empty but truthy environment, so the SDK never reads ``os.environ`` (edge, region, credentials)."""

    def __bool__(self) -> bool:
        """Always true: the SDK treats a falsy environment as "use os.environ"."""
        return True


class TwilioProvider:
    """Places, ends and reconciles calls on Twilio, and understands Twilio's callbacks and media messages."""

    def __init__(self, config: TwilioConfig, *, http_client: httpx.AsyncClient | None = None) -> None:
        """Build the SDK client; no network traffic happens until a call is placed.

        Pass ``http_client`` to share a connection pool; the provider then leaves closing it to the caller.
        """
        self._config = config
        self._transport = RebasingHttpClient(
            config.api_base_url, timeout_seconds=config.request_timeout_seconds, client=http_client
        )
        using_api_key = config.api_key_sid is not None and config.api_key_secret is not None
        self._client = Client(
            username=config.api_key_sid if using_api_key else config.account_sid,
            password=config.api_key_secret if using_api_key else config.auth_token,
            account_sid=config.account_sid,
            http_client=self._transport,
            environment=_NoEnvironment(),
        )
        self._verifier = TwilioSignatureVerifier(config.auth_token, config.webhook_shared_key)

    @property
    def name(self) -> str:
        """``"twilio"``."""
        return "twilio"

    @property
    def answer_content_type(self) -> str:
        """TwiML is served as ``text/xml``."""
        return twiml.TWIML_CONTENT_TYPE

    async def place_call(self, request: PlaceCallRequest) -> PlacedCall:
        """Create the call with ``POST /2010-04-01/Accounts/{Sid}/Calls.json``.

        Subscribes to every progress event, asks for a dual-channel recording when ``record`` is set, and uses
        asynchronous answering-machine detection (waiting for the greeting to end, so a voicemail lands after
        the beep) when a detection callback URL is given, synchronous detection otherwise.
        """
        arguments: dict[str, Any] = {
            "to": request.to_number,
            "from_": request.from_number,
            "url": request.answer_url,
            "method": "POST",
            "status_callback": request.status_callback_url,
            "status_callback_method": "POST",
            "status_callback_event": list(STATUS_CALLBACK_EVENTS),
            "timeout": request.timeout_seconds,
        }
        if request.max_duration_seconds is not None:
            arguments["time_limit"] = request.max_duration_seconds
        if request.record:
            arguments["record"] = True
            arguments["recording_channels"] = "dual"
            if request.recording_callback_url is not None:
                arguments["recording_status_callback"] = request.recording_callback_url
                arguments["recording_status_callback_method"] = "POST"
                arguments["recording_status_callback_event"] = list(RECORDING_CALLBACK_EVENTS)
        if request.machine_detection:
            arguments["machine_detection"] = "DetectMessageEnd"
            if request.machine_detection_callback_url is not None:
                arguments["async_amd"] = "true"
                arguments["async_amd_status_callback"] = request.machine_detection_callback_url
                arguments["async_amd_status_callback_method"] = "POST"
        async with self._translated():
            try:
                call = await self._calls().create_async(**arguments)
            except ValueError as exc:  # a 2xx answer whose body is not JSON: the call may exist
                raise OutcomeUnknownError(f"unreadable answer to create call: {exc}") from exc
        provider_status = str(call.status or "queued")
        # Twilio's Calls API takes no idempotency key; the key only ties the new CallSid to our attempt in logs.
        _logger.info("twilio call placed: sid=%s key=%s", call.sid, request.idempotency_key)
        return PlacedCall(
            provider_call_id=str(call.sid),
            status=callbacks.map_call_status(provider_status),
            provider_status=provider_status,
        )

    async def hang_up(self, provider_call_id: str) -> bool:
        """End the call (``Status=completed``); False when Twilio says it is unknown or over (20404)."""
        return await self._update_status(provider_call_id, "completed")

    async def cancel(self, provider_call_id: str) -> bool:
        """Cancel a queued or ringing call (``Status=canceled``); False when unknown or already over."""
        return await self._update_status(provider_call_id, "canceled")

    async def fetch_call(self, provider_call_id: str) -> ProviderCallState | None:
        """Twilio's current view of the call (``GET …/Calls/{CallSid}.json``), or None on 20404."""
        try:
            async with self._translated():
                call = await self._calls()(provider_call_id).fetch_async()
        except CallNotFoundError:
            return None
        provider_status = str(call.status)
        answered_by = str(call.answered_by) if call.answered_by else None
        duration = str(call.duration) if call.duration not in (None, "") else None
        return ProviderCallState(
            provider_call_id=str(call.sid or provider_call_id),
            status=callbacks.map_call_status(provider_status),
            provider_status=provider_status,
            duration_seconds=int(duration) if duration is not None and duration.isdigit() else None,
            answered_by=callbacks.map_answered_by(answered_by) if answered_by else None,
            started_at=call.start_time,
            ended_at=call.end_time,
        )

    def verify_callback(self, request: CallbackRequest) -> bool:
        """Whether ``X-Twilio-Signature`` matches the request's public URL and form fields."""
        return self._verifier.verify(request)

    def parse_status_callback(self, params: CallbackParams) -> CallEvent:
        """Read a call-progress callback; see :func:`.callbacks.parse_status_callback`."""
        return callbacks.parse_status_callback(params)

    def parse_recording_callback(self, params: CallbackParams) -> RecordingEvent:
        """Read a recording status callback; see :func:`.callbacks.parse_recording_callback`."""
        return callbacks.parse_recording_callback(params)

    def parse_machine_detection_callback(self, params: CallbackParams) -> MachineDetectionResult:
        """Read an async AMD callback; see :func:`.callbacks.parse_machine_detection_callback`."""
        return callbacks.parse_machine_detection_callback(params)

    def media_stream_answer(
        self, stream_url: str, parameters: Mapping[str, str], *, status_callback_url: str | None = None
    ) -> str:
        """``<Response><Connect><Stream url><Parameter …/></Stream></Connect></Response>``."""
        return twiml.media_stream_answer(stream_url, parameters, status_callback_url=status_callback_url)

    def parse_stream_start(self, message: Mapping[str, Any]) -> StreamStart:
        """Read the Media Streams ``start`` message; see :func:`.callbacks.parse_stream_start`."""
        return callbacks.parse_stream_start(message)

    async def aclose(self) -> None:
        """Close the HTTP connection pool (unless it was handed in)."""
        await self._transport.aclose()

    async def __aenter__(self) -> Self:
        """Use the provider as ``async with``; it is closed on exit."""
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        """Close the provider."""
        await self.aclose()

    def _calls(self) -> Any:
        """The SDK's Calls list for our account."""
        return self._client.api.v2010.account.calls

    async def _update_status(self, provider_call_id: str, status: str) -> bool:
        """POST ``Status`` to the call; False when Twilio no longer knows it."""
        try:
            async with self._translated():
                await self._calls()(provider_call_id).update_async(status=status)
        except CallNotFoundError:
            return False
        return True

    @asynccontextmanager
    async def _translated(self) -> AsyncIterator[None]:
        """Re-raise SDK and transport failures as :mod:`opencaller.telephony.errors` exceptions."""
        try:
            yield
        except Exception as exc:
            translated = translate(exc)
            if translated is None:
                raise
            raise translated from exc


if TYPE_CHECKING:

    def _conforms(provider: TwilioProvider) -> TelephonyProvider:
        """Let the type checker prove TwilioProvider satisfies the Protocol."""
        return provider
