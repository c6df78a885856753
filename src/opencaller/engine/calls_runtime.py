"""Live calls: provider callbacks, the answer document, and the media session of an answered call.

This is where the telephony adapter, the agent and the store meet for one call. Every callback is verified
against the public URL before it changes anything.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import structlog
from sqlalchemy import func, select

from opencaller.agent.answerer import Answerer, AnswerHint
from opencaller.agent.channel import AgentOutcome, AudioInbox, CallScript
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
from opencaller.engine.templates import load_definition
from opencaller.engine.urls import CallbackUrls
from opencaller.errors import Forbidden, NotFound
from opencaller.store.claims import lock_call
from opencaller.store.db import Database
from opencaller.store.models import TranscriptTurn
from opencaller.telephony import (
    STREAM_TOKEN_PARAMETER,
    AnsweredBy,
    CallbackRequest,
    TelephonyProvider,
    mint_stream_token,
    stream_token_digest,
    stream_token_from_parameters,
    stream_token_matches,
)
from opencaller.telephony.errors import TelephonyError
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
    voicemail_message: str = ""
    hint: AnswerHint | None = None


def _answer_hint(answered_by: str | None, detail: str | None) -> AnswerHint | None:
    """What the provider's answering-machine detection told the answer request, in the agent's terms.

    A machine whose detection waited for the end of its greeting (Twilio's ``machine_end_beep`` /
    ``_silence`` / ``_other``) can be left the message at once; ``machine_start`` still has its greeting to play.
    """
    if answered_by == AnsweredBy.HUMAN:
        return AnswerHint(Answerer.HUMAN)
    if answered_by == AnsweredBy.MACHINE:
        return AnswerHint(Answerer.VOICEMAIL, greeting_ended=(detail or "").startswith("machine_end"))
    return None


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
            entered = await apply_call_event(session, call, event, self.clock())
        if entered == CallStatus.QUEUED:
            self.on_new_calls()
        return entered

    async def end_leg(self, provider_call_id: str) -> None:
        """Stop a provider call that is still ringing (after a cancel); an unknown or ended one is fine."""
        try:
            await self.provider.cancel(provider_call_id)
        except TelephonyError as exc:
            log.warning("could not cancel the provider call", provider_call_id=provider_call_id, error=str(exc))

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
        token = stream_token_from_parameters(start.custom_parameters)
        prepared = await self._claim_stream(call_id, start.provider_call_id, token)
        if prepared is None:
            log.warning("media stream refused: bad or reused token", call_id=call_id)
            return False
        inbox = AudioInbox()
        stream = TwilioMediaStream(send, self._tee(receive, inbox), start.stream_id)

        async def pump() -> None:
            try:
                await stream.pump()
            finally:
                inbox.close()

        pumping = asyncio.ensure_future(pump())
        outcome: AgentOutcome | None = None
        try:
            if self.voice_agent is not None:
                zone = ZoneInfo(prepared.time_zone)
                script = CallScript(
                    prepared.definition, prepared.first_message, prepared.voicemail_message, prepared.hint
                )
                outcome = await self.voice_agent.run(stream, inbox, script, lambda: self.clock().astimezone(zone))
            else:
                outcome = await MinimalAgent(self.speaker).run(stream, prepared.first_message)
        finally:
            if not pumping.done():
                pumping.cancel()
            await asyncio.gather(pumping, return_exceptions=True)
            await self._store_outcome(call_id, outcome)  # also when the agent failed: it releases the call's end
        if not stream.closed.is_set():
            await self.provider.hang_up(start.provider_call_id)
        return True

    @staticmethod
    def _tee(receive: ReceiveText, inbox: AudioInbox) -> ReceiveText:
        """A ``receive`` that also hands each inbound audio frame (decoded to PCM) to the agent's inbox."""

        async def receive_and_copy() -> str:
            text = await receive()
            if '"media"' in text:
                message = json.loads(text)
                if message.get("event") == "media":
                    payload = message.get("media", {}).get("payload") or ""
                    inbox.put(ulaw_decode(base64.b64decode(payload)))
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
                voicemail_message=render(definition.voicemail_message or "", values),
                hint=_answer_hint(attempt.get("answeredBy"), attempt.get("answeredByDetail")),
            )

    async def _store_outcome(self, call_id: str, outcome: AgentOutcome | None) -> None:
        """Store the transcript and what the agent found out; act on do-not-call and call-later requests.

        Then the call's end, if the provider reported it meanwhile, is applied, so the final webhook carries all of
        it. ``outcome`` is None when the agent failed: only the end is applied.
        """
        redialled = False
        async with self.db.transaction() as session:
            call = await lock_call(session, call_id)
            if call is None:
                return
            if outcome is None:
                log.error("the agent failed; the call keeps what it had", call_id=call_id)
                await finish_after_media(session, call, self.clock())
                return
            log.info("agent outcome", call_id=call_id, status_code=outcome.status_code, turns=len(outcome.turns))
            # a retried call (voicemail) already has the turns of its earlier attempts: number on after them
            earlier = await session.scalar(
                select(func.count()).select_from(TranscriptTurn).where(TranscriptTurn.phone_call_id == call.id)
            )
            for seq, turn in enumerate(outcome.turns, start=earlier or 0):
                session.add(
                    TranscriptTurn(
                        team_id=call.team_id,
                        phone_call_id=call.id,
                        seq=seq,
                        role=turn.role,
                        text=turn.text,
                        started_at=turn.started_at,
                        ended_at=turn.ended_at,
                    )
                )
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
            if await finish_after_media(session, call, self.clock()) == CallStatus.QUEUED:
                redialled = True  # the retry policy sends a voicemail attempt round again
        if redialled:
            self.on_new_calls()


def _iso(moment: datetime) -> str:
    """ISO-8601 UTC with milliseconds and ``Z``, as the API writes timestamps."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
