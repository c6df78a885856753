"""The webhook delivery worker: sends what :mod:`opencaller.engine.webhook_events` put in the outbox.

It claims due deliveries, signs each with its subscription's secret, sends it with
:func:`opencaller.webhooks.sender.send`, and records the outcome: 2xx delivered; any other answer, a timeout or a
connection error retried with exponential backoff and full jitter until the max age; 410 disables a team
subscription; an unsafe target (after DNS) fails at once.

Order: the deliveries of one call to one target form a stream, and only the oldest unsettled delivery of a stream
is ever claimable, so a receiver sees a call's events in the order they happened even across retries and workers.

Claims: on PostgreSQL, ``FOR UPDATE SKIP LOCKED`` plus a lease (``lease_owner``, ``lease_expires_at``) lets any
number of workers share the outbox without sending one delivery twice at once; a worker that dies leaves leases
that expire, and another worker takes over (the receiver may then see that delivery again, with the same
``webhook-id``). SQLite runs a single worker.
"""

from __future__ import annotations

import asyncio
import os
import random
import socket
import ssl
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

import httpx
import structlog
from sqlalchemy import and_, exists, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from opencaller.domain.clock import Clock, utc_now
from opencaller.engine.credentials import CredentialCipher
from opencaller.engine.webhook_events import (
    DELIVERED,
    DISABLED,
    FAILED,
    PENDING,
    add_commit_listener,
    call_webhook_secret,
)
from opencaller.settings import Settings
from opencaller.store.db import Database
from opencaller.store.models import PhoneCall, WebhookDelivery, WebhookSubscription
from opencaller.webhooks.backoff import BackoffPolicy, next_attempt_at
from opencaller.webhooks.sender import DeliveryOutcome, DeliveryResult, send
from opencaller.webhooks.signing import HEADER_ID, HEADER_TIMESTAMP, build_headers
from opencaller.webhooks.url_safety import Resolver

log = structlog.get_logger(__name__)

GONE_REASON = "the receiver answered 410 Gone"


