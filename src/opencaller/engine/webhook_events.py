"""Webhook events into the outbox, in the same transaction as the call's state change.

Whoever changes a call's status calls :func:`record_status_event` with the session that carries the change (the
dispatcher, the provider-event handler, post-call work, :func:`opencaller.engine.calls.cancel_call`). It builds the
payload from the call exactly as ``GET /v1/phoneCalls/{id}`` shows it, matches the team's enabled subscriptions and
the call's own ``phoneCallWebhooks``, and inserts one ``webhook_deliveries`` row per (event, target). Nothing is
sent here: the rows commit (or roll back) with the state change, and :mod:`opencaller.engine.webhook_worker`
delivers them. So an event is never sent for a change that did not happen, and never lost for one that did.

Per-call subscriptions keep their secret encrypted inside the call row (:class:`WebhookIntake` does that when the
call is created); team subscriptions keep theirs in ``webhook_subscriptions``. Workers decrypt at send time.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import event as sa_event
from sqlalchemy import func, insert, inspect, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from opencaller.domain.calls import PhoneCallWebhook
from opencaller.domain.clock import utc_now
from opencaller.domain.ids import new_id
from opencaller.domain.status import CallStatus
from opencaller.engine.credentials import CredentialCipher
from opencaller.engine.views import phone_call_view
from opencaller.errors import ErrorDetail
from opencaller.settings import Settings
from opencaller.store.models import PhoneCall, WebhookDelivery, WebhookSubscription
from opencaller.webhooks.events import WebhookEvent, build_payload, events_for_status, matches, parse_subscribed_event
from opencaller.webhooks.signing import InvalidWebhookSecret, new_message_id, validate_secret
from opencaller.webhooks.url_safety import UnsafeWebhookTarget, check_target_url

PENDING = "pending"
DELIVERED = "delivered"
FAILED = "failed"
DISABLED = "disabled"
DELIVERY_STATUSES = (PENDING, DELIVERED, FAILED, DISABLED)
"""A delivery is ``pending`` until it is ``delivered`` (2xx), ``failed`` (given up, refused or 410 from a
per-call target) or ``disabled`` (its subscription was disabled or deleted before it could be sent)."""

_SESSION_FLAG = "opencaller.webhook_deliveries_queued"
_commit_listeners: set[Callable[[], None]] = set()


def add_commit_listener(listener: Callable[[], None]) -> Callable[[], None]:
    """Call ``listener`` (from the committing thread) whenever a transaction that queued deliveries commits.

    In-process workers use it to start sending at once instead of at their next poll; it returns the function that
    removes the listener. Listeners must be cheap and thread-safe (a ``call_soon_threadsafe``).
    """
    _commit_listeners.add(listener)
    return lambda: _commit_listeners.discard(listener)


def _notify_listeners(_session: Session) -> None:
    for listener in list(_commit_listeners):
        listener()


def wake_workers_on_commit(session: AsyncSession) -> None:
    """Have this process's workers look for due deliveries as soon as ``session``'s transaction commits."""
    if session.info.get(_SESSION_FLAG):
        return
    session.info[_SESSION_FLAG] = True
    sa_event.listen(session.sync_session, "after_commit", _notify_listeners)


@dataclass
class WebhookIntake:
    """Checks and prepares the ``phoneCallWebhooks`` of calls being created: safe URL, known event, usable secret,
    and the secret encrypted before it is stored. Build one per request (it caches encryptions of equal secrets, so
    a batch of 1000 calls sharing one secret encrypts it once)."""

    cipher: CredentialCipher
    allow_private: bool = False
    _encrypted: dict[str, str] = field(default_factory=dict, repr=False)

    @classmethod
    def from_settings(cls, settings: Settings, cipher: CredentialCipher) -> WebhookIntake:
        """The intake the server's settings call for."""
        return cls(cipher=cipher, allow_private=settings.webhooks_allow_private)

    def stored_webhooks(self, hooks: Sequence[PhoneCallWebhook], problems: list[ErrorDetail]) -> list[dict[str, Any]]:
        """The JSON kept in the call row (``url``, ``subscribedEvent``, ``encryptedSecret``); bad entries are
        reported in ``problems`` with field paths relative to the call."""
        stored: list[dict[str, Any]] = []
        for index, hook in enumerate(hooks):
            where = f"phoneCallWebhooks.{index}"
            try:
                check_target_url(hook.url, allow_private=self.allow_private)
            except UnsafeWebhookTarget as exc:
                problems.append(ErrorDetail(f"{where}.url", str(exc)))
            try:
                event = parse_subscribed_event(hook.subscribed_event).value
            except ValueError as exc:
                problems.append(ErrorDetail(f"{where}.subscribedEvent", str(exc)))
                event = hook.subscribed_event
            encrypted = None
            if hook.secret:
                try:
                    validate_secret(hook.secret)
                    encrypted = self._encrypt(hook.secret)
                except InvalidWebhookSecret as exc:
                    problems.append(ErrorDetail(f"{where}.secret", str(exc)))
            stored.append({"url": hook.url, "subscribedEvent": event, "encryptedSecret": encrypted})
        return stored

    def _encrypt(self, secret: str) -> str:
        if secret not in self._encrypted:
            self._encrypted[secret] = self.cipher.encrypt({"secret": secret})
        return self._encrypted[secret]


