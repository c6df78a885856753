"""``/v1/webhooks`` (team subscriptions) and ``/v1/webhookDeliveries`` (the delivery log, redelivery)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from opencaller.api.deps import ServicesDep, TeamId
from opencaller.api.envelope import data, page
from opencaller.api.schemas import ERROR_RESPONSES, WebhookCreate, WebhookUpdate
from opencaller.engine import webhook_subscriptions as hooks

router = APIRouter(tags=["webhooks"], responses=ERROR_RESPONSES)

Limit = Annotated[int | None, Query(description="Page size, 1 to 1000 (default 100)")]
Cursor = Annotated[str | None, Query(description="`pagination.nextCursor` of the previous page")]


@router.post("/v1/webhooks", summary="Create a webhook subscription")
async def create_webhook(services: ServicesDep, team_id: TeamId, body: WebhookCreate) -> dict[str, Any]:
    """Send the team's call events to `url`. `secret` is in this answer only: keep it to verify signatures."""
    async with services.db.transaction() as session:
        saved = await hooks.create_subscription(
            session,
            team_id,
            url=body.url,
            events=body.events,
            secret=body.secret,
            enabled=body.enabled,
            cipher=services.cipher,
            allow_private=services.settings.webhooks_allow_private,
        )
        return data(hooks.subscription_view(saved))


@router.get("/v1/webhooks", summary="List webhook subscriptions")
async def list_webhooks(
    services: ServicesDep, team_id: TeamId, limit: Limit = None, cursor: Cursor = None
) -> dict[str, Any]:
    """The team's subscriptions, newest first (secrets are never shown)."""
    async with services.db.read() as session:
        return page(await hooks.list_subscriptions(session, team_id, limit, cursor), hooks.subscription_view)


@router.get("/v1/webhooks/{webhook_id}", summary="Get a webhook subscription")
async def get_webhook(services: ServicesDep, team_id: TeamId, webhook_id: str) -> dict[str, Any]:
    """One subscription; `enabled` is false (with `disabledReason`) once its receiver answered 410."""
    async with services.db.read() as session:
        return data(hooks.subscription_view(await hooks.get_subscription(session, team_id, webhook_id)))


@router.patch("/v1/webhooks/{webhook_id}", summary="Update a webhook subscription")
async def update_webhook(
    services: ServicesDep, team_id: TeamId, webhook_id: str, body: WebhookUpdate
) -> dict[str, Any]:
    """Change the URL, events or secret, or enable/disable it. A new secret is echoed once, in this answer."""
    async with services.db.transaction() as session:
        saved = await hooks.update_subscription(
            session,
            team_id,
            webhook_id,
            body.model_dump(exclude_unset=True),
            cipher=services.cipher,
            allow_private=services.settings.webhooks_allow_private,
        )
        return data(hooks.subscription_view(saved))


@router.delete("/v1/webhooks/{webhook_id}", summary="Delete a webhook subscription")
async def delete_webhook(services: ServicesDep, team_id: TeamId, webhook_id: str) -> dict[str, Any]:
    """Delete it; deliveries still pending for it are settled as `disabled` and stay in the log."""
    async with services.db.transaction() as session:
        return data(hooks.subscription_view(await hooks.delete_subscription(session, team_id, webhook_id)))


@router.get("/v1/webhookDeliveries", summary="List webhook deliveries")
async def list_webhook_deliveries(
    services: ServicesDep,
    team_id: TeamId,
    phone_call_id: Annotated[str | None, Query(alias="phoneCallId")] = None,
    status: Annotated[str | None, Query(description="pending, delivered, failed or disabled")] = None,
    webhook_id: Annotated[str | None, Query(alias="webhookId")] = None,
    limit: Limit = None,
    cursor: Cursor = None,
) -> dict[str, Any]:
    """The delivery log, newest first: attempts, last response code and latency, last error, next try."""
    filters = hooks.DeliveryFilters(phone_call_id=phone_call_id, status=status, webhook_id=webhook_id)
    async with services.db.read() as session:
        return page(await hooks.list_deliveries(session, team_id, filters, limit, cursor), hooks.delivery_view)


@router.get("/v1/webhookDeliveries/{delivery_id}", summary="Get a webhook delivery")
async def get_webhook_delivery(services: ServicesDep, team_id: TeamId, delivery_id: str) -> dict[str, Any]:
    """One delivery with the exact `payload` that is (or was) sent."""
    async with services.db.read() as session:
        row = await hooks.get_delivery(session, team_id, delivery_id)
        return data(hooks.delivery_view(row, with_payload=True))


@router.post("/v1/webhookDeliveries/{delivery_id}/redeliver", summary="Redeliver a webhook")
async def redeliver_webhook(services: ServicesDep, team_id: TeamId, delivery_id: str) -> dict[str, Any]:
    """Send it again (same `webhook-id`, same body, fresh signature) as soon as a worker can."""
    async with services.db.transaction() as session:
        return data(hooks.delivery_view(await hooks.redeliver(session, team_id, delivery_id)))