class Sender(Protocol):
    """What sends one attempt: :func:`opencaller.webhooks.sender.send` or a stand-in with its signature."""

    def __call__(
        self,
        url: str,
        headers: Mapping[str, str],
        body: bytes,
        *,
        timeout: float,
        allow_private: bool,
        resolver: Resolver | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> Awaitable[DeliveryResult]:
        """Send and classify one attempt."""
        ...


@dataclass(frozen=True)
class WorkerConfig:
    """How a worker behaves; :meth:`from_settings` is what ``serve`` uses."""

    policy: BackoffPolicy = field(default_factory=BackoffPolicy)
    timeout: float = 10.0
    allow_private: bool = False
    concurrency: int = 16
    poll_interval: float = 1.0

    @property
    def lease(self) -> timedelta:
        """How long a claim holds: long enough for one attempt and its bookkeeping, short after a crash."""
        return timedelta(seconds=self.timeout * 2 + 5)

    @classmethod
    def from_settings(cls, settings: Settings) -> WorkerConfig:
        """The configuration the settings describe."""
        return cls(
            policy=BackoffPolicy(
                base=settings.webhook_backoff_base_seconds,
                cap=max(settings.webhook_backoff_cap_seconds, settings.webhook_backoff_base_seconds),
                max_age=timedelta(hours=settings.webhook_max_age_hours),
            ),
            timeout=settings.webhook_timeout_seconds,
            allow_private=settings.webhooks_allow_private,
            concurrency=settings.webhook_worker_concurrency,
            poll_interval=settings.webhook_poll_seconds,
        )


@dataclass(frozen=True)
class _Job:
    """One claimed delivery with what sending it needs (the secret only in memory)."""

    id: str
    url: str
    body: bytes
    message_id: str
    secret: str | None
    attempts: int
    retry_window_started_at: datetime


class WebhookDeliveryWorker:
    """Owns one delivery loop: :meth:`start` launches it, :meth:`stop` cancels and awaits it.

    ``clock`` is the time the schedule (due times, leases, max age, the signed timestamp) is read from; ``sender``,
    ``resolver`` and ``rng`` replace the network, DNS and jitter in tests.
    """

    def __init__(
        self,
        db: Database,
        cipher: CredentialCipher,
        config: WorkerConfig,
        *,
        clock: Clock = utc_now,
        sender: Sender = send,
        resolver: Resolver | None = None,
        rng: random.Random | None = None,
        name: str | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        """Prepare a worker; nothing runs until :meth:`start`. ``ssl_context`` defaults to httpx's trust store,
        built once per worker (building one takes tens of milliseconds, too slow to repeat per delivery)."""
        self._ssl_context = ssl_context
        self._db = db
        self._cipher = cipher
        self._config = config
        self._clock = clock
        self._send = sender
        self._resolver = resolver
        self._rng = rng
        self.name = name or f"{socket.gethostname()[:40]}:{os.getpid()}:{id(self) & 0xFFFF:x}"
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._in_flight: set[str] = set()
        self._results: list[tuple[_Job, DeliveryResult]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._unlisten: Callable[[], None] | None = None
        self._db_step: asyncio.Future[list[_Job]] | None = None

    @property
    def running(self) -> bool:
        """Whether the loop is running."""
        return self._task is not None and not self._task.done()

    async def start(self) -> None:
        """Start the delivery loop on the running event loop."""
        if self.running:
            return
        self._loop = asyncio.get_running_loop()
        self._db_step = None
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._unlisten = add_commit_listener(self._wake_threadsafe)
        self._task = asyncio.get_running_loop().create_task(self._run(), name=f"webhook-worker {self.name}")

    async def stop(self, grace: float | None = None) -> None:
        """Stop claiming, let in-flight sends finish for up to ``grace`` seconds (default: one attempt's timeout),
        then cancel what is left, wait for it, and hand its claims back so a restart can send them at once."""
        if self._unlisten is not None:
            self._unlisten()
            self._unlisten = None
        task, self._task = self._task, None
        if task is None:
            return
        self._stopping.set()
        self._wake.set()
        try:
            async with asyncio.timeout(self._config.timeout + 1 if grace is None else grace):
                await asyncio.shield(task)
        except TimeoutError:
            task.cancel()
            await asyncio.wait([task])
        except asyncio.CancelledError:
            task.cancel()
            await asyncio.wait([task])
            raise
        except Exception:  # noqa: S110 - the task's own exception, reported just below
            pass
        if task.done() and not task.cancelled() and task.exception() is not None:
            log.error("webhook.worker_crashed", worker=self.name, error=repr(task.exception()))
        if self._db_step is not None:
            await asyncio.gather(self._db_step, return_exceptions=True)
            self._db_step = None
        try:
            await self._step(0)  # outcomes of sends that finished before the cancellation
        except Exception:
            log.exception("webhook.record_failed", worker=self.name)
        await self._release_claims()

    def wake(self) -> None:
        """Look for due deliveries now rather than at the next poll (call it on the worker's event loop)."""
        self._wake.set()

    def _wake_threadsafe(self) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._wake.set)

    async def run_once(self) -> int:
        """Claim what is due now, send it, and record every outcome before returning how many were attempted.

        For tests and tools that drive the worker step by step instead of running the loop.
        """
        jobs = await self._step(self._config.concurrency)
        async with asyncio.TaskGroup() as group:
            for job in jobs:
                group.create_task(self._deliver(job))
        await self._step(0)
        return len(jobs)

    async def _run(self) -> None:
        async with asyncio.TaskGroup() as group:
            while not self._stopping.is_set():
                self._wake.clear()
                free = self._config.concurrency - len(self._in_flight)
                try:
                    # shielded: cancelling a transaction mid-statement can leave an SQLite connection holding the
                    # write lock; stop() waits for this step instead, then releases what it claimed
                    self._db_step = asyncio.ensure_future(self._step(free))
                    jobs = await asyncio.shield(self._db_step)
                except Exception:
                    log.exception("webhook.step_failed", worker=self.name)
                    jobs = []
                for job in jobs:
                    self._in_flight.add(job.id)
                    group.create_task(self._deliver(job), name=f"webhook-delivery {job.id}")
                try:
                    async with asyncio.timeout(self._config.poll_interval):
                        await self._wake.wait()
                except TimeoutError:
                    pass
        await self._step(0)  # a graceful stop: record what the last sends returned

    async def _step(self, limit: int) -> list[_Job]:
        """One transaction: record the outcomes collected since the last step, then lease up to ``limit`` due
        deliveries. Batching both keeps the database work per delivery small when many are in flight."""
        results, self._results = self._results, []
        if not results and limit <= 0:
            return []
        now = self._clock()
        try:
            async with self._db.transaction() as session:
                if results:
                    await self._record(session, results, now)
                    await session.flush()
                return await self._claim(session, limit, now) if limit > 0 else []
        except BaseException:
            self._results = results + self._results
            raise

    async def _claim(self, session: AsyncSession, limit: int, now: datetime) -> list[_Job]:
        """Lease up to ``limit`` due deliveries, each the oldest unsettled one of its stream."""
        earlier = aliased(WebhookDelivery)
        blocked = exists().where(
            earlier.phone_call_id == WebhookDelivery.phone_call_id,
            earlier.target_key == WebhookDelivery.target_key,
            earlier.status == PENDING,
            earlier.sequence < WebhookDelivery.sequence,
        )
        query = (
            select(WebhookDelivery)
            .where(
                WebhookDelivery.status == PENDING,
                WebhookDelivery.next_attempt_at <= now,
                or_(WebhookDelivery.lease_expires_at.is_(None), WebhookDelivery.lease_expires_at <= now),
                ~blocked,
            )
            .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
            .limit(limit)
        )
        if not self._db.is_sqlite:
            query = query.with_for_update(skip_locked=True, of=WebhookDelivery)
        rows = list((await session.scalars(query)).all())
        if not rows:
            return []
        secrets = await self._secrets(session, rows, now)
        jobs: list[_Job] = []
        for row in rows:
            if row.status != PENDING:
                continue  # settled by _secrets: its subscription is gone or disabled
            row.lease_owner = self.name
            row.lease_expires_at = now + self._config.lease
            jobs.append(
                _Job(
                    id=row.id,
                    url=row.url,
                    body=row.payload.encode("utf-8"),
                    message_id=row.message_id,
                    secret=secrets.get(row.id),
                    attempts=row.attempts,
                    retry_window_started_at=row.retry_window_started_at,
                )
            )
        return jobs

    async def _secrets(self, session: AsyncSession, rows: list[WebhookDelivery], now: datetime) -> dict[str, str]:
        """The signing secret of each row; rows whose team subscription is gone or disabled are settled as
        ``disabled`` here, without being sent."""
        sub_ids = {row.subscription_id for row in rows if row.subscription_id is not None}
        subs = {
            sub.id: sub
            for sub in (
                await session.scalars(select(WebhookSubscription).where(WebhookSubscription.id.in_(sub_ids)))
            ).all()
        }
        call_ids = {row.phone_call_id for row in rows if row.subscription_id is None}
        hooks = {
            call_id: hooks
            for call_id, hooks in (
                await session.execute(
                    select(PhoneCall.id, PhoneCall.phone_call_webhooks).where(PhoneCall.id.in_(call_ids))
                )
            ).all()
        }
        found: dict[str, str] = {}
        for row in rows:
            secret: str | None = None
            sub = None
            if row.subscription_id is not None:
                sub = subs.get(row.subscription_id)
                if sub is None or not sub.enabled:
                    reason = "the subscription was deleted" if sub is None else "the subscription is disabled"
                    _settle(row, DISABLED, now, error=reason)
                    continue
            try:
                if sub is not None:
                    secret = str(self._cipher.decrypt(sub.encrypted_secret)["secret"])
                else:
                    entries = hooks.get(row.phone_call_id) or []
                    index = row.call_webhook_index or 0
                    secret = call_webhook_secret(entries[index], self._cipher) if index < len(entries) else None
            except ValueError:
                # one undecryptable secret must not stall the whole outbox
                _settle(row, FAILED, now, error="the signing secret cannot be decrypted: was the server key changed?")
                continue
            if secret is not None:
                found[row.id] = secret
        return found

    async def _deliver(self, job: _Job) -> None:
        """Send one claimed delivery and queue its outcome for the next step to record; never raises (a crash
        leaves the lease to expire)."""
        try:
            timestamp = int(self._clock().timestamp())
            if job.secret is not None:
                headers = build_headers(job.secret, job.message_id, timestamp, job.body)
            else:
                headers = {
                    "content-type": "application/json",
                    HEADER_ID: job.message_id,
                    HEADER_TIMESTAMP: str(timestamp),
                }
            result = await self._send(
                job.url,
                headers,
                job.body,
                timeout=self._config.timeout,
                allow_private=self._config.allow_private,
                resolver=self._resolver,
                ssl_context=await self._tls(),
            )
            self._results.append((job, result))
        except Exception:
            log.exception("webhook.delivery_crashed", delivery_id=job.id, worker=self.name)
        finally:
            self._in_flight.discard(job.id)
            self._wake.set()

    async def _tls(self) -> ssl.SSLContext:
        """The TLS context every delivery of this worker shares (built off the event loop, once)."""
        if self._ssl_context is None:
            self._ssl_context = await asyncio.to_thread(httpx.create_ssl_context)
        return self._ssl_context

    async def _record(self, session: AsyncSession, results: list[tuple[_Job, DeliveryResult]], now: datetime) -> None:
        """Apply attempt outcomes to their rows (skipping any whose lease another worker has taken over)."""
        query = select(WebhookDelivery).where(WebhookDelivery.id.in_([job.id for job, _ in results]))
        if not self._db.is_sqlite:
            query = query.with_for_update(of=WebhookDelivery)
        rows = {row.id: row for row in (await session.scalars(query)).all()}
        for job, result in results:
            row = rows.get(job.id)
            if row is None or row.lease_owner != self.name or row.status != PENDING:
                continue  # our lease expired and another worker owns the delivery now
            row.attempts += 1
            row.last_status_code = result.status_code
            row.last_latency_ms = result.latency_ms
            row.last_error = result.error
            row.updated_at = now
            if result.outcome is DeliveryOutcome.DELIVERED:
                _settle(row, DELIVERED, now)
                row.delivered_at = now
            elif result.outcome is DeliveryOutcome.GONE:
                await session.flush()
                await _on_gone(session, row, now)
            elif result.outcome is DeliveryOutcome.REFUSED:
                _settle(row, FAILED, now, error=result.error)
            else:
                retry_at = next_attempt_at(
                    row.attempts,
                    first_attempt_at=row.retry_window_started_at,
                    now=now,
                    policy=self._config.policy,
                    rng=self._rng,
                )
                if retry_at is None:
                    _settle(row, FAILED, now, error=f"gave up after {row.attempts} attempts: {result.error}")
                else:
                    row.next_attempt_at = retry_at
                    row.lease_owner = None
                    row.lease_expires_at = None

    async def _release_claims(self) -> None:
        """Hand back this worker's unsettled claims so another worker (or a restart) can send them right away."""
        try:
            async with self._db.transaction() as session:
                await session.execute(
                    update(WebhookDelivery)
                    .where(WebhookDelivery.lease_owner == self.name, WebhookDelivery.status == PENDING)
                    .values(lease_owner=None, lease_expires_at=None)
                )
        except Exception:
            log.exception("webhook.release_failed", worker=self.name)
        self._in_flight.clear()


def _settle(row: WebhookDelivery, status: str, now: datetime, *, error: str | None = None) -> None:
    """Move a delivery to a final status and drop its claim."""
    row.status = status
    row.next_attempt_at = None
    row.lease_owner = None
    row.lease_expires_at = None
    row.updated_at = now
    if error is not None:
        row.last_error = error


async def _on_gone(session: AsyncSession, row: WebhookDelivery, now: datetime) -> None:
    """410: a team subscription is disabled with all its pending deliveries; a per-call target gets nothing more
    for that call."""
    _settle(row, FAILED, now, error=GONE_REASON)
    if row.subscription_id is not None:
        await session.execute(
            update(WebhookSubscription)
            .where(WebhookSubscription.id == row.subscription_id)
            .values(enabled=False, disabled_reason=GONE_REASON, updated_at=now)
        )
        scope = WebhookDelivery.subscription_id == row.subscription_id
    else:
        scope = and_(WebhookDelivery.phone_call_id == row.phone_call_id, WebhookDelivery.target_key == row.target_key)
    await session.execute(
        update(WebhookDelivery)
        .where(scope, WebhookDelivery.status == PENDING, WebhookDelivery.id != row.id)
        .values(status=DISABLED, next_attempt_at=None, lease_owner=None, lease_expires_at=None, updated_at=now)
        .execution_options(synchronize_session=False)
    )