def call_webhook_secret(hook: dict[str, Any], cipher: CredentialCipher) -> str | None:
    """The plain secret of one stored ``phoneCallWebhooks`` entry, or None when the client gave none."""
    token = hook.get("encryptedSecret")
    if token:
        secret: str = cipher.decrypt(token)["secret"]
        return secret
    plain = hook.get("secret")  # rows written before secrets were encrypted
    return str(plain) if plain else None


@dataclass(frozen=True)
class _Target:
    """Where one event goes: a team subscription or an entry of the call's ``phoneCallWebhooks``."""

    key: str
    url: str
    subscription_id: str | None
    call_webhook_index: int | None


def _targets(call: PhoneCall, event: str, subscriptions: Sequence[WebhookSubscription]) -> list[_Target]:
    found = [
        _Target(f"sub:{sub.id}", sub.url, sub.id, None)
        for sub in subscriptions
        if any(matches(wanted, event) for wanted in sub.events)
    ]
    for index, hook in enumerate(call.phone_call_webhooks or []):
        if matches(str(hook.get("subscribedEvent", "")), event):
            found.append(_Target(f"call:{index}", str(hook["url"]), None, index))
    return found


async def _team_subscriptions(session: AsyncSession, team_id: str) -> list[WebhookSubscription]:
    query = select(WebhookSubscription).where(
        WebhookSubscription.team_id == team_id, WebhookSubscription.enabled.is_(True)
    )
    return list((await session.scalars(query)).all())


def _rows(
    call: PhoneCall,
    events: Sequence[WebhookEvent],
    subscriptions: Sequence[WebhookSubscription],
    first_sequence: int,
    now: datetime,
    view: dict[str, Any] | None,
) -> list[dict[str, Any]]:
    """The outbox rows for ``events`` of ``call``; the payload is built only when some target wants it."""
    rows: list[dict[str, Any]] = []
    for offset, event in enumerate(events):
        targets = _targets(call, event.value, subscriptions)
        if not targets:
            continue
        payload = build_payload(event, view if view is not None else phone_call_view(call)).decode("utf-8")
        for target in targets:
            rows.append(
                {
                    "id": new_id(),
                    "team_id": call.team_id,
                    "phone_call_id": call.id,
                    "subscription_id": target.subscription_id,
                    "call_webhook_index": target.call_webhook_index,
                    "target_key": target.key,
                    "sequence": first_sequence + offset,
                    "event": event.value,
                    "message_id": new_message_id(),
                    "payload": payload,
                    "url": target.url,
                    "status": PENDING,
                    "attempts": 0,
                    "next_attempt_at": now,
                    "retry_window_started_at": now,
                    "created_at": now,
                    "updated_at": now,
                }
            )
    return rows


async def record_status_event(
    session: AsyncSession, call: PhoneCall, *, recording_url: str | None = None, now: datetime | None = None
) -> int:
    """Queue the webhooks for the status ``call`` has just entered; returns how many deliveries were queued.

    Call it in the transaction that changed ``call.status``, after every other change of that step is made on
    ``call`` (for a final status: after the results, transcript and recording are stored), so the payload is the
    complete PhoneCall. It emits the status's event (``phoneCall.inProgress`` …) and, for a final status,
    ``phoneCall.ended`` after it. ``recording_url`` is shown in the payload's ``recordingUrl``. Calling it twice
    for one change queues the events twice: call it once per transition (the transition table already refuses
    repeats).
    """
    events = events_for_status(CallStatus(call.status))
    subscriptions = await _team_subscriptions(session, call.team_id)
    if not subscriptions and not call.phone_call_webhooks:
        return 0
    await session.flush()  # runs onupdate defaults and takes the call's row lock before the sequence is read
    expired = inspect(call).expired_attributes
    if expired:
        await session.refresh(call, list(expired))
    last = await session.scalar(
        select(func.max(WebhookDelivery.sequence)).where(WebhookDelivery.phone_call_id == call.id)
    )
    view = phone_call_view(call, recording_url)
    rows = _rows(call, events, subscriptions, (last or 0) + 1, now or utc_now(), view)
    if rows:
        await session.execute(insert(WebhookDelivery), rows)
        wake_workers_on_commit(session)
    return len(rows)


async def record_created_calls(
    session: AsyncSession, calls: Sequence[PhoneCall], *, now: datetime | None = None
) -> int:
    """Queue ``phoneCall.queued`` for calls just created (one query for the team's subscriptions, one bulk insert;
    nothing at all when no subscription wants the event). Returns how many deliveries were queued."""
    if not calls:
        return 0
    by_team: dict[str, list[WebhookSubscription]] = {}
    moment = now or utc_now()
    rows: list[dict[str, Any]] = []
    for call in calls:
        if call.team_id not in by_team:
            by_team[call.team_id] = await _team_subscriptions(session, call.team_id)
        subscriptions = by_team[call.team_id]
        if not subscriptions and not call.phone_call_webhooks:
            continue
        rows.extend(_rows(call, (WebhookEvent.QUEUED,), subscriptions, 1, moment, None))
    if rows:
        for start in range(0, len(rows), 1000):
            await session.execute(insert(WebhookDelivery), rows[start : start + 1000])
        wake_workers_on_commit(session)
    return len(rows)
