"""Team webhooks: the subscriptions (URL and events), creating one (its signing secret shown once), editing,
disabling or deleting one, and the recent deliveries with the receiver's answer, each of which can be sent again.

Saving goes through the engine's use-cases, so the URL safety check applies as on ``POST /v1/webhooks``: a private
or metadata address is refused (unless the server allows private targets) and the reason is shown next to the URL.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

from opencaller.dashboard.auth import CsrfChecked, SignedIn
from opencaller.dashboard.context import Ctx, DashboardContext
from opencaller.dashboard.nav import PREFIX
from opencaller.dashboard.rendering import errors_by_field, render
from opencaller.dashboard.routing import page_router
from opencaller.engine import webhook_subscriptions as hooks
from opencaller.errors import ErrorDetail, NotFound, ValidationFailed
from opencaller.webhooks.events import WebhookEvent

router = page_router(prefix=f"{PREFIX}/webhooks")

EVENTS = (WebhookEvent.ALL.value, *(event.value for event in WebhookEvent if event is not WebhookEvent.ALL))
"""Every event a subscription may name, ``*`` (all of them) first."""
RECENT_DELIVERIES = 25
MAX_URL = 2000


def _posted(form: FormData) -> dict[str, Any]:
    url = form.get("url")
    return {
        "url": url.strip() if isinstance(url, str) else "",
        "events": [value for value in form.getlist("events") if isinstance(value, str)],
        "enabled": "enabled" in form,
    }


def _checked(values: dict[str, Any]) -> None:
    """The form's own limits (the engine checks the URL's safety and the event names)."""
    problems: list[ErrorDetail] = []
    if not values["url"]:
        problems.append(ErrorDetail("url", "enter the URL that receives the events"))
    elif len(values["url"]) > MAX_URL:
        problems.append(ErrorDetail("url", f"must be at most {MAX_URL} characters"))
    if len(values["events"]) > len(EVENTS):
        problems.append(ErrorDetail("events", "too many events"))
    if problems:
        raise ValidationFailed("invalid webhook subscription", problems)


async def _list_page(
    request: Request,
    context: DashboardContext,
    team_id: str,
    *,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    created: dict[str, Any] | None = None,
) -> Response:
    async with context.db.read() as db:
        subscriptions = (await hooks.list_subscriptions(db, team_id, 1000, None)).items
        deliveries = await hooks.list_deliveries(db, team_id, hooks.DeliveryFilters(), RECENT_DELIVERIES, None)
    return render(
        request,
        "webhooks/list.html",
        status_code=400 if errors else 200,
        area="webhooks",
        subscriptions=[hooks.subscription_view(sub) for sub in subscriptions],
        deliveries=[hooks.delivery_view(row) for row in deliveries.items],
        values=values or {"url": "", "events": [WebhookEvent.ALL.value], "enabled": True},
        errors=errors or {},
        created=created,
        events=EVENTS,
        notice=request.query_params.get("done", ""),
    )


@router.get("")
async def list_webhooks(request: Request, context: Ctx, viewer: SignedIn) -> Response:
    """The team's subscriptions, the form to add one, and the latest deliveries."""
    return await _list_page(request, context, viewer.team_id)


@router.post("")
async def create_webhook(request: Request, context: Ctx, viewer: SignedIn, _csrf: CsrfChecked) -> Response:
    """Subscribe a URL to events; the generated signing secret is shown on the answer, once."""
    values = _posted(await request.form())
    try:
        _checked(values)
        async with context.db.transaction() as db:
            saved = await hooks.create_subscription(
                db,
                viewer.team_id,
                url=values["url"],
                events=values["events"],
                secret=None,
                enabled=True,
                cipher=context.cipher,
                allow_private=context.settings.webhooks_allow_private,
            )
            created = hooks.subscription_view(saved)
    except ValidationFailed as exc:
        return await _list_page(request, context, viewer.team_id, values=values, errors=errors_by_field(exc.details))
    return await _list_page(request, context, viewer.team_id, created=created)


