"""Team webhook subscriptions (``/v1/webhooks``) and the delivery log (``/v1/webhookDeliveries``).

A subscription's secret is generated when the client sends none, shown once in the answer that created (or
rotated) it, and stored encrypted: it has to stay usable as an HMAC key, so it cannot be hashed. Target URLs are
checked when saved (no private or metadata targets unless the server allows private ones) and again, after DNS,
at every delivery.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from opencaller.domain.clock import format_timestamp, utc_now
from opencaller.domain.ids import is_valid_id
from opencaller.engine.calls import get_call
from opencaller.engine.credentials import CredentialCipher
from opencaller.engine.pagination import Page, paginate
from opencaller.engine.webhook_events import DELIVERY_STATUSES, DISABLED, PENDING, wake_workers_on_commit
from opencaller.errors import ErrorDetail, NotFound, ValidationFailed
from opencaller.store.models import WebhookDelivery, WebhookSubscription
from opencaller.webhooks.events import parse_subscribed_event
from opencaller.webhooks.signing import InvalidWebhookSecret, generate_secret, validate_secret
from opencaller.webhooks.url_safety import UnsafeWebhookTarget, check_target_url


@dataclass(frozen=True)
class SavedSubscription:
    """A subscription and, in the answer that set it, its plain secret (never stored in plain text)."""

    subscription: WebhookSubscription
    secret: str | None = None


def _events(values: list[str], problems: list[ErrorDetail]) -> list[str]:
    events: list[str] = []
    for index, value in enumerate(values):
        try:
            event = parse_subscribed_event(value).value
        except ValueError as exc:
            problems.append(ErrorDetail(f"events.{index}", str(exc)))
            continue
        if event not in events:
            events.append(event)
    if not values:
        problems.append(ErrorDetail("events", "must name at least one event (or '*')"))
    return events


def _check_url(url: str, allow_private: bool, problems: list[ErrorDetail]) -> None:
    try:
        check_target_url(url, allow_private=allow_private)
    except UnsafeWebhookTarget as exc:
        problems.append(ErrorDetail("url", str(exc)))


def _check_secret(secret: str, problems: list[ErrorDetail]) -> None:
    try:
        validate_secret(secret)
    except InvalidWebhookSecret as exc:
        problems.append(ErrorDetail("secret", str(exc)))


async def create_subscription(
    session: AsyncSession,
    team_id: str,
    *,
    url: str,
    events: list[str],
    secret: str | None,
    enabled: bool,
    cipher: CredentialCipher,
    allow_private: bool,
) -> SavedSubscription:
    """Subscribe the team's ``url`` to ``events``; a ``whsec_`` secret is generated when ``secret`` is None."""
    problems: list[ErrorDetail] = []
    _check_url(url, allow_private, problems)
    wanted = _events(events, problems)
    plain = secret if secret is not None else generate_secret()
    _check_secret(plain, problems)
    if problems:
        raise ValidationFailed("invalid webhook subscription", problems)
    sub = WebhookSubscription(
        team_id=team_id,
        url=url,
        events=wanted,
        encrypted_secret=cipher.encrypt({"secret": plain}),
        enabled=enabled,
    )
    session.add(sub)
    await session.flush()
    return SavedSubscription(sub, plain)


async def get_subscription(session: AsyncSession, team_id: str, subscription_id: str) -> WebhookSubscription:
    """One of the team's subscriptions (404 for another team's)."""
    sub = await session.get(WebhookSubscription, subscription_id) if is_valid_id(subscription_id) else None
    if sub is None or sub.team_id != team_id:
        raise NotFound(f"webhook {subscription_id} not found")
    return sub


async def list_subscriptions(
    session: AsyncSession, team_id: str, limit: int | None, cursor: str | None
) -> Page[WebhookSubscription]:
    """The team's subscriptions, newest first."""
    query = select(WebhookSubscription).where(WebhookSubscription.team_id == team_id)
    return await paginate(session, query, WebhookSubscription.id, limit, cursor)


async def update_subscription(
    session: AsyncSession,
    team_id: str,
    subscription_id: str,
    changes: dict[str, Any],
    *,
    cipher: CredentialCipher,
    allow_private: bool,
) -> SavedSubscription:
    """Apply a PATCH (``url``, ``events``, ``secret``, ``enabled``: only the keys present change).

    Re-enabling clears the reason it was disabled; a new secret signs every delivery sent from now on, including
    retries of pending ones.
    """
    sub = await get_subscription(session, team_id, subscription_id)
    problems: list[ErrorDetail] = []
    if changes.get("url") is not None:
        _check_url(changes["url"], allow_private, problems)
    events = _events(changes["events"], problems) if changes.get("events") is not None else None
    secret = changes.get("secret")
    if secret is not None:
        _check_secret(secret, problems)
    if problems:
        raise ValidationFailed("invalid webhook subscription", problems)
    if changes.get("url") is not None:
        sub.url = changes["url"]
    if events is not None:
        sub.events = events
    if secret is not None:
        sub.encrypted_secret = cipher.encrypt({"secret": secret})
    if changes.get("enabled") is not None:
        sub.enabled = bool(changes["enabled"])
        if sub.enabled:
            sub.disabled_reason = None
    sub.updated_at = utc_now()
    return SavedSubscription(sub, secret)


