"""The dispatcher: turns due queued calls into dials, under leases, limits, calling windows and the DNC list.

One step (:meth:`Dispatcher.step`) works on a batch of due calls in three moves:

1. in one transaction, claim the batch (``FOR UPDATE SKIP LOCKED`` on PostgreSQL) and decide each call:
   do-not-call (it ends ``cancelled``/``DO_NOT_CALL``), outside its calling window (it waits for the next
   opening), over a concurrency limit (it waits a little), or dial: the attempt is recorded as ``dialing``
   *before* the provider is asked, with a reconciliation deadline;
2. place the dials with the provider, concurrently, outside any transaction;
3. in one transaction, record each provider call id (or error).

Never dial twice: if the worker dies between 1 and 3, the call stays untouchable until the deadline; a status
callback arriving meanwhile adopts the dial (the call id is in the callback URL). A call still ``dialing`` with
no provider id after the deadline reached no provider, and is dialled again.
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from opencaller.domain.calling_window import next_opening
from opencaller.domain.clock import utc_now
from opencaller.domain.phone import time_zones_for
from opencaller.domain.status import CallStatus, StatusCode
from opencaller.domain.templates import TemplateDefinition
from opencaller.engine.attempts import DIALING, last_attempt, start_attempt, update_attempt
from opencaller.engine.machine_detection import wants_machine_detection
from opencaller.engine.reconcile import reconcile_stale_calls
from opencaller.engine.templates import load_definition
from opencaller.engine.urls import CallbackUrls
from opencaller.engine.webhook_events import record_status_event
from opencaller.store.claims import active_call_counts, claim_due_calls
from opencaller.store.db import Database
from opencaller.store.models import DoNotCallEntry, PhoneCall, PhoneNumber, Team
from opencaller.telephony.base import PlaceCallRequest, TelephonyProvider
from opencaller.telephony.errors import OutcomeUnknownError, TelephonyError

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class DispatcherOptions:
    """Tuning knobs; the defaults suit one worker on a laptop and several on PostgreSQL."""

    batch_size: int = 100
    reconcile_after_seconds: float = 120.0
    ring_timeout_seconds: int = 30
    limit_backoff_seconds: float = 2.0
    error_backoff_seconds: float = 30.0
    max_error_retries: int = 5
    idle_poll_seconds: float = 0.5
    reconcile_every_seconds: float = 30.0
    dial_concurrency: int = 20


def default_worker_id() -> str:
    """A worker id that is unique per process and readable in logs."""
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass
class _Batch:
    """What one step needs to know about the teams, numbers and templates of its calls, loaded once."""

    teams: dict[str, Team]
    numbers: dict[str, PhoneNumber]
    blocked: set[tuple[str, str]]
    by_team: dict[str, int]
    by_number: dict[str, int]


class Dispatcher:
    """Claims due calls and dials them; run :meth:`run` as an owned task, or :meth:`step` from tests."""

    def __init__(
        self,
        db: Database,
        provider: TelephonyProvider,
        urls: CallbackUrls,
        *,
        options: DispatcherOptions | None = None,
        worker_id: str | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.db = db
        self.provider = provider
        self.urls = urls
        self.options = options or DispatcherOptions()
        self.worker_id = worker_id or default_worker_id()
        self.clock = clock
        self.wake = asyncio.Event()
        self._definitions: dict[tuple[str, int], TemplateDefinition] = {}  # versions are immutable

    async def run(self, stop: asyncio.Event) -> None:
        """Step until ``stop`` is set; wait only while nothing is due (a new call sets :attr:`wake`)."""
        log.info("dispatcher started", worker_id=self.worker_id)
        next_sweep = self.clock()
        while not stop.is_set():
            try:
                handled = await self.step()
                if self.clock() >= next_sweep:
                    next_sweep = self.clock() + timedelta(seconds=self.options.reconcile_every_seconds)
                    await self.reconcile()
            except Exception:
                log.exception("dispatcher step failed")
                handled = 0
            if handled == 0:
                self.wake.clear()
                waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self.wake.wait())]
                try:
                    await asyncio.wait(waiters, timeout=self.options.idle_poll_seconds, return_when="FIRST_COMPLETED")
                finally:
                    for waiter in waiters:
                        waiter.cancel()
                    await asyncio.gather(*waiters, return_exceptions=True)
        log.info("dispatcher stopped", worker_id=self.worker_id)

    async def reconcile(self) -> int:
        """Look up calls whose callbacks seem lost (see :mod:`opencaller.engine.reconcile`)."""
        return await reconcile_stale_calls(
            self.db, self.provider, self.clock(), ring_timeout_seconds=self.options.ring_timeout_seconds
        )

    async def step(self) -> int:
        """Claim, decide, dial and record one batch; return how many calls were claimed."""
        now = self.clock()
        async with self.db.transaction() as session:
            calls = await claim_due_calls(
                session,
                now=now,
                owner=self.worker_id,
                lease_until=now + timedelta(seconds=self.options.reconcile_after_seconds),
                limit=self.options.batch_size,
            )
            dials = await self._decide_all(session, calls, now) if calls else []
        if dials:
            slots = asyncio.Semaphore(self.options.dial_concurrency)

            async def dial(call_id: str, request: PlaceCallRequest) -> tuple[str, str | TelephonyError | None]:
                async with slots:
                    try:
                        return call_id, (await self.provider.place_call(request)).provider_call_id
                    except OutcomeUnknownError:
                        log.warning("dial outcome unknown; waiting for a callback", call_id=call_id)
                        return call_id, None
                    except TelephonyError as exc:
                        return call_id, exc

            results = await asyncio.gather(*(dial(call_id, request) for call_id, request in dials))
            await self._record(results)
        return len(calls)

    async def _decide_all(
        self, session: AsyncSession, calls: list[PhoneCall], now: datetime
    ) -> list[tuple[str, PlaceCallRequest]]:
        batch = await self._load_batch(session, calls)
        dials = []
        for call in calls:
            request = await self._decide(session, call, batch, now)
            if request is not None:
                dials.append((call.id, request))
        return dials

    async def _load_batch(self, session: AsyncSession, calls: list[PhoneCall]) -> _Batch:
        team_ids = {c.team_id for c in calls}
        teams = {t.id: t for t in await session.scalars(select(Team).where(Team.id.in_(team_ids)))}
        number_ids = {c.phone_number_id for c in calls if c.phone_number_id}
        numbers = {n.id: n for n in await session.scalars(select(PhoneNumber).where(PhoneNumber.id.in_(number_ids)))}
        paced = [n.id for n in numbers.values() if n.calls_per_second]
        if paced:  # lock paced numbers: workers must share one dial schedule per number
            locked = select(PhoneNumber).where(PhoneNumber.id.in_(paced)).with_for_update()
            numbers.update({n.id: n for n in await session.scalars(locked.execution_options(populate_existing=True))})
        blocked_rows = await session.execute(
            select(DoNotCallEntry.team_id, DoNotCallEntry.number).where(
                DoNotCallEntry.team_id.in_(team_ids),
                DoNotCallEntry.number.in_({c.to_phone_number for c in calls}),
            )
        )
        by_team, by_number = await active_call_counts(session, team_ids)
        return _Batch(teams, numbers, {(t, n) for t, n in blocked_rows.all()}, by_team, by_number)

    async def _definition(self, session: AsyncSession, call: PhoneCall) -> TemplateDefinition:
        key = (call.call_template_id, call.template_version)
        if key not in self._definitions:
            self._definitions[key] = await load_definition(session, *key)
        return self._definitions[key]

    async def _decide(
        self, session: AsyncSession, call: PhoneCall, batch: _Batch, now: datetime
    ) -> PlaceCallRequest | None:
        """Settle a claimed call now, or record its dial attempt and return the request to send."""
        latest = last_attempt(call)
        if latest is not None and latest.get("status") == DIALING and latest.get("providerCallId") is None:
            update_attempt(call, len(call.attempts) - 1, status="abandoned")
            log.warning("a dial never reached the provider; dialling again", call_id=call.id)
        if (call.team_id, call.to_phone_number) in batch.blocked:
            call.status = CallStatus.CANCELLED.value
            call.status_extra_info = {"statusCode": StatusCode.DO_NOT_CALL.value}
            self._settle(call, now, next_attempt=None)
            await record_status_event(session, call, now=now)
            return None
        definition = await self._definition(session, call)
        team = batch.teams.get(call.team_id)
        zones = [team.time_zone] if team is not None and team.time_zone else time_zones_for(call.to_phone_number)
        opening = next_opening(now, definition.calling_window, zones)
        if opening is None or opening > now:
            return self._settle(call, now, next_attempt=opening or now + timedelta(days=1))
        if not self._has_capacity(call, team, batch):
            return self._settle(call, now, next_attempt=now + timedelta(seconds=self.options.limit_backoff_seconds))
        slot = self._dial_slot(batch.numbers.get(call.phone_number_id or ""), now)
        if slot > now:
            return self._settle(call, now, next_attempt=slot)
        batch.by_team[call.team_id] = batch.by_team.get(call.team_id, 0) + 1
        if call.phone_number_id:
            batch.by_number[call.phone_number_id] = batch.by_number.get(call.phone_number_id, 0) + 1
        start_attempt(call, now)
        call.call_triggered_at = call.call_triggered_at or now
        call.next_attempt_at = now + timedelta(seconds=self.options.reconcile_after_seconds)
        call.updated_at = now
        return PlaceCallRequest(
            to_number=call.to_phone_number,
            from_number=call.from_phone_number or "",
            answer_url=self.urls.answer(call.id),
            status_callback_url=self.urls.status(call.id),
            timeout_seconds=self.options.ring_timeout_seconds,
            # no provider recording: the media session records both sides itself (one copy, on our side)
            max_duration_seconds=definition.max_duration_seconds,
            # answering-machine detection lets a voicemail message start right after the beep; it is asynchronous
            # (the call connects at once and the verdict comes on its own callback), so a human hears no silence
            machine_detection=wants_machine_detection(definition),
            machine_detection_callback_url=self.urls.machine_detection(call.id),
            idempotency_key=f"{call.id}-{len(call.attempts)}",
        )

    @staticmethod
    def _has_capacity(call: PhoneCall, team: Team | None, batch: _Batch) -> bool:
        if team is not None and batch.by_team.get(call.team_id, 0) >= team.concurrency_limit:
            return False
        number = batch.numbers.get(call.phone_number_id or "")
        limit = number.concurrency_limit if number is not None else None
        return limit is None or batch.by_number.get(number.id if number else "", 0) < limit

    @staticmethod
    def _dial_slot(number: PhoneNumber | None, now: datetime) -> datetime:
        """When this dial may start under the number's calls-per-second pace; reserves the slot if it is now."""
        if number is None or not number.calls_per_second:
            return now
        slot = max(now, number.next_dial_at or now)
        if slot == now:
            number.next_dial_at = now + timedelta(seconds=1 / number.calls_per_second)
        return slot

    @staticmethod
    def _settle(call: PhoneCall, now: datetime, *, next_attempt: datetime | None) -> None:
        call.next_attempt_at = next_attempt
        _release(call, now)
        return None

    async def _record(self, results: list[tuple[str, str | TelephonyError | None]]) -> None:
        """Write each dial's provider id or error, locking the rows (callbacks may be writing them too)."""
        outcomes = {call_id: outcome for call_id, outcome in results if outcome is not None}
        if not outcomes:
            return
        now = self.clock()
        async with self.db.transaction() as session:
            query = (
                select(PhoneCall)
                .where(PhoneCall.id.in_(outcomes))
                .with_for_update()
                .execution_options(populate_existing=True)
            )
            for call in await session.scalars(query):
                outcome = outcomes[call.id]
                if isinstance(outcome, TelephonyError):
                    if self._failed(call, outcome, now):
                        await record_status_event(session, call, now=now)
                else:
                    self._dialled(call, outcome, now)
        for call_id, outcome in outcomes.items():
            if isinstance(outcome, TelephonyError):
                log.warning("dial failed", call_id=call_id, error=str(outcome), retryable=outcome.retryable)
            else:
                log.info("dialled", call_id=call_id, provider_call_id=outcome)

    @staticmethod
    def _dialled(call: PhoneCall, provider_call_id: str, now: datetime) -> None:
        index = len(call.attempts) - 1
        if call.attempts and call.attempts[index].get("providerCallId") in (None, provider_call_id):
            update_attempt(call, index, providerCallId=provider_call_id)
            if call.provider_call_id is None and call.status == CallStatus.QUEUED.value:
                call.provider_call_id = provider_call_id
                call.next_attempt_at = None
        _release(call, now)

    def _failed(self, call: PhoneCall, error: TelephonyError, now: datetime) -> bool:
        """Record a refused dial; True when the call's status became final (``failed``)."""
        update_attempt(call, len(call.attempts) - 1, status="error")
        errors = sum(1 for entry in call.attempts if entry.get("status") == "error")
        final = not (error.retryable and errors < self.options.max_error_retries)
        if final:
            call.status = CallStatus.FAILED.value
            call.status_extra_info = {"statusCode": StatusCode.PROVIDER_ERROR.value, "message": str(error)}
            call.next_attempt_at = None
            call.call_ended_at = now
        else:
            call.next_attempt_at = now + timedelta(seconds=self.options.error_backoff_seconds * errors)
        _release(call, now)
        return final


def _release(call: PhoneCall, now: datetime) -> None:
    call.lease_owner = None
    call.lease_expires_at = None
    call.updated_at = now
