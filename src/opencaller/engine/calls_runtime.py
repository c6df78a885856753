"""Live calls: provider callbacks, the answer document, and the media session of an answered call.

This is where the telephony adapter, the agent and the store meet for one call. Every callback is verified
against the public URL before it changes anything.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import structlog

from opencaller.agent.channel import AgentOutcome
from opencaller.agent.minimal import MinimalAgent, Speaker
from opencaller.domain.clock import utc_now
from opencaller.domain.ids import is_valid_id
from opencaller.domain.status import CallStatus
from opencaller.domain.templates import render
from opencaller.engine.attempts import attempt_index, update_attempt
from opencaller.engine.call_events import apply_call_event
from opencaller.engine.templates import load_definition
from opencaller.engine.urls import CallbackUrls
from opencaller.errors import Forbidden, NotFound
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
from opencaller.telephony.errors import TelephonyError
from opencaller.telephony.twilio.media import ReceiveText, SendText, TwilioMediaStream, read_until_start

log = structlog.get_logger(__name__)


@dataclass
class CallRuntime:
    """The live-call machinery of one node: provider, public URLs, the agent's voice, and a dispatcher wake-up."""

    db: Database
    provider: TelephonyProvider
    urls: CallbackUrls
    speaker: Speaker
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
        provider_call_id = self.provider.parse_status_callback(request.params).provider_call_id
        token = mint_stream_token()
        async with self.db.transaction() as session:
            call = await lock_call(session, call_id)
            if call is None:
                raise NotFound("unknown call")
            index = attempt_index(call, provider_call_id)
            if index is None:
                raise NotFound("unknown call leg")
            update_attempt(call, index, streamTokenDigest=stream_token_digest(token))
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
        first_message = prepared
        stream = TwilioMediaStream(send, receive, start.stream_id)
        pump = asyncio.ensure_future(stream.pump())
        try:
            outcome = await MinimalAgent(self.speaker).run(stream, first_message)
        finally:
            if not pump.done():
                pump.cancel()
            await asyncio.gather(pump, return_exceptions=True)
        await self._store_outcome(call_id, outcome)
        if not stream.closed.is_set():
            await self.provider.hang_up(start.provider_call_id)
        return True

    async def _claim_stream(self, call_id: str, provider_call_id: str, token: str | None) -> str | None:
        """Consume the stream token (once) and return the rendered first message."""
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
            update_attempt(call, index, streamTokenDigest=None)
            definition = await load_definition(session, call.call_template_id, call.template_version)
            values = definition.variable_values({v["key"]: v["value"] for v in call.prompt_variable_values})
            values.update(
                nameOfHuman=call.name_of_human,
                toPhoneNumber=call.to_phone_number,
                toEmailAddress=call.to_email_address or "",
                fromPhoneNumber=call.from_phone_number or "",
            )
            return render(definition.first_message, values)

    async def _store_outcome(self, call_id: str, outcome: AgentOutcome) -> None:
        async with self.db.transaction() as session:
            call = await lock_call(session, call_id)
            if call is None:
                return
            for seq, turn in enumerate(outcome.turns):
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
            if call.status_extra_info is None:
                call.status_extra_info = {"statusCode": outcome.status_code}
