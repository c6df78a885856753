"""The life of one simulated call, from ``queued`` to its final status, with Twilio's callbacks.

:class:`CallRunner` plays the phone network for one call: it "dials" (``initiated``), rings, then follows the
callee's scenario: busy (SIP 486), failed (404/480), no answer within the caller's ``Timeout`` (487), cancelled
over REST while ringing (487), or answered. An answered call gets a running :class:`~.line.Line` and a
:class:`~.callee.Callee`, answering-machine detection if asked for, and its TwiML executed (fetched from ``Url``
or taken from ``Twiml``) until it runs out, says ``<Hangup/>``, the callee hangs up or the platform ends the call
over REST. Status callbacks are sent for the subscribed events only, signed, numbered from 0; recordings are
announced to ``RecordingStatusCallback`` after the call.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import time
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from opencaller.audio import ulaw_encode

from .callee import Callee, prepare_opening
from .line import Line
from .media import MediaStreamSession
from .state import SimCall, new_sid, rfc2822, utcnow
from .twiml import ConnectStream, Hangup, Pause, Redirect, Say, TwimlError, Unsupported, Verb, parse_twiml
from .voice import CalleeVoice
from .webhooks import CallbackOutbox, TwimlFetchError, WebhookSender

API_VERSION = "2010-04-01"
MAX_REDIRECTS = 10
AMD_TIMEOUT_SECONDS = 30.0
"""Twilio's default ``MachineDetectionTimeout``: detection gives up (``unknown``) after this long."""


