"""``/v1/phoneCalls``: create one or a batch, read, list with filters, cancel."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Request
from fastapi.responses import FileResponse, Response, StreamingResponse

from opencaller.api.deps import ServicesDep, TeamId
from opencaller.api.envelope import data, page
from opencaller.api.errors import error_response
from opencaller.api.routers.files import csv_response
from opencaller.api.schemas import ERROR_RESPONSES, PHONE_CALL_EXAMPLE, PhoneCallBatch
from opencaller.domain.calls import PhoneCallCreate
from opencaller.domain.clock import to_utc
from opencaller.domain.ids import is_valid_id
from opencaller.domain.phone import InvalidPhoneNumber, normalize_e164
from opencaller.domain.status import CallStatus
from opencaller.engine import calls, exports
from opencaller.engine.recording_links import RecordingLinks
from opencaller.engine.recordings import RecordingStore, recording_file
from opencaller.engine.views import phone_call_view
from opencaller.engine.webhook_events import WebhookIntake
from opencaller.errors import ErrorDetail, ValidationFailed

router = APIRouter(prefix="/v1/phoneCalls", tags=["phoneCalls"], responses=ERROR_RESPONSES)


def recording_links(services: ServicesDep, request: Request) -> RecordingLinks:
    """How this request's answers sign ``recordingUrl`` (under the public URL, else the URL it came in on)."""
    return RecordingLinks.from_settings(services.settings, str(request.base_url))


LinksDep = Annotated[RecordingLinks, Depends(recording_links)]


@router.post("", summary="Create a phone call", response_description="Phone call successfully created")
async def create_phone_call(
    services: ServicesDep,
    team_id: TeamId,
    body: Annotated[PhoneCallCreate, Body(openapi_examples={"aicaller": {"value": PHONE_CALL_EXAMPLE}})],
) -> dict[str, Any]:
    """Queue one call. Answers 200 with the created PhoneCall, as aicaller does."""
    async with services.db.transaction() as session:
        intake = WebhookIntake.from_settings(services.settings, services.cipher)
        call = await calls.create_call(session, team_id, body, webhooks=intake)
        return data(phone_call_view(call))


@router.post("/batch", summary="Create many phone calls")
async def create_phone_calls(
    services: ServicesDep,
    team_id: TeamId,
    body: Annotated[
        PhoneCallBatch, Body(openapi_examples={"aicaller": {"value": {"phoneCalls": [PHONE_CALL_EXAMPLE]}}})
    ],
) -> dict[str, Any]:
    """Queue up to 1000 calls at once: all are created, or none and every bad item is named by its index."""
    async with services.db.transaction() as session:
        intake = WebhookIntake.from_settings(services.settings, services.cipher)
        created = await calls.create_calls(session, team_id, body.phone_calls, webhooks=intake)
        return data([phone_call_view(call) for call in created])


def call_filters(
    call_template_id: Annotated[str | None, Query(alias="callTemplateId")] = None,
    status: Annotated[str | None, Query(description="One of the call statuses; `canceled` is accepted")] = None,
    file_id: Annotated[str | None, Query(alias="fileId")] = None,
    to_phone_number: Annotated[str | None, Query(alias="toPhoneNumber")] = None,
    created_after: Annotated[datetime | None, Query(alias="createdAfter")] = None,
    created_before: Annotated[datetime | None, Query(alias="createdBefore")] = None,
) -> calls.CallFilters:
    """The list filters shared by ``GET /v1/phoneCalls`` and its CSV export, validated (400 when malformed)."""
    problems: list[ErrorDetail] = []
    parsed_status = None
    if status is not None:
        try:
            parsed_status = CallStatus.parse(status)
        except ValueError:
            problems.append(ErrorDetail("status", "must be one of " + ", ".join(s.value for s in CallStatus)))
    number = None
    if to_phone_number is not None:
        try:
            number = normalize_e164(to_phone_number)
        except InvalidPhoneNumber as exc:
            problems.append(ErrorDetail("toPhoneNumber", str(exc)))
    for name, value in (("callTemplateId", call_template_id), ("fileId", file_id)):
        if value is not None and not is_valid_id(value):
            problems.append(ErrorDetail(name, "is not an id (24 hex characters)"))
    bounds: dict[str, datetime | None] = {"createdAfter": created_after, "createdBefore": created_before}
    for name, moment in bounds.items():
        try:
            bounds[name] = None if moment is None else to_utc(moment)
        except ValueError as exc:
            problems.append(ErrorDetail(name, str(exc)))
    if problems:
        raise ValidationFailed("invalid filters", problems)
    created_after, created_before = bounds["createdAfter"], bounds["createdBefore"]
    return calls.CallFilters(
        call_template_id=call_template_id,
        status=parsed_status,
        file_id=file_id,
        to_phone_number=number,
        created_after=created_after,
        created_before=created_before,
    )