async def _subscription_page(
    request: Request,
    context: DashboardContext,
    team_id: str,
    webhook_id: str,
    *,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
) -> Response:
    async with context.db.read() as db:
        sub = hooks.subscription_view(await hooks.get_subscription(db, team_id, webhook_id))
        filters = hooks.DeliveryFilters(webhook_id=webhook_id)
        deliveries = await hooks.list_deliveries(db, team_id, filters, RECENT_DELIVERIES, None)
    return render(
        request,
        "webhooks/detail.html",
        status_code=400 if errors else 200,
        area="webhooks",
        sub=sub,
        deliveries=[hooks.delivery_view(row) for row in deliveries.items],
        values=values or {"url": sub["url"], "events": sub["events"], "enabled": sub["enabled"]},
        errors=errors or {},
        events=EVENTS,
        saved=request.query_params.get("saved") == "1",
        notice=request.query_params.get("done", ""),
    )


@router.get("/{webhook_id}")
async def webhook_page(request: Request, context: Ctx, viewer: SignedIn, webhook_id: str) -> Response:
    """One subscription: its settings and its latest deliveries; another team's is not found."""
    return await _subscription_page(request, context, viewer.team_id, webhook_id)


@router.post("/{webhook_id}")
async def save_webhook(
    request: Request, context: Ctx, viewer: SignedIn, _csrf: CsrfChecked, webhook_id: str
) -> Response:
    """Change the URL or events, or turn the subscription off (its pending deliveries then stay unsent)."""
    async with context.db.read() as db:
        await hooks.get_subscription(db, viewer.team_id, webhook_id)
    values = _posted(await request.form())
    try:
        _checked(values)
        async with context.db.transaction() as db:
            await hooks.update_subscription(
                db,
                viewer.team_id,
                webhook_id,
                values,
                cipher=context.cipher,
                allow_private=context.settings.webhooks_allow_private,
            )
    except ValidationFailed as exc:
        errors = errors_by_field(exc.details)
        return await _subscription_page(request, context, viewer.team_id, webhook_id, values=values, errors=errors)
    return RedirectResponse(f"{PREFIX}/webhooks/{webhook_id}?saved=1", status_code=303)


@router.get("/{webhook_id}/delete")
async def confirm_delete(request: Request, context: Ctx, viewer: SignedIn, webhook_id: str) -> Response:
    """Ask before deleting a subscription."""
    async with context.db.read() as db:
        sub = hooks.subscription_view(await hooks.get_subscription(db, viewer.team_id, webhook_id))
    return render(request, "webhooks/delete.html", area="webhooks", sub=sub)


@router.post("/{webhook_id}/delete")
async def delete_webhook(
    request: Request, context: Ctx, viewer: SignedIn, _csrf: CsrfChecked, webhook_id: str
) -> Response:
    """Delete the subscription; deliveries still pending for it are settled as disabled and stay in the log."""
    async with context.db.transaction() as db:
        await hooks.delete_subscription(db, viewer.team_id, webhook_id)
    return RedirectResponse(f"{PREFIX}/webhooks?done=deleted", status_code=303)


@router.post("/deliveries/{delivery_id}/redeliver")
async def redeliver(request: Request, context: Ctx, viewer: SignedIn, _csrf: CsrfChecked, delivery_id: str) -> Response:
    """Send a delivery again (same ``webhook-id`` and body) as soon as a worker can."""
    async with context.db.transaction() as db:
        row = await hooks.redeliver(db, viewer.team_id, delivery_id)
        back = f"{PREFIX}/webhooks"
        if row.subscription_id is not None:
            try:
                await hooks.get_subscription(db, viewer.team_id, row.subscription_id)
                back = f"{PREFIX}/webhooks/{row.subscription_id}"
            except NotFound:
                pass  # its subscription was deleted since: back to the list, where the log shows it
    return RedirectResponse(f"{back}?done=redelivered", status_code=303)
