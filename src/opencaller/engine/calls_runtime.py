"""Live calls: provider callbacks, the answer document, and the media session of an answered call.

This is where the telephony adapter, the agent and the store meet for one call. Every callback is verified
against the public URL before it changes anything. Around the agent, the media session records the line (when the
call asks for it, :mod:`.recordings`), stores each transcript turn as it happens (:mod:`.live_transcript`) and
brings the agent the verdict of asynchronous answering-machine detection (:mod:`.machine_detection`).
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import structlog
from sqlalchemy import delete, func, select

from opencaller.agent.answerer import AnswerHint
from opencaller.agent.channel import PCM, AgentOutcome, AudioInbox, CallScript, LateDetection, MediaChannel
from opencaller.agent.minimal import MinimalAgent, Speaker
from opencaller.audio import ulaw_decode
from opencaller.domain.calls import PhoneCallCreate, PromptVariableValue
from opencaller.domain.clock import utc_now
from opencaller.domain.ids import is_valid_id
from opencaller.domain.phone import time_zones_for
from opencaller.domain.status import CallStatus, StatusCode
from opencaller.domain.templates import TemplateDefinition, render
from opencaller.engine.attempts import attempt_index, update_attempt
from opencaller.engine.call_events import apply_call_event, finish_after_media
from opencaller.engine.calls import create_calls
from opencaller.engine.do_not_call import add_number
from opencaller.engine.live_transcript import LiveTranscript, transcript_rows
from opencaller.engine.machine_detection import (
    DETECTION_WAIT_SECONDS,
    LiveDetections,
    answer_hint,
    wants_machine_detection,
    watch_stored_verdict,
)
from opencaller.engine.recording_links import RecordingLinks
from opencaller.engine.recordings import CallRecorder, RecordedChannel, RecordingStore
from opencaller.engine.templates import load_definition
from opencaller.engine.urls import CallbackUrls
from opencaller.errors import Forbidden, NotFound, ValidationFailed
from opencaller.store.claims import lock_call
from opencaller.store.db import Database
from opencaller.store.models import TranscriptTurn
from opencaller.telephony import (
    STREAM_TOKEN_PARAMETER,
    CallbackRequest,
    TelephonyProvider,
    mint_stream_token,
    stream_token_digest,
    stream_token_from_parameters,
    stream_token_matches,
)
from opencaller.telephony.base import StreamStart
from opencaller.telephony.errors import InvalidCallbackError, TelephonyError
from opencaller.telephony.twilio.media import ReceiveText, SendText, TwilioMediaStream, read_until_start

if TYPE_CHECKING:
    from opencaller.agent.conversation import ConversationalAgent

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class _PreparedCall:
    """What the agent needs to know about an answered call, read once when its stream is claimed."""

    first_message: str
    definition: TemplateDefinition
    time_zone: str
    team_id: str
    voicemail_message: str = ""
    hint: AnswerHint | None = None
    record: bool = False
    first_seq: int = 0
    """Where this attempt's transcript rows start: the rows before belong to earlier attempts."""
    prompt: str = ""


def _callee_zone(e164: str) -> str:
    """The callee's time zone from the numbering plan (the first one when it spans several), else UTC."""
    try:
        zones = time_zones_for(e164)
    except Exception:
        zones = []
    return zones[0] if zones else "UTC"


