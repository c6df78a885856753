"""The simulated phone network: Twilio's Calls API semantics over the simulator's calls.

:class:`PhoneNetwork` validates create/update requests as Twilio does (same parameter names, same error codes),
starts each call's :class:`~.lifecycle.CallRunner` under the task supervisor, and keeps every call, with dial
counters, for the inspection API. The HTTP layer (:mod:`.app`) only translates requests to these methods.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

import httpx
import numpy as np

from opencaller.audio import TELEPHONE_RATE, wav_bytes

from .config import SimulatorConfig
from .errors import TwilioApiError, invalid_parameter, not_found
from .lifecycle import CallRunner
from .scenarios import E164, ScenarioBook
from .state import CallRequest, SimCall, new_sid
from .supervisor import TaskSupervisor
from .voice import CalleeVoice, PlaceholderVoice
from .webhooks import WebhookSender

FormData = Mapping[str, Sequence[str]]
"""A form body as name → all values given for it (``StatusCallbackEvent`` repeats)."""

STATUS_EVENTS = frozenset({"initiated", "ringing", "answered", "completed"})
MAX_TWIML_CHARS = 4000


def _one(form: FormData, name: str) -> str | None:
    values = form.get(name) or []
    value = values[-1].strip() if values else ""
    return value or None


def _method(form: FormData, name: str) -> str:
    method = (_one(form, name) or "POST").upper()
    if method not in ("GET", "POST"):
        raise invalid_parameter(f"{name} must be GET or POST", 21205)
    return method


def _url(form: FormData, name: str) -> str | None:
    url = _one(form, name)
    if url is not None and not url.startswith(("http://", "https://")):
        raise invalid_parameter(f"{name} is not a valid URL: {url}", 21205)
    return url


def _flag(form: FormData, name: str) -> bool:
    return (_one(form, name) or "false").lower() == "true"


def normalize_number(raw: str) -> str:
    """Drop the spaces, dashes, dots and brackets people write in phone numbers."""
    return "".join(ch for ch in raw if ch not in " -.()\t")


def parse_create(form: FormData) -> CallRequest:
    """Validate a create-call form as Twilio would; raises :class:`TwilioApiError` with Twilio's codes."""
    raw_to = _one(form, "To")
    if raw_to is None:
        raise invalid_parameter("No 'To' number is specified", 21201)
    to = normalize_number(raw_to)
    if not E164.match(to):
        raise invalid_parameter(f"Invalid 'To' Phone Number: {raw_to}", 21211)
    raw_from = _one(form, "From")
    if raw_from is None:
        raise invalid_parameter("No 'From' number is specified", 21213)
    from_ = normalize_number(raw_from)
    if not E164.match(from_):
        raise invalid_parameter(f"Invalid 'From' Phone Number: {raw_from}", 21212)
    url, twiml = _url(form, "Url"), _one(form, "Twiml")
    if url is None and twiml is None:
        raise invalid_parameter("Url parameter is required.", 21205)
    if twiml is not None and len(twiml) > MAX_TWIML_CHARS:
        raise invalid_parameter(f"Twiml must be at most {MAX_TWIML_CHARS} characters", 21205)
    events = {word for value in form.get("StatusCallbackEvent") or [] for word in value.split()}
    unknown = events - STATUS_EVENTS
    if unknown:
        raise invalid_parameter(f"Invalid StatusCallbackEvent: {', '.join(sorted(unknown))}", 21626)
    try:
        timeout = int(_one(form, "Timeout") or 60)
    except ValueError as exc:
        raise invalid_parameter("Timeout must be an integer number of seconds", 21216) from exc
    amd = _one(form, "MachineDetection")
    if amd is not None and amd not in ("Enable", "DetectMessageEnd"):
        raise invalid_parameter("MachineDetection must be Enable or DetectMessageEnd", 21216)
    channels = (_one(form, "RecordingChannels") or "mono").lower()
    return CallRequest(
        to=to,
        from_=from_,
        url=url,
        method=_method(form, "Method"),
        twiml=twiml if url is None else None,
        status_callback=_url(form, "StatusCallback"),
        status_callback_method=_method(form, "StatusCallbackMethod"),
        status_callback_events=frozenset(events or {"completed"}),
        timeout=min(max(timeout, 1), 600),
        record=_flag(form, "Record"),
        recording_status_callback=_url(form, "RecordingStatusCallback"),
        recording_status_callback_method=_method(form, "RecordingStatusCallbackMethod"),
        recording_channels="dual" if channels == "dual" else "mono",
        machine_detection=amd,
        async_amd=_flag(form, "AsyncAmd"),
        async_amd_status_callback=_url(form, "AsyncAmdStatusCallback"),
        async_amd_status_callback_method=_method(form, "AsyncAmdStatusCallbackMethod"),
    )


