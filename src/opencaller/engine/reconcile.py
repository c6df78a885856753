"""Reconciling calls whose provider callbacks were lost: ask the provider how the call really ended.

A callback can be lost (every API node down when the provider called, a network partition). A call that has
been ``ringing`` or on the line far longer than it could be is looked up with the provider by its call id, and the
provider's answer is applied exactly like a callback, forward-only.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import structlog
from sqlalchemy import and_, or_, select

from opencaller.domain.status import CallStatus
from opencaller.engine.call_events import apply_call_event
from opencaller.store.db import Database
from opencaller.store.models import PhoneCall
from opencaller.telephony.base import CallEvent, TelephonyProvider
from opencaller.telephony.errors import TelephonyError

log = structlog.get_logger(__name__)

STALE_MARGIN = timedelta(minutes=2)
MAX_CALL_SECONDS = 4 * 3600  # the longest maxDurationSeconds a template may set


async def reconcile_stale_calls(
    db: Database, provider: TelephonyProvider, now: datetime, *, ring_timeout_seconds: int, limit: int = 50
) -> int:
    """Look up calls that should have heard from the provider by now; return how many changed."""
    ringing_deadline = now - timedelta(seconds=ring_timeout_seconds) - STALE_MARGIN
    talking_deadline = now - timedelta(seconds=MAX_CALL_SECONDS) - STALE_MARGIN
    async with db.read() as session:
        query = (
            select(PhoneCall.id, PhoneCall.provider_call_id)
            .where(
                PhoneCall.provider_call_id.is_not(None),
                or_(
                    and_(
                        PhoneCall.status.in_((CallStatus.QUEUED.value, CallStatus.RINGING.value)),
                        PhoneCall.updated_at < ringing_deadline,
                    ),
                    and_(PhoneCall.status == CallStatus.IN_PROGRESS.value, PhoneCall.updated_at < talking_deadline),
                ),
            )
            .limit(limit)
        )
        stale = list((await session.execute(query)).tuples())
    changed = 0
    for call_id, provider_call_id in stale:
        assert provider_call_id is not None
        try:
            state = await provider.fetch_call(provider_call_id)
        except TelephonyError as exc:
            log.warning("could not look up a stale call", call_id=call_id, error=str(exc))
            continue
        if state is None:
            event = CallEvent(provider_call_id=provider_call_id, status=CallStatus.FAILED, provider_status="unknown")
        else:
            event = CallEvent(
                provider_call_id=provider_call_id,
                status=state.status,
                provider_status=state.provider_status,
                duration_seconds=state.duration_seconds,
                answered_by=state.answered_by,
                timestamp=state.ended_at,
            )
        async with db.transaction() as session:
            call = await session.get(PhoneCall, call_id, with_for_update=True, populate_existing=True)
            if call is not None and call.provider_call_id == provider_call_id:
                entered = await apply_call_event(session, call, event, now, wait_for_media=False)
                if entered is None:
                    call.updated_at = now  # the provider agrees it is still going: look again later
                else:
                    changed += 1
                    log.info("reconciled a stale call", call_id=call_id, status=entered.value)
    return changed
