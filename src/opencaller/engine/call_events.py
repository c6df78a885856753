"""Provider status callbacks → the call's state: forward-only, idempotent, and retry-aware.

Callbacks arrive late, twice and out of order. Each one updates the attempt it belongs to; only callbacks of the
call's current attempt move the call itself, and only forward (:func:`~opencaller.domain.status.can_transition`).
A busy, unanswered or failed attempt that the template's retry policy covers puts the call back in the queue
instead of ending it; so does an answered attempt that reached voicemail (the agent stored
``VOICEMAIL_DETECTED``) when the policy retries on ``"voicemail"``.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from opencaller.domain.clock import format_timestamp
from opencaller.domain.retry import retry_delay
from opencaller.domain.status import CallStatus, StatusCode, can_transition
from opencaller.engine.attempts import DIALING, attempt_index, last_attempt, update_attempt
from opencaller.engine.recording_links import RecordingLinks
from opencaller.engine.templates import load_definition
from opencaller.engine.webhook_events import record_status_event
from opencaller.store.models import PhoneCall
from opencaller.telephony.base import CallEvent

log = structlog.get_logger(__name__)

_ATTEMPT_RANK = {DIALING: 0, "queued": 0, "ringing": 1, "inProgress": 2}
_FINAL_RANK = 3  # any other attempt status is an end state ("busy", "completed", "error", "abandoned", ...)


async def apply_call_event(
    session: AsyncSession,
    call: PhoneCall,
    event: CallEvent,
    now: datetime,
    *,
    wait_for_media: bool = True,
    links: RecordingLinks | None = None,
) -> CallStatus | None:
    """Apply one status callback; return the status the call entered, if it changed.

    A retried call re-enters ``queued`` (returned as such) with ``next_attempt_at`` set by the retry policy.
    Every other change queues its webhook events in the same transaction.

    While the call's media session is still storing what the agent found out (the callee hung up first), the
    end is parked on the attempt and applied by :func:`finish_after_media`, so the final status and its webhook
    come with the complete call. ``wait_for_media=False`` (reconciliation) applies it at once. ``links`` signs
    the recording link the final webhook carries.
    """
    index = attempt_index(call, event.provider_call_id)
    if index is None:
        index = _adopt(call, event.provider_call_id)
        if index is None:
            log.warning(
                "callback for an unknown provider call", call_id=call.id, provider_call_id=event.provider_call_id
            )
            return None
    _record_on_attempt(call, index, event, now)
    if index != len(call.attempts) - 1 or call.provider_call_id != event.provider_call_id:
        return None  # a late callback of an earlier attempt: history only
    current = CallStatus(call.status)
    new = event.status
    if new == CallStatus.QUEUED or not can_transition(current, new):
        return None
    if new == CallStatus.RINGING:
        call.status = new.value
    elif new == CallStatus.IN_PROGRESS:
        call.status = new.value
        call.call_started_at = event.timestamp or now
    elif wait_for_media and call.attempts[index].get("mediaOpen"):
        update_attempt(call, index, pendingEnd={"status": new.value, "duration": event.duration_seconds})
        return None
    else:
        entered = await _finish(session, call, new, event, now)
        if entered != CallStatus.QUEUED:  # a retry is not news: the call is still on its way
            recording_url = links.url(call.id) if links is not None and call.recording_path else None
            await record_status_event(session, call, now=now, recording_url=recording_url)
        return entered
    call.updated_at = now
    await record_status_event(session, call, now=now)
    return new


def _adopt(call: PhoneCall, provider_call_id: str) -> int | None:
    """A callback for a dial whose acknowledgement was never recorded (the dialling worker died): adopt it."""
    latest = last_attempt(call)
    if latest is None or latest.get("providerCallId") is not None or latest.get("status") != DIALING:
        return None
    update_attempt(call, len(call.attempts) - 1, providerCallId=provider_call_id)
    call.provider_call_id = provider_call_id
    call.next_attempt_at = None
    return len(call.attempts) - 1


def _record_on_attempt(call: PhoneCall, index: int, event: CallEvent, now: datetime) -> None:
    entry = call.attempts[index]
    changes: dict[str, object] = {}
    previous = str(entry.get("status"))
    if event.status.is_final:
        if previous not in {s.value for s in CallStatus if s.is_final}:
            changes.update(status=event.status.value, endedAt=format_timestamp(event.timestamp or now))
    elif _ATTEMPT_RANK.get(event.status.value, 0) > _ATTEMPT_RANK.get(previous, _FINAL_RANK):
        changes["status"] = event.status.value
    if event.sip_response_code is not None and entry.get("sipResponseCode") is None:
        changes["sipResponseCode"] = event.sip_response_code
    if event.answered_by is not None and entry.get("answeredBy") is None:
        changes["answeredBy"] = event.answered_by.value
    if changes:
        update_attempt(call, index, **changes)


async def _finish(
    session: AsyncSession, call: PhoneCall, new: CallStatus, event: CallEvent, now: datetime
) -> CallStatus:
    definition = await load_definition(session, call.call_template_id, call.template_version)
    voicemail = new == CallStatus.COMPLETED and (call.status_extra_info or {}).get("statusCode") == (
        StatusCode.VOICEMAIL_DETECTED.value
    )
    delay = retry_delay(definition.retry_policy, "voicemail" if voicemail else new, len(call.attempts))
    call.updated_at = now
    if delay is not None:
        if voicemail:  # the next attempt starts afresh; this one keeps its outcome in the attempt history
            update_attempt(call, len(call.attempts) - 1, statusCode=StatusCode.VOICEMAIL_DETECTED.value)
            call.status_extra_info = None
        call.status = CallStatus.QUEUED.value
        call.provider_call_id = None
        call.next_attempt_at = now + max(delay, timedelta(0))
        log.info("attempt will be retried", call_id=call.id, outcome=new.value, retry_at=call.next_attempt_at)
        return CallStatus.QUEUED
    call.status = new.value
    call.call_ended_at = event.timestamp or now
    call.next_attempt_at = None
    if call.call_started_at is not None:
        measured = int((call.call_ended_at - call.call_started_at).total_seconds())
        call.call_duration = event.duration_seconds if event.duration_seconds is not None else max(measured, 0)
    if new == CallStatus.COMPLETED and call.status_extra_info is None:
        call.status_extra_info = {"statusCode": StatusCode.HUNG_UP_BY_HUMAN.value}
    elif new == CallStatus.CANCELLED and call.status_extra_info is None:
        call.status_extra_info = {"statusCode": StatusCode.CANCELLED_BY_USER.value}
    return new


async def finish_after_media(
    session: AsyncSession, call: PhoneCall, now: datetime, *, links: RecordingLinks | None = None
) -> CallStatus | None:
    """Close the media session's hold on the current attempt and apply an end that arrived meanwhile."""
    if not call.attempts:
        return None
    index = len(call.attempts) - 1
    pending = call.attempts[index].get("pendingEnd")
    update_attempt(call, index, mediaOpen=False, pendingEnd=None)
    if not pending or call.provider_call_id is None:
        return None
    event = CallEvent(
        provider_call_id=call.provider_call_id,
        status=CallStatus(pending["status"]),
        provider_status="held",
        duration_seconds=pending.get("duration"),
    )
    return await apply_call_event(session, call, event, now, wait_for_media=False, links=links)
