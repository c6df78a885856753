"""Calls: the filterable list with live status, and one call's page (timeline, transcript, recording, results,
webhook deliveries). Both refresh themselves with htmx while calls are under way, and show everything without it.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode, urlsplit

from fastapi import Request
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncSession

from opencaller.dashboard.auth import SignedIn
from opencaller.dashboard.context import Ctx
from opencaller.dashboard.nav import PREFIX
from opencaller.dashboard.pages.call_filters import parse_filters
from opencaller.dashboard.rendering import render
from opencaller.dashboard.routing import page_router
from opencaller.domain.status import FINAL_STATUSES, CallStatus
from opencaller.engine import calls, files, templates
from opencaller.engine import webhook_subscriptions as hooks
from opencaller.engine.pagination import check_page_args
from opencaller.engine.recording_links import RecordingLinks
from opencaller.engine.transcripts import transcript_for
from opencaller.engine.views import phone_call_view, transcript_turn_view
from opencaller.errors import ValidationFailed

router = page_router(prefix=f"{PREFIX}/calls")

PAGE_SIZE = 25
FINAL = frozenset(status.value for status in FINAL_STATUSES)
LIST_REFRESH = "every 2s"
CALL_REFRESH = "every 1s"


async def _template_names(db: AsyncSession, team_id: str) -> dict[str, str]:
    page = await templates.list_templates(db, team_id, 1000, None)
    return {view.template.id: view.definition.name for view in page.items}


async def _list_values(request: Request, context: Ctx, viewer: SignedIn, *, with_choices: bool) -> dict[str, Any]:
    parsed = parse_filters(request.query_params)
    cursor = request.query_params.get("cursor") or None
    try:
        check_page_args(PAGE_SIZE, cursor)
    except ValidationFailed:
        cursor = None  # a cursor that is not one of ours: start from the newest
    async with context.db.read() as db:
        names = await _template_names(db, viewer.team_id)
        rows: list[dict[str, Any]] = []
        next_cursor = None
        if not parsed.problems:
            found = await calls.list_calls(db, viewer.team_id, parsed.filters, PAGE_SIZE, cursor)
            rows = [phone_call_view(call) for call in found.items]
            next_cursor = found.next_cursor
        lead_files = (await files.list_files(db, viewer.team_id, None, 100, None)).items if with_choices else []
    query = parsed.query()
    here = dict(query, cursor=cursor) if cursor else query
    return {
        "area": "calls",
        "calls": rows,
        "template_names": names,
        "files": [(f.id, f.file_name) for f in lead_files],
        "statuses": [status.value for status in CallStatus],
        "raw": parsed.raw,
        "problems": parsed.problems,
        "next_link": f"{PREFIX}/calls?{urlencode(dict(query, cursor=next_cursor))}" if next_cursor else None,
        "first_link": f"{PREFIX}/calls?{urlencode(query)}" if cursor else None,
        "rows_url": f"{PREFIX}/calls/rows" + (f"?{urlencode(here)}" if here else ""),
        "live": any(call["status"] not in FINAL for call in rows),
        "refresh": LIST_REFRESH,
    }


@router.get("")
async def list_calls(request: Request, context: Ctx, viewer: SignedIn) -> Response:
    """The team's calls, newest first, filtered like ``GET /v1/phoneCalls``, a page at a time."""
    values = await _list_values(request, context, viewer, with_choices=True)
    return render(request, "calls/list.html", status_code=400 if values["problems"] else 200, **values)


@router.get("/rows")
async def list_rows(request: Request, context: Ctx, viewer: SignedIn) -> Response:
    """The list's rows alone, for htmx to refresh the statuses while calls are under way."""
    values = await _list_values(request, context, viewer, with_choices=False)
    return render(request, "calls/_rows.html", **values)


async def _call_values(request: Request, context: Ctx, viewer: SignedIn, call_id: str) -> dict[str, Any]:
    links = RecordingLinks.from_settings(context.settings, str(request.base_url))
    # the <audio> player fetches the signed link, which lives under the public URL: let the page's policy allow it
    base = urlsplit(links.public_base_url)
    request.state.media_origin = f"{base.scheme}://{base.netloc}"
    async with context.db.read() as db:
        call = await calls.get_call(db, viewer.team_id, call_id)
        view = phone_call_view(call, links=links)
        turns = [transcript_turn_view(turn) for turn in await transcript_for(db, viewer.team_id, call.id)]
        deliveries = await hooks.list_deliveries(
            db, viewer.team_id, hooks.DeliveryFilters(phone_call_id=call.id), 100, None
        )
        names = await _template_names(db, viewer.team_id)
    return {
        "area": "calls",
        "call": view,
        "template_name": names.get(call.call_template_id, call.call_template_id),
        "transcript": turns,
        "timeline": timeline(view),
        "deliveries": [hooks.delivery_view(row) for row in deliveries.items],
        "live": call.status not in FINAL,
        "refresh": CALL_REFRESH,
        "live_url": f"{PREFIX}/calls/{call.id}/live",
    }


@router.get("/{call_id}")
async def call_page(request: Request, context: Ctx, viewer: SignedIn, call_id: str) -> Response:
    """Everything known about one call; another team's call is not found."""
    return render(request, "calls/detail.html", **await _call_values(request, context, viewer, call_id))


@router.get("/{call_id}/live")
async def call_live(request: Request, context: Ctx, viewer: SignedIn, call_id: str) -> Response:
    """The call page's body alone, polled by htmx until the call is over (the transcript grows as it goes)."""
    return render(request, "calls/_live.html", **await _call_values(request, context, viewer, call_id))


def timeline(view: dict[str, Any]) -> list[tuple[str, str]]:
    """The call's moments in order: created, each dial and its end, answered, ended."""
    moments: list[tuple[str, str]] = [(view["createdAt"], "created")]
    for attempt in view["attempts"]:
        number = attempt["attempt"]
        if attempt.get("dialedAt"):
            moments.append((attempt["dialedAt"], f"attempt {number} dialled"))
        if attempt.get("endedAt"):
            outcome = attempt.get("status") or "ended"
            by = f", answered by {attempt['answeredBy']}" if attempt.get("answeredBy") else ""
            moments.append((attempt["endedAt"], f"attempt {number} ended: {outcome}{by}"))
    if view.get("callStartedAt"):
        moments.append((view["callStartedAt"], "answered"))
    if view.get("callEndedAt"):
        moments.append((view["callEndedAt"], f"call ended: {view['status']}"))
    return sorted(moments, key=lambda moment: moment[0])