def is_loopback_host(host: str | None) -> bool:
    """True for ``localhost`` and loopback IP addresses."""
    if host is None:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class CallRunner:
    """Drives one :class:`~.state.SimCall` through its lifecycle; run it as an owned task."""

    def __init__(
        self,
        call: SimCall,
        sender: WebhookSender,
        voice: CalleeVoice,
        public_url: str,
        allow_loopback_ws: bool,
    ) -> None:
        self.call = call
        self._sender = sender
        self._voice = voice
        self._public_url = public_url.rstrip("/")
        self._allow_loopback_ws = allow_loopback_ws
        self._outbox = CallbackOutbox(sender, call)

    # ---- callbacks ----------------------------------------------------------------------------------------------

    def _base_params(self, call_status: str) -> dict[str, str]:
        call, request = self.call, self.call.request
        return {
            "AccountSid": call.account_sid,
            "ApiVersion": API_VERSION,
            "CallSid": call.sid,
            "CallStatus": call_status,
            "Called": request.to,
            "Caller": request.from_,
            "Direction": "outbound-api",
            "From": request.from_,
            "To": request.to,
        }

    def _status_event(self, event: str, call_status: str) -> None:
        """Send a status callback for ``event`` if the platform subscribed to it."""
        request = self.call.request
        if request.status_callback is None or event not in request.status_callback_events:
            return
        params = self._base_params(call_status)
        params.update(
            {
                "CallbackSource": "call-progress-events",
                "SequenceNumber": str(self.call.callback_sequence),
                "Timestamp": rfc2822(utcnow()) or "",
            }
        )
        self.call.callback_sequence += 1
        if event == "completed":
            duration = self.call.duration or 0
            params["CallDuration"] = str(duration)
            params["Duration"] = str((duration + 59) // 60)
            params["SipResponseCode"] = str(self.call.sip_code or 0)
            if self.call.recording_sid is not None:
                params["RecordingSid"] = self.call.recording_sid
                params["RecordingUrl"] = self._recording_url()
                params["RecordingDuration"] = str(self._recording_seconds())
        if self.call.answered_by is not None and event in ("answered", "completed"):
            params["AnsweredBy"] = self.call.answered_by
        self._outbox.post(f"status:{event}", request.status_callback, request.status_callback_method, params)

    def _recording_url(self) -> str:
        return f"{self._public_url}/{API_VERSION}/Accounts/{self.call.account_sid}/Recordings/{self.call.recording_sid}"

    def _recording_seconds(self) -> int:
        return int(self.call.mixed_audio().size / 8000 + 0.5)

    # ---- the lifecycle ------------------------------------------------------------------------------------------

    async def run(self) -> None:
        """Run the call to its end; always leaves it in a final status with its callbacks delivered."""
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(self._outbox.run())
                try:
                    await self._dial(group)
                finally:
                    if not self.call.is_terminal:  # only on an unexpected error or a shutdown
                        answered = self.call.answered_at is not None
                        self._finish("completed" if answered else "failed", 200 if answered else 500)
                    self._outbox.close()
        finally:
            self.call.finished.set()

    async def _wait_hangup(self, seconds: float) -> bool:
        """Wait ``seconds`` of call time; True if the call was asked to end meanwhile."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.call.hangup_requested.wait(), timeout=max(0.0, seconds))
        return self.call.hangup_requested.is_set()

    def _finish(self, status: str, sip_code: int) -> None:
        call = self.call
        call.sip_code = sip_code
        call.ended_at = time.monotonic()
        call.end_time = utcnow()
        call.set_status(status)
        if call.request.record and call.answered_at is not None:
            call.recording_sid = new_sid("RE")
        self._status_event("completed", status)
        if call.recording_sid is not None:
            self._recording_callback()

    async def _dial(self, group: asyncio.TaskGroup) -> None:
        call, scenario = self.call, self.call.scenario
        self._status_event("initiated", "initiated")
        timeout = float(call.request.timeout)
        if scenario.outcome == "fail":
            if await self._wait_hangup(scenario.ring_seconds):
                self._finish("canceled", 487)
            else:
                self._finish("failed", scenario.final_sip_code)
            return
        call.set_status("ringing")
        self._status_event("ringing", "ringing")
        if scenario.outcome == "answer":
            group.create_task(prepare_opening(scenario, self._voice))
        ring = timeout if scenario.outcome == "no-answer" else min(scenario.ring_seconds, timeout)
        if await self._wait_hangup(ring):
            self._finish("canceled", 487)
            return
        if scenario.outcome == "busy":
            self._finish("busy", scenario.final_sip_code)
        elif scenario.outcome == "no-answer" or scenario.ring_seconds > timeout:
            self._finish("no-answer", 487 if scenario.outcome != "no-answer" else scenario.final_sip_code)
        else:
            await self._answered(group)

    async def _answered(self, group: asyncio.TaskGroup) -> None:
        call = self.call
        call.answered_at = time.monotonic()
        call.start_time = utcnow()
        call.set_status("in-progress")
        self._status_event("answered", "in-progress")
        callee = Callee(call.scenario, self._voice, call)
        line = Line(call, callee)
        callee.start()
        voice_task = group.create_task(callee.run())
        line_task = group.create_task(line.run())
        try:
            await self._execute(line, callee, group)
        finally:
            call.request_hangup(call.ended_by or "twiml-end")
            await line_task
            voice_task.cancel()
        self._finish("completed", 200)

    async def _detect_machine(self, callee: Callee) -> None:
        """Wait as Twilio's AMD would, then set ``answered_by``."""
        result = self.call.scenario.amd_result
        detect_end = self.call.request.machine_detection == "DetectMessageEnd"
        if result.startswith("machine_end") and not detect_end:
            result = "machine_start"
        wait = callee.greeting_done.wait()
        try:
            await asyncio.wait_for(wait, timeout=AMD_TIMEOUT_SECONDS)
        except TimeoutError:
            result = "unknown"
        self.call.answered_by = result
        self.call.note("amd", answered_by=result)

    async def _async_amd(self, callee: Callee) -> None:
        """Detect while the TwiML already runs, then post the verdict to ``AsyncAmdStatusCallback``.

        Detection stops with the call: a call that ends first gets no verdict (and its end is not held up).
        """
        started = time.monotonic()
        await _first_of(self._detect_machine(callee), self.call.hangup_requested.wait())
        url = self.call.request.async_amd_status_callback
        if self.call.answered_by is None:
            self.call.note("amd-abandoned", reason="the call ended first")
            return
        if url is None:
            return
        params = {
            "AccountSid": self.call.account_sid,
            "CallSid": self.call.sid,
            "AnsweredBy": self.call.answered_by,
            "MachineDetectionDuration": str(int((time.monotonic() - started) * 1000)),
        }
        self._outbox.post("amd", url, self.call.request.async_amd_status_callback_method, params)

    async def _execute(self, line: Line, callee: Callee, group: asyncio.TaskGroup) -> None:
        request = self.call.request
        if request.machine_detection in ("Enable", "DetectMessageEnd"):
            if request.async_amd:
                group.create_task(self._async_amd(callee))
            else:
                await _first_of(self._detect_machine(callee), self.call.hangup_requested.wait())
                if self.call.hangup_requested.is_set():
                    return
        try:
            if request.twiml is not None:
                verbs = parse_twiml(request.twiml)
            else:
                assert request.url is not None
                verbs = await self._fetch(request.url, request.method)
            await self._run_verbs(verbs, line)
        except (TwimlError, TwimlFetchError) as exc:
            # Twilio reads an error message to the callee and hangs up; the platform sees a completed call.
            self.call.note("twiml-error", error=str(exc))

    async def _fetch(self, url: str, method: str) -> list[Verb]:
        params = self._base_params("in-progress")
        if self.call.answered_by is not None:
            params["AnsweredBy"] = self.call.answered_by
        self.call.note("twiml-fetch", url=url, method=method)
        return parse_twiml(await self._sender.fetch_twiml(url, method, params))

    async def _run_verbs(self, verbs: list[Verb], line: Line) -> None:
        pending = list(verbs)
        redirects = 0
        while pending and not self.call.hangup_requested.is_set():
            verb = pending.pop(0)
            self.call.note("verb", verb=type(verb).__name__)
            if isinstance(verb, Say):
                self.call.transcript.append({"at": line.callee.seconds, "speaker": "agent", "text": verb.text})
                line.playback.add_audio(ulaw_encode(await self._voice.synthesize(verb.text)))
                await _first_of(line.playback.wait_drained(), self.call.hangup_requested.wait())
            elif isinstance(verb, Pause):
                await self._wait_hangup(verb.length)
            elif isinstance(verb, Hangup):
                self.call.request_hangup("twiml-hangup")
            elif isinstance(verb, Redirect):
                redirects += 1
                if redirects > MAX_REDIRECTS:
                    raise TwimlError("too many redirects")
                pending = await self._fetch(verb.url, verb.method)
            elif isinstance(verb, ConnectStream):
                await self._stream(verb, line)
            elif isinstance(verb, Unsupported):
                self.call.note("verb-skipped", verb=verb.name)

    async def _stream(self, verb: ConnectStream, line: Line) -> None:
        parts = urlsplit(verb.url)
        secure = parts.scheme == "wss"
        if not secure and not (parts.scheme == "ws" and self._allow_loopback_ws and is_loopback_host(parts.hostname)):
            self.call.note("stream-error", code=31920, error=f"stream URL must be wss: {verb.url}")
            return
        session = MediaStreamSession(
            self.call, line, verb, self._sender.signature_for(verb.url), self._stream_notifier(verb)
        )
        await session.run()

    def _stream_notifier(self, verb: ConnectStream) -> Callable[[str, str | None], None]:
        def notify(event: str, error: str | None) -> None:
            if verb.status_callback is None:
                return
            params = {
                "AccountSid": self.call.account_sid,
                "CallSid": self.call.sid,
                "StreamSid": self.call.stream_sid or "",
                "StreamName": verb.name or self.call.stream_sid or "",
                "StreamEvent": event,
                "Timestamp": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            }
            if error is not None:
                params["StreamError"] = error
            self._outbox.post(f"stream:{event}", verb.status_callback, verb.status_callback_method, params)

        return notify

    def _recording_callback(self) -> None:
        request = self.call.request
        if request.recording_status_callback is None or self.call.recording_sid is None:
            return
        params = {
            "AccountSid": self.call.account_sid,
            "CallSid": self.call.sid,
            "RecordingSid": self.call.recording_sid,
            "RecordingUrl": self._recording_url(),
            "RecordingStatus": "completed",
            "RecordingDuration": str(self._recording_seconds()),
            "RecordingChannels": "2" if request.recording_channels == "dual" else "1",
            "RecordingSource": "OutboundAPI",
            "RecordingStartTime": rfc2822(self.call.start_time) or "",
            "RecordingTrack": "both",
            "ErrorCode": "0",
        }
        self._outbox.post(
            "recording", request.recording_status_callback, request.recording_status_callback_method, params
        )


async def _first_of(*waits: Coroutine[Any, Any, Any]) -> None:
    """Wait until the first of several coroutines finishes; cancel and await the rest."""
    tasks = [asyncio.ensure_future(w) for w in waits]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