async def delete_subscription(session: AsyncSession, team_id: str, subscription_id: str) -> WebhookSubscription:
    """Delete a subscription; its pending deliveries are settled as ``disabled`` (the log keeps them)."""
    sub = await get_subscription(session, team_id, subscription_id)
    now = utc_now()
    await session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.subscription_id == sub.id, WebhookDelivery.status == PENDING)
        .values(
            status=DISABLED,
            next_attempt_at=None,
            lease_owner=None,
            lease_expires_at=None,
            last_error="the subscription was deleted",
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    await session.delete(sub)
    return sub


@dataclass(frozen=True)
class DeliveryFilters:
    """The filters of ``GET /v1/webhookDeliveries``."""

    phone_call_id: str | None = None
    status: str | None = None
    webhook_id: str | None = None


async def list_deliveries(
    session: AsyncSession, team_id: str, filters: DeliveryFilters, limit: int | None, cursor: str | None
) -> Page[WebhookDelivery]:
    """The team's deliveries, newest first; a call or subscription of another team answers 404."""
    query = select(WebhookDelivery).where(WebhookDelivery.team_id == team_id)
    if filters.status is not None:
        if filters.status not in DELIVERY_STATUSES:
            raise ValidationFailed(
                "invalid filters", [ErrorDetail("status", "must be one of " + ", ".join(DELIVERY_STATUSES))]
            )
        query = query.where(WebhookDelivery.status == filters.status)
    if filters.phone_call_id is not None:
        call = await get_call(session, team_id, filters.phone_call_id)
        query = query.where(WebhookDelivery.phone_call_id == call.id)
    if filters.webhook_id is not None:
        sub = await get_subscription(session, team_id, filters.webhook_id)
        query = query.where(WebhookDelivery.subscription_id == sub.id)
    return await paginate(session, query, WebhookDelivery.id, limit, cursor)


async def get_delivery(session: AsyncSession, team_id: str, delivery_id: str) -> WebhookDelivery:
    """One of the team's deliveries (404 for another team's)."""
    row = await session.get(WebhookDelivery, delivery_id) if is_valid_id(delivery_id) else None
    if row is None or row.team_id != team_id:
        raise NotFound(f"webhook delivery {delivery_id} not found")
    return row


async def redeliver(
    session: AsyncSession, team_id: str, delivery_id: str, *, now: datetime | None = None
) -> WebhookDelivery:
    """Send a delivery again, with the same ``webhook-id`` and body, as soon as a worker can.

    Whatever its status, it becomes ``pending``, due now, with a fresh retry window. It keeps its place in its
    call's order: later events of the same call to the same target wait for it.
    """
    row = await get_delivery(session, team_id, delivery_id)
    moment = now or utc_now()
    row.status = PENDING
    row.next_attempt_at = moment
    row.retry_window_started_at = moment
    row.delivered_at = None
    if row.lease_owner is None or (row.lease_expires_at is not None and row.lease_expires_at <= moment):
        row.lease_owner = None
        row.lease_expires_at = None
    row.updated_at = moment
    wake_workers_on_commit(session)
    return row


def subscription_view(saved: SavedSubscription | WebhookSubscription) -> dict[str, Any]:
    """A subscription on the wire; ``secret`` appears only in the answer that set it."""
    sub = saved.subscription if isinstance(saved, SavedSubscription) else saved
    view: dict[str, Any] = {
        "_id": sub.id,
        "teamId": sub.team_id,
        "url": sub.url,
        "events": sub.events,
        "enabled": sub.enabled,
        "disabledReason": sub.disabled_reason,
        "createdAt": format_timestamp(sub.created_at),
        "updatedAt": format_timestamp(sub.updated_at),
    }
    if isinstance(saved, SavedSubscription) and saved.secret is not None:
        view["secret"] = saved.secret
    return view


def delivery_view(row: WebhookDelivery, *, with_payload: bool = False) -> dict[str, Any]:
    """A delivery-log entry: what was sent where, how each attempt went, and when the next one is due."""
    view: dict[str, Any] = {
        "_id": row.id,
        "teamId": row.team_id,
        "phoneCallId": row.phone_call_id,
        "webhookId": row.subscription_id,
        "source": "team" if row.subscription_id is not None else "phoneCall",
        "phoneCallWebhookIndex": row.call_webhook_index,
        "event": row.event,
        "messageId": row.message_id,
        "sequence": row.sequence,
        "url": row.url,
        "status": row.status,
        "attempts": row.attempts,
        "lastResponseCode": row.last_status_code,
        "lastLatencyMs": row.last_latency_ms,
        "lastError": row.last_error,
        "nextAttemptAt": format_timestamp(row.next_attempt_at),
        "deliveredAt": format_timestamp(row.delivered_at),
        "createdAt": format_timestamp(row.created_at),
        "updatedAt": format_timestamp(row.updated_at),
    }
    if with_payload:
        view["payload"] = json.loads(row.payload)
    return view