@router.get("", summary="List phone calls")
async def list_phone_calls(
    services: ServicesDep,
    team_id: TeamId,
    links: LinksDep,
    filters: Annotated[calls.CallFilters, Depends(call_filters)],
    limit: Annotated[int | None, Query(description="Page size, 1 to 1000 (default 100)")] = None,
    cursor: Annotated[str | None, Query(description="`pagination.nextCursor` of the previous page")] = None,
) -> dict[str, Any]:
    """The team's calls, newest first, one page at a time."""
    async with services.db.read() as session:
        result = await calls.list_calls(session, team_id, filters, limit, cursor)
        return page(result, lambda call: phone_call_view(call, links=links))


@router.get(
    "/export.csv",
    summary="Export phone calls as CSV",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}, "description": "Every call that passes the filters"}},
)
async def export_phone_calls(
    services: ServicesDep,
    team_id: TeamId,
    links: LinksDep,
    filters: Annotated[calls.CallFilters, Depends(call_filters)],
) -> StreamingResponse:
    """Every call that passes the list's filters, oldest first, one CSV row each (no pagination)."""
    return csv_response(exports.calls_export(services.db, team_id, filters, links=links))


@router.get("/{call_id}", summary="Get a phone call", response_description="Phone call found")
async def get_phone_call(services: ServicesDep, team_id: TeamId, links: LinksDep, call_id: str) -> dict[str, Any]:
    """One call with everything known about it so far; ``recordingUrl`` is a signed link (a day by default)."""
    async with services.db.read() as session:
        return data(phone_call_view(await calls.get_call(session, team_id, call_id), links=links))


@router.post(
    "/{call_id}/cancel",
    summary="Cancel a phone call",
    responses={409: {"description": "The call was already answered or is over"}},
)
async def cancel_phone_call(services: ServicesDep, team_id: TeamId, call_id: str) -> dict[str, Any]:
    """Cancel a call that is queued or still ringing; 409 once it has been answered.

    A ringing call is also cancelled at the provider, so the callee's phone stops ringing.
    """
    async with services.db.transaction() as session:
        call = await calls.cancel_call(session, team_id, call_id)
        view = phone_call_view(call)
    if call.provider_call_id and services.calls is not None:
        await services.calls.end_leg(call.provider_call_id)
    return data(view)


_RANGE = re.compile(r"bytes=\s*(\d+-\d*|-\d+)(\s*,\s*(\d+-\d*|-\d+))*\s*")


@router.get(
    "/{call_id}/recording",
    summary="Download a call's recording",
    response_class=FileResponse,
    responses={
        200: {"content": {"audio/wav": {}}, "description": "Stereo WAV, 8 kHz: left the callee, right the agent"},
        206: {"description": "The requested byte range (`Range: bytes=...`)"},
        403: {"description": "The link is not valid or has expired"},
        416: {"description": "The requested range lies beyond the end of the file"},
    },
)
async def get_recording(
    services: ServicesDep,
    links: LinksDep,
    request: Request,
    call_id: str,
    expires: Annotated[str, Query(description="From the call's `recordingUrl`")],
    signature: Annotated[str, Query(description="From the call's `recordingUrl`")],
) -> Response:
    """The call's recording. No API key: the signed link in ``recordingUrl`` is the credential (403 when it is
    tampered with or expired). Answers ``Range`` requests, so audio players can seek."""
    links.check(call_id, expires, signature)
    async with services.db.read() as session:
        path = await recording_file(session, RecordingStore(services.settings.resolved_recordings_dir), call_id)
    refused = _unsatisfiable(request.headers.get("range"), path.stat().st_size)
    if refused is not None:
        return refused
    return FileResponse(path, media_type="audio/wav", filename=f"{call_id}.wav", content_disposition_type="inline")


def _unsatisfiable(wanted: str | None, size: int) -> Response | None:
    """Check a ``Range`` header before the file response serves it: malformed answers 400, a range that starts
    past the end 416, both in the documented error shape; None lets the file response serve it."""
    if wanted is None:
        return None
    if not _RANGE.fullmatch(wanted):
        raise ValidationFailed("invalid Range header", [ErrorDetail("Range", "must look like bytes=0-1023")])
    for part in wanted.split("=", 1)[1].split(","):
        first, last = (piece.strip() for piece in part.split("-", 1))
        if first and last and int(last) < int(first):
            raise ValidationFailed(
                "invalid Range header", [ErrorDetail("Range", "a range must not end before it starts")]
            )
        if (int(first) if first else size - int(last)) >= size:
            response = error_response(416, "range_not_satisfiable", "the range lies beyond the end of the recording")
            response.headers["content-range"] = f"bytes */{size}"
            return response
    return None
