"""``/v1/files``: upload a CSV lead list (one call per valid row), read its report and progress, cancel it, and
download its results as CSV."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import PurePath
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import StreamingResponse

from opencaller.api.deps import ServicesDep, TeamId
from opencaller.api.envelope import data, page
from opencaller.api.schemas import ERROR_RESPONSES
from opencaller.domain.clock import to_utc
from opencaller.domain.ids import is_valid_id
from opencaller.engine import exports, files
from opencaller.engine.recording_links import RecordingLinks
from opencaller.errors import ErrorDetail, ValidationFailed

router = APIRouter(prefix="/v1/files", tags=["files"], responses=ERROR_RESPONSES)


def _options(
    upload: UploadFile,
    call_template_id: str,
    phone_column: str | None,
    name_column: str | None,
    email_column: str | None,
    default_region: str | None,
    phone_number_id: str | None,
    call_delayed_until: str | None,
    variable_columns: str | None,
) -> files.ImportOptions:
    """The upload's form fields, checked; every problem is named in one 400."""
    problems: list[ErrorDetail] = []
    mapping: dict[str, str] = {}
    if variable_columns:
        try:
            parsed = json.loads(variable_columns)
        except ValueError:
            parsed = None
        if not isinstance(parsed, dict) or not all(
            isinstance(k, str) and k and isinstance(v, str) for k, v in parsed.items()
        ):
            problems.append(ErrorDetail("variableColumns", 'must be a JSON object such as {"customer_name": "Name"}'))
        else:
            mapping = parsed
    delayed: datetime | None = None
    if call_delayed_until:
        try:
            delayed = to_utc(datetime.fromisoformat(call_delayed_until))
        except ValueError:
            problems.append(ErrorDetail("callDelayedUntil", "must be an ISO-8601 time such as 2030-01-31T09:00:00Z"))
    name = PurePath((upload.filename or "").replace("\\", "/")).name.strip() or "leads.csv"
    if problems:
        raise ValidationFailed("invalid upload", problems)
    return files.ImportOptions(
        call_template_id=call_template_id,
        file_name=name[:255],
        phone_column=phone_column or None,
        name_column=name_column or None,
        email_column=email_column or None,
        default_region=(default_region or "").strip().upper() or None,
        phone_number_id=phone_number_id or None,
        call_delayed_until=delayed,
        variable_columns=mapping,
    )


@router.post("", summary="Upload a CSV lead list")
async def upload_file(
    services: ServicesDep,
    team_id: TeamId,
    file: Annotated[UploadFile, File(description="The CSV file (UTF-8, comma, semicolon or tab separated).")],
    call_template_id: Annotated[str, Form(alias="callTemplateId")],
    phone_column: Annotated[str | None, Form(alias="phoneColumn")] = None,
    name_column: Annotated[str | None, Form(alias="nameColumn")] = None,
    email_column: Annotated[str | None, Form(alias="emailColumn")] = None,
    default_region: Annotated[
        str | None, Form(alias="defaultRegion", description="Country of numbers written without +code, e.g. US")
    ] = None,
    phone_number_id: Annotated[str | None, Form(alias="phoneNumberId")] = None,
    call_delayed_until: Annotated[str | None, Form(alias="callDelayedUntil")] = None,
    variable_columns: Annotated[
        str | None, Form(alias="variableColumns", description='JSON: variable key -> column, e.g. {"city": "Town"}')
    ] = None,
) -> dict[str, Any]:
    """Queue one call per valid row; answer the File with its report (``rejectedRows``: row and reason).

    The whole file is imported or nothing is: a file that is not UTF-8 CSV, is empty, or whose columns do not match
    the request answers 400 and creates nothing. Rows that break a rule are reported, not imported.
    """
    options = _options(
        file,
        call_template_id,
        phone_column,
        name_column,
        email_column,
        default_region,
        phone_number_id,
        call_delayed_until,
        variable_columns,
    )
    async with services.db.transaction() as session:
        lead_file = await files.import_file(session, team_id, file.file, options)
        return data(files.file_view(lead_file, await files.file_progress(session, lead_file)))


@router.get("", summary="List lead-list files")
async def list_files(
    services: ServicesDep,
    team_id: TeamId,
    call_template_id: Annotated[str | None, Query(alias="callTemplateId")] = None,
    limit: Annotated[int | None, Query(description="Page size, 1 to 1000 (default 100)")] = None,
    cursor: Annotated[str | None, Query(description="`pagination.nextCursor` of the previous page")] = None,
) -> dict[str, Any]:
    """The team's files, newest first, with their import reports (``progress`` only on ``GET /v1/files/{id}``)."""
    if call_template_id is not None and not is_valid_id(call_template_id):
        raise ValidationFailed("invalid filters", [ErrorDetail("callTemplateId", "is not an id (24 hex characters)")])
    async with services.db.read() as session:
        result = await files.list_files(session, team_id, call_template_id, limit, cursor)
        return page(result, files.file_view)


@router.get("/{file_id}", summary="Get a lead-list file and its progress")
async def get_file(services: ServicesDep, team_id: TeamId, file_id: str) -> dict[str, Any]:
    """The file's import report and how its calls stand (counts by status and by statusCode)."""
    async with services.db.read() as session:
        lead_file = await files.get_file(session, team_id, file_id)
        return data(files.file_view(lead_file, await files.file_progress(session, lead_file)))


@router.post("/{file_id}/cancel", summary="Cancel a file's calls that are not dialled yet")
async def cancel_file(services: ServicesDep, team_id: TeamId, file_id: str) -> dict[str, Any]:
    """Every call of the file still queued ends ``cancelled`` (``CANCELLED_BY_USER``); calls under way go on."""
    async with services.db.transaction() as session:
        lead_file = await files.cancel_file(session, team_id, file_id)
        return data(files.file_view(lead_file, await files.file_progress(session, lead_file)))


@router.get(
    "/{file_id}/results.csv",
    summary="Download a file's results as CSV",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}, "description": "The results spreadsheet"}},
)
async def file_results(services: ServicesDep, team_id: TeamId, file_id: str, request: Request) -> StreamingResponse:
    """The original columns of every imported row, then status, statusCode, attempts, call start and end,
    duration, one column per result column of the template, tags, meeting time and recording URL."""
    links = RecordingLinks.from_settings(services.settings, str(request.base_url))
    export = await exports.file_results(services.db, team_id, file_id, links=links)
    return csv_response(export)


def csv_response(export: exports.CsvExport) -> StreamingResponse:
    """Stream an export as a CSV download."""
    return StreamingResponse(
        export.lines,
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": f'attachment; filename="{_header_safe(export.file_name)}"'},
    )


def _header_safe(name: str) -> str:
    return "".join(c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in name)