class PhoneNetwork:
    """All simulated calls of one simulator instance, and the machinery that runs them."""

    def __init__(self, config: SimulatorConfig, scenarios: ScenarioBook, voice: CalleeVoice | None = None) -> None:
        self.config = config
        self.scenarios = scenarios
        self.voice: CalleeVoice = voice if voice is not None else PlaceholderVoice()
        self.calls: dict[str, SimCall] = {}
        self.dials: Counter[str] = Counter()
        self._supervisor = TaskSupervisor()
        self._client: httpx.AsyncClient | None = None

    async def start(self) -> None:
        """Open the HTTP client used for callbacks and TwiML fetches."""
        in_flight = WebhookSender.MAX_IN_FLIGHT  # keep every connection alive: reconnecting is what costs
        self._client = httpx.AsyncClient(
            timeout=self.config.callback_timeout_seconds,
            trust_env=False,
            follow_redirects=False,
            limits=httpx.Limits(max_connections=in_flight, max_keepalive_connections=in_flight),
        )

    async def close(self) -> None:
        """End every running call task and close the HTTP client."""
        await self._supervisor.close()
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def _call_path(self, sid: str) -> str:
        return f"/2010-04-01/Accounts/{self.config.account_sid}/Calls/{sid}.json"

    def create_call(self, form: FormData) -> SimCall:
        """Accept a call as Twilio's ``POST …/Calls.json`` does and start dialling it."""
        if self._client is None:
            raise RuntimeError("the phone network has not been started")
        request = parse_create(form)
        call = SimCall(
            sid=new_sid("CA"),
            account_sid=self.config.account_sid,
            request=request,
            scenario=self.scenarios.for_number(request.to),
        )
        call.note("created", to=request.to, callee=call.scenario.label)
        self.calls[call.sid] = call
        self.dials[request.to] += 1
        runner = CallRunner(
            call,
            WebhookSender(self._client, self.config.auth_token),
            self.voice,
            public_url=self.config.base_url,
            allow_loopback_ws=self.config.allow_loopback_ws,
        )
        self._supervisor.spawn(runner.run(), name=f"call-{call.sid}")
        return call

    def get_call(self, sid: str) -> SimCall:
        """The call ``sid``; Twilio's 20404 if there is none."""
        call = self.calls.get(sid)
        if call is None:
            raise not_found(self._call_path(sid))
        return call

    def update_call(self, sid: str, form: FormData) -> SimCall:
        """Twilio's ``POST …/Calls/{sid}.json`` with ``Status=completed|canceled``.

        ``canceled`` ends a queued or ringing call and leaves an answered one alone; ``completed`` ends it in any
        state. A call that has already ended answers 20404, as the telephony reference describes.
        """
        call = self.get_call(sid)
        status = _one(form, "Status")
        if status is None:
            if _one(form, "Url") or _one(form, "Twiml"):
                raise invalid_parameter("The simulator does not support redirecting a live call", 21220)
            return call
        if status not in ("completed", "canceled"):
            raise invalid_parameter("Status must be 'completed' or 'canceled'", 21218)
        if call.is_terminal or call.hangup_requested.is_set():
            raise not_found(self._call_path(sid))
        if status == "canceled" and call.status == "in-progress":
            return call
        call.note("rest-update", status=status)
        call.request_hangup("api-cancel" if call.status in ("queued", "ringing") else "api")
        return call

    def hang_up_callee(self, sid: str) -> SimCall:
        """Make the callee hang up now (an inspection-API control for tests)."""
        call = self.get_call(sid)
        call.request_hangup("callee")
        return call

    def recording_wav(self, recording_sid: str) -> bytes:
        """The WAV of a finished call's recording (mono mix, or callee/agent on two channels if dual)."""
        for call in self.calls.values():
            if call.recording_sid == recording_sid and call.is_terminal:
                if call.request.recording_channels == "dual":
                    sent, received = call.audio("sent"), call.audio("received")
                    length = max(sent.size, received.size)
                    stereo = np.zeros((length, 2), dtype=np.int16)
                    stereo[: sent.size, 0] = sent
                    stereo[: received.size, 1] = received
                    return wav_bytes(stereo, TELEPHONE_RATE)
                return wav_bytes(call.mixed_audio(), TELEPHONE_RATE)
        raise not_found(f"/2010-04-01/Accounts/{self.config.account_sid}/Recordings/{recording_sid}")

    def stats(self) -> dict[str, object]:
        """Dial counters and how many calls are in each status."""
        statuses = Counter(call.status for call in self.calls.values())
        return {
            "total_dials": sum(self.dials.values()),
            "dials": dict(self.dials),
            "statuses": dict(statuses),
            "running_tasks": self._supervisor.running,
        }


__all__ = ["FormData", "PhoneNetwork", "TwilioApiError", "parse_create"]