@dataclass
class CallRuntime:
    """The live-call machinery of one node: provider, public URLs, the agent's voice, and a dispatcher wake-up."""

    db: Database
    provider: TelephonyProvider
    urls: CallbackUrls
    speaker: Speaker
    voice_agent: ConversationalAgent | None = None
    """The conversational agent (Pipecat + offline models); None uses the greeting-only minimal agent."""
    on_new_calls: Callable[[], None] = lambda: None
    clock: Callable[[], datetime] = utc_now
    recordings: RecordingStore | None = None
    """Where recordings of calls with ``record: true`` go; None records nothing."""
    links: RecordingLinks | None = None
    """Signs the recording link that a call's final webhook carries."""
    detection_wait_seconds: float = DETECTION_WAIT_SECONDS
    """How long a session watches its attempt for a verdict stored by another node; 0 turns the watch off (one
    node: every callback lands here)."""
    detections: LiveDetections = field(default_factory=LiveDetections)
    """This node's media sessions waiting for an answering-machine verdict."""

    async def _call_for_callback(self, call_id: str, request: CallbackRequest) -> None:
        if not self.provider.verify_callback(request):
            log.warning("callback with a bad signature refused", call_id=call_id)
            raise Forbidden("invalid provider signature")
        if not is_valid_id(call_id):
            raise NotFound("unknown call")

    async def status_callback(self, call_id: str, request: CallbackRequest) -> CallStatus | None:
        """Apply a signed status callback; returns the status the call entered, if any."""
        await self._call_for_callback(call_id, request)
        event = self.provider.parse_status_callback(request.params)
        async with self.db.transaction() as session:
            call = await lock_call(session, call_id)
            if call is None:
                raise NotFound("unknown call")
            entered = await apply_call_event(session, call, event, self.clock(), links=self.links)
        if entered == CallStatus.QUEUED:
            self.on_new_calls()
        return entered

    async def end_leg(self, provider_call_id: str) -> None:
        """Stop a provider call that is still ringing (after a cancel); an unknown or ended one is fine."""
        try:
            await self.provider.cancel(provider_call_id)
        except TelephonyError as exc:
            log.warning("could not cancel the provider call", provider_call_id=provider_call_id, error=str(exc))

    async def machine_detection_callback(self, call_id: str, request: CallbackRequest) -> None:
        """Store an asynchronous answering-machine verdict on its attempt and hand it to the live agent.

        The agent gets it at once when its media session runs on this node; a session on another node finds it
        on the attempt (see :mod:`.machine_detection`).
        """
        await self._call_for_callback(call_id, request)
        try:
            result = self.provider.parse_machine_detection_callback(request.params)
        except InvalidCallbackError as exc:
            raise ValidationFailed(f"malformed detection callback: {exc.message}") from exc
        async with self.db.transaction() as session:
            call = await lock_call(session, call_id)
            if call is None:
                raise NotFound("unknown call")
            index = attempt_index(call, result.provider_call_id)
            if index is None:
                raise NotFound("unknown call leg")
            update_attempt(
                call,
                index,
                answeredBy=result.answered_by.value,
                answeredByDetail=result.answered_by_detail,
                machineDetectionMs=result.detection_duration_ms,
            )
        hint = answer_hint(result.answered_by.value, result.answered_by_detail)
        delivered = hint is not None and self.detections.deliver(call_id, result.provider_call_id, hint)
        log.info(
            "machine detection verdict",
            call_id=call_id,
            answered_by=result.answered_by_detail,
            detection_ms=result.detection_duration_ms,
            delivered_here=delivered,
        )

    async def answer(self, call_id: str, request: CallbackRequest) -> str:
        """The answer document for an answered call: connect its audio to our media socket with a fresh token."""
        await self._call_for_callback(call_id, request)
        event = self.provider.parse_status_callback(request.params)
        provider_call_id = event.provider_call_id
        token = mint_stream_token()
        async with self.db.transaction() as session:
            call = await lock_call(session, call_id)
            if call is None:
                raise NotFound("unknown call")
            index = attempt_index(call, provider_call_id)
            if index is None:
                raise NotFound("unknown call leg")
            update_attempt(call, index, streamTokenDigest=stream_token_digest(token))
            if event.answered_by is not None:  # synchronous answering-machine detection has spoken
                update_attempt(
                    call, index, answeredBy=event.answered_by.value, answeredByDetail=event.answered_by_detail
                )
        return self.provider.media_stream_answer(self.urls.media(call_id), {STREAM_TOKEN_PARAMETER: token})

    async def media_session(self, call_id: str, send: SendText, receive: ReceiveText) -> bool:
        """Run an answered call's media: check the one-time token, let the agent talk, store what happened.

        Returns False (and does nothing) when the stream's token is missing, wrong or already used.
        """
        start = self.provider.parse_stream_start(await read_until_start(receive))
        started = time.monotonic()  # the callee's audio starts flowing now: the recording's time line
        token = stream_token_from_parameters(start.custom_parameters)
        detection = LateDetection()
        hung_up = asyncio.Event()

        async def end_line() -> None:
            """Hang up (once): when the agent's last words were heard, or when it is done."""
            if hung_up.is_set():
                return
            hung_up.set()
            try:
                await self.provider.hang_up(start.provider_call_id)
            except TelephonyError as exc:
                log.warning("could not hang up", call_id=call_id, error=str(exc))

        # registered before the attempt is first read, so a verdict is never missed in between
        with self.detections.register(call_id, start.provider_call_id, detection):
            prepared = await self._claim_stream(call_id, start.provider_call_id, token)
            if prepared is None:
                log.warning("media stream refused: bad or reused token", call_id=call_id)
                return False
            recorder = self._recorder(call_id, prepared, started)
            try:
                stream = await self._talk(call_id, start, prepared, send, receive, recorder, detection, end_line)
            finally:
                if recorder is not None:
                    recorder.abandon()  # a no-op once the recording has been stored
        if not stream.closed.is_set():
            await end_line()
        return True

    def _recorder(self, call_id: str, prepared: _PreparedCall, started: float) -> CallRecorder | None:
        if not prepared.record:
            return None
        if self.recordings is None:
            log.warning("the call asks to be recorded but this node keeps no recordings", call_id=call_id)
            return None
        try:
            return self.recordings.recorder(prepared.team_id, call_id, started=started)
        except OSError as exc:
            log.error("could not start the recording", call_id=call_id, error=str(exc))
            return None

    async def _talk(
        self,
        call_id: str,
        start: StreamStart,
        prepared: _PreparedCall,
        send: SendText,
        receive: ReceiveText,
        recorder: CallRecorder | None,
        detection: LateDetection,
        end_line: Callable[[], Awaitable[None]],
    ) -> TwilioMediaStream:
        """Let the agent talk on the line until it is done, then store the outcome; returns the stream."""
        inbox = AudioInbox()
        sinks: list[Callable[[PCM], None]] = [inbox.put] if recorder is None else [inbox.put, recorder.callee_said]
        stream = TwilioMediaStream(send, self._tee(receive, sinks), start.stream_id)
        channel: MediaChannel = stream if recorder is None else RecordedChannel(stream, recorder)
        live = LiveTranscript(self.db, prepared.team_id, call_id, prepared.first_seq)
        live.start()

        async def pump() -> None:
            try:
                await stream.pump()
            finally:
                inbox.close()

        detecting = wants_machine_detection(prepared.definition) and self.voice_agent is not None
        background = [asyncio.ensure_future(pump())]
        if detecting and self.detection_wait_seconds > 0:
            background.append(
                asyncio.ensure_future(
                    watch_stored_verdict(
                        self.db, call_id, start.provider_call_id, detection, wait_seconds=self.detection_wait_seconds
                    )
                )
            )
        outcome: AgentOutcome | None = None
        try:
            if self.voice_agent is not None:
                zone = ZoneInfo(prepared.time_zone)
                script = CallScript(
                    prepared.definition,
                    prepared.first_message,
                    prepared.voicemail_message,
                    prepared.hint,
                    prompt=prepared.prompt,
                )
                outcome = await self.voice_agent.run(
                    channel,
                    inbox,
                    script,
                    lambda: self.clock().astimezone(zone),
                    on_turn=live.add,
                    detection=detection if detecting else None,
                    end_line=end_line,
                )
            else:
                outcome = await MinimalAgent(self.speaker).run(channel, prepared.first_message)
        finally:
            for task in background:
                task.cancel()
            await asyncio.gather(*background, return_exceptions=True)
            await live.close()  # every live row is in before the final list replaces them
            recording = self._finish_recording(call_id, recorder)
            # also when the agent failed: it releases the call's end
            await self._store_outcome(call_id, outcome, first_seq=prepared.first_seq, recording=recording)
        return stream

    def _finish_recording(self, call_id: str, recorder: CallRecorder | None) -> str | None:
        """Put the attempt's recording in place; the value for ``recording_path``, or None when there is none."""
        if recorder is None or self.recordings is None:
            return None
        try:
            path = recorder.finish()
        except OSError as exc:
            log.error("could not store the recording", call_id=call_id, error=str(exc))
            return None
        return None if path is None else self.recordings.stored_name(path)

    @staticmethod
    def _tee(receive: ReceiveText, sinks: list[Callable[[PCM], None]]) -> ReceiveText:
        """A ``receive`` that also hands each inbound audio frame (decoded to PCM) to the agent's inbox (and the
        recorder)."""

        async def receive_and_copy() -> str:
            text = await receive()
            if '"media"' in text:
                message = json.loads(text)
                if message.get("event") == "media":
                    payload = message.get("media", {}).get("payload") or ""
                    pcm = ulaw_decode(base64.b64decode(payload))
                    for sink in sinks:
                        sink(pcm)
            return text

        return receive_and_copy

    async def _claim_stream(self, call_id: str, provider_call_id: str, token: str | None) -> _PreparedCall | None:
        """Consume the stream token (once) and return what the agent needs (the rendered first message...)."""
        async with self.db.transaction() as session:
            call = await lock_call(session, call_id) if is_valid_id(call_id) else None
            if call is None:
                return None
            index = attempt_index(call, provider_call_id)
            if index is None:
                return None
            digest = call.attempts[index].get("streamTokenDigest")
            if not digest or not stream_token_matches(token, str(digest)):
                return None
            update_attempt(call, index, streamTokenDigest=None, mediaOpen=True)
            definition = await load_definition(session, call.call_template_id, call.template_version)
            last_seq = await session.scalar(
                select(func.max(TranscriptTurn.seq)).where(TranscriptTurn.phone_call_id == call.id)
            )
            values = definition.variable_values({v["key"]: v["value"] for v in call.prompt_variable_values})
            values.update(
                nameOfHuman=call.name_of_human,
                toPhoneNumber=call.to_phone_number,
                toEmailAddress=call.to_email_address or "",
                fromPhoneNumber=call.from_phone_number or "",
            )
            attempt = call.attempts[index]
            return _PreparedCall(
                first_message=render(definition.first_message, values),
                definition=definition,
                time_zone=_callee_zone(call.to_phone_number),
                team_id=call.team_id,
                voicemail_message=render(definition.voicemail_message or "", values),
                hint=answer_hint(attempt.get("answeredBy"), attempt.get("answeredByDetail")),
                record=call.record,
                first_seq=0 if last_seq is None else last_seq + 1,
                prompt=render(definition.prompt, values),
            )

    async def _store_outcome(
        self, call_id: str, outcome: AgentOutcome | None, *, first_seq: int, recording: str | None = None
    ) -> None:
        """Store the transcript, the recording and what the agent found out; act on do-not-call and call-later.

        The outcome's turns replace the rows this attempt wrote live (from ``first_seq`` on; the rows before
        belong to earlier attempts of a retried call). Then the call's end, if the provider reported it meanwhile,
        is applied, so the final webhook carries all of it. ``outcome`` is None when the agent failed: the live
        rows and the recording stay, and the end is applied.
        """
        redialled = False
        async with self.db.transaction() as session:
            call = await lock_call(session, call_id)
            if call is None:
                return
            if recording is not None:
                call.recording_path = recording  # the latest answered attempt's recording
            if outcome is None:
                log.error("the agent failed; the call keeps what it had", call_id=call_id)
                await finish_after_media(session, call, self.clock(), links=self.links)
                return
            log.info("agent outcome", call_id=call_id, status_code=outcome.status_code, turns=len(outcome.turns))
            await session.execute(
                delete(TranscriptTurn).where(TranscriptTurn.phone_call_id == call.id, TranscriptTurn.seq >= first_seq)
            )
            session.add_all(transcript_rows(call.team_id, call.id, outcome.turns, first_seq=first_seq))
            hung_up = (call.status_extra_info or {}).get("statusCode") == StatusCode.HUNG_UP_BY_HUMAN.value
            if call.status_extra_info is None or (hung_up and outcome.status_code != StatusCode.HUNG_UP_BY_HUMAN):
                # the agent's reading ("call me later", "don't call") beats the bare fact that the callee hung up
                info: dict[str, str] = {"statusCode": outcome.status_code}
                if outcome.call_later_at is not None:
                    info["dateTime"] = _iso(outcome.call_later_at)
                call.status_extra_info = info
            if outcome.result_values:
                call.result_values = outcome.result_values
            if outcome.tags:
                call.custom_tags_hit_on_call = list(outcome.tags)
            if outcome.meeting_at is not None:
                call.fixed_meeting_time = outcome.meeting_at
            if outcome.do_not_call:
                await add_number(
                    session, call.team_id, call.to_phone_number, reason="asked during the call", source="agent"
                )
            if outcome.status_code == StatusCode.CALL_LATER.value and outcome.call_later_at is not None:
                definition = await load_definition(session, call.call_template_id, call.template_version)
                if definition.call_later.auto_redial:
                    await create_calls(
                        session,
                        call.team_id,
                        [
                            PhoneCallCreate(
                                team_id=call.team_id,
                                call_template_id=call.call_template_id,
                                name_of_human=call.name_of_human,
                                to_phone_number=call.to_phone_number,
                                prompt_variable_values=[
                                    PromptVariableValue.model_validate(v) for v in call.prompt_variable_values
                                ],
                                phone_number_id=call.phone_number_id,
                                from_phone_number=call.from_phone_number,
                                to_email_address=call.to_email_address,
                                record=call.record,
                                call_delayed_until=outcome.call_later_at,
                            )
                        ],
                    )
                    redialled = True
            if await finish_after_media(session, call, self.clock(), links=self.links) == CallStatus.QUEUED:
                redialled = True  # the retry policy sends a voicemail attempt round again
        if redialled:
            self.on_new_calls()


def _iso(moment: datetime) -> str:
    """ISO-8601 UTC with milliseconds and ``Z``, as the API writes timestamps."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
