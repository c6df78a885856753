"""Lead lists: the uploaded files with their progress, the upload form, one file's report and progress, cancelling
its queued calls, and its results spreadsheet.

The upload is a single form: the CSV file, its template, and an optional column mapping. Left empty, a mapping field
means "guess": the engine finds the number, name and email columns by their usual headers and turns every other
column into a prompt variable named after its header (a variable's column defaults to one with the key's name).
A single form needs no server-side state between steps and works without JavaScript; when the guess fails, the form
comes back with the engine's message and the file's own column names to choose from. The import is the API's
(``POST /v1/files``): all of the file or none of it, under the same upload size limit.
"""

from __future__ import annotations

import asyncio
from pathlib import PurePath
from typing import Any, BinaryIO
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData, UploadFile

from opencaller.dashboard.auth import CsrfChecked, SignedIn
from opencaller.dashboard.context import Ctx, DashboardContext
from opencaller.dashboard.nav import PREFIX
from opencaller.dashboard.rendering import render
from opencaller.dashboard.routing import page_router
from opencaller.domain.status import CallStatus
from opencaller.engine import exports, files, phone_numbers, templates
from opencaller.engine.lead_csv import LeadCsvReader
from opencaller.engine.pagination import check_page_args
from opencaller.engine.recording_links import RecordingLinks
from opencaller.engine.templates import TemplateView
from opencaller.errors import ErrorDetail, ValidationFailed

router = page_router(prefix=f"{PREFIX}/files")

PAGE_SIZE = 25
REFRESH = "every 2s"
STATUSES = tuple(status.value for status in CallStatus)
MAPPING_FIELDS = ("phoneColumn", "nameColumn", "emailColumn")
LABELS = {
    "file": "CSV file",
    "callTemplateId": "Template",
    "phoneNumberId": "Call from",
    "defaultRegion": "Default country",
    "phoneColumn": "Phone number column",
    "nameColumn": "Name column",
    "emailColumn": "Email column",
}
"""The form's labels by field, to name the fields in the error summary as the form does."""


async def _template_views(db: AsyncSession, team_id: str) -> list[TemplateView]:
    return list((await templates.list_templates(db, team_id, 1000, None)).items)


@router.get("")
async def list_files(request: Request, context: Ctx, viewer: SignedIn) -> Response:
    """The team's lead lists, newest first, each with its import counts and how far its calls have got."""
    cursor = request.query_params.get("cursor") or None
    try:
        check_page_args(PAGE_SIZE, cursor)
    except ValidationFailed:
        cursor = None  # not one of our cursors: start from the newest
    async with context.db.read() as db:
        found = await files.list_files(db, viewer.team_id, None, PAGE_SIZE, cursor)
        rows = [files.file_view(f, await files.file_progress(db, f)) for f in found.items]
        names = {view.template.id: view.definition.name for view in await _template_views(db, viewer.team_id)}
    return render(
        request,
        "files/list.html",
        area="files",
        files=rows,
        template_names=names,
        next_link=f"{PREFIX}/files?{urlencode({'cursor': found.next_cursor})}" if found.next_cursor else None,
        first_link=f"{PREFIX}/files" if cursor else None,
    )


async def _form_page(
    request: Request,
    context: DashboardContext,
    team_id: str,
    values: dict[str, str],
    variables: dict[str, str],
    *,
    errors: dict[str, str] | None = None,
    columns: list[str] | None = None,
) -> Response:
    async with context.db.read() as db:
        views = await _template_views(db, team_id)
        numbers = (await phone_numbers.list_phone_numbers(db, team_id, 1000, None)).items
    chosen = next((v for v in views if v.template.id == values.get("callTemplateId")), views[0] if views else None)
    values = {
        "phoneNumberId": "",
        "defaultRegion": "",
        **dict.fromkeys(MAPPING_FIELDS, ""),
        **values,
        "callTemplateId": chosen.template.id if chosen else "",
    }
    return render(
        request,
        "files/upload.html",
        status_code=400 if errors else 200,
        area="files",
        templates=views,
        chosen=chosen,
        numbers=numbers,
        values=values,
        variables=variables,
        errors=errors or {},
        columns=columns or [],
        labels=LABELS,
        max_megabytes=_megabytes(context.settings.max_upload_bytes),
    )


@router.get("/new")
async def upload_form(request: Request, context: Ctx, viewer: SignedIn) -> Response:
    """The upload form, for the template in ``?callTemplateId`` (else the newest), with one field per variable."""
    chosen = request.query_params.get("callTemplateId") or ""
    return await _form_page(request, context, viewer.team_id, {"callTemplateId": chosen}, {})


@router.post("")
async def upload(request: Request, context: Ctx, viewer: SignedIn, _csrf: CsrfChecked) -> Response:
    """Import the file (one call per valid row) and show its report; on any error nothing is imported and the
    form comes back with the problems next to the fields."""
    form = await request.form()
    values = {name: _text(form, name) for name in ("callTemplateId", "phoneNumberId", "defaultRegion", *MAPPING_FIELDS)}
    upload = form.get("file")
    async with context.db.read() as db:
        views = await _template_views(db, viewer.team_id)
        number_ids = {n.id for n in (await phone_numbers.list_phone_numbers(db, viewer.team_id, 1000, None)).items}
    view = next((v for v in views if v.template.id == values["callTemplateId"]), None)
    keys = [v.key for v in view.definition.prompt_variables] if view else []
    variables = {key: _text(form, f"var-{key}") for key in keys}
    problems: list[ErrorDetail] = []
    if view is None:
        problems.append(ErrorDetail("callTemplateId", "choose one of your templates"))
    if values["phoneNumberId"] and values["phoneNumberId"] not in number_ids:
        problems.append(ErrorDetail("phoneNumberId", "choose one of your phone numbers"))
    if not isinstance(upload, UploadFile) or (not upload.filename and not upload.size):
        problems.append(ErrorDetail("file", "choose a CSV file to upload"))
    columns: list[str] = []
    try:
        if problems or view is None or not isinstance(upload, UploadFile):
            raise ValidationFailed("the file was not imported", problems)
        options = files.ImportOptions(
            call_template_id=view.template.id,
            file_name=_file_name(upload.filename),
            phone_column=values["phoneColumn"] or None,
            name_column=values["nameColumn"] or None,
            email_column=values["emailColumn"] or None,
            default_region=values["defaultRegion"].upper() or None,
            phone_number_id=values["phoneNumberId"] or None,
            variable_columns={key: column for key, column in variables.items() if column},
        )
        try:
            async with context.db.transaction() as db:
                lead_file = await files.import_file(db, viewer.team_id, upload.file, options)
        except ValidationFailed:
            columns = await asyncio.to_thread(_header_of, upload.file)
            raise
    except ValidationFailed as exc:
        errors = _errors(exc)
        return await _form_page(request, context, viewer.team_id, values, variables, errors=errors, columns=columns)
    return RedirectResponse(f"{PREFIX}/files/{lead_file.id}?imported=1", status_code=303)


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def _file_name(raw: str | None) -> str:
    """The upload's own name without any directory a browser may send; ``leads.csv`` when it has none."""
    name = PurePath((raw or "").replace("\\", "/")).name.strip() or "leads.csv"
    return name[:255]


def _header_of(raw: BinaryIO) -> list[str]:
    """The file's column names, to offer them in the mapping fields; none when the file cannot be read."""
    try:
        return [name for name in LeadCsvReader(raw).open() if name]
    except (ValidationFailed, OSError, ValueError):
        return []


def _errors(exc: ValidationFailed) -> dict[str, str]:
    """The engine's problems by form field: ``variableColumns.city`` is the field ``var-city``."""
    errors: dict[str, str] = {}
    for detail in exc.details:
        name = detail.field
        if name.startswith("variableColumns."):
            name = "var-" + name.removeprefix("variableColumns.")
        elif name == "fromPhoneNumber":
            name = "phoneNumberId"
        errors.setdefault(name, detail.message)
    if not errors:
        errors["file"] = exc.message
    return errors


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):g} MB"


async def _file_values(context: DashboardContext, team_id: str, file_id: str) -> dict[str, Any]:
    async with context.db.read() as db:
        lead_file = await files.get_file(db, team_id, file_id)
        view = files.file_view(lead_file, await files.file_progress(db, lead_file))
        names = {v.template.id: v.definition.name for v in await _template_views(db, team_id)}
    progress = view["progress"]
    return {
        "area": "files",
        "file": view,
        "template_name": names.get(view["callTemplateId"], view["callTemplateId"]),
        "progress": progress,
        "statuses": STATUSES,
        "live": progress["pending"] > 0,
        "refresh": REFRESH,
        "progress_url": f"{PREFIX}/files/{lead_file.id}/progress",
    }


@router.get("/{file_id}")
async def file_page(request: Request, context: Ctx, viewer: SignedIn, file_id: str) -> Response:
    """One lead list: its import report (rejected rows and why), its calls' progress, cancel and download."""
    values = await _file_values(context, viewer.team_id, file_id)
    return render(
        request,
        "files/detail.html",
        imported=request.query_params.get("imported") == "1",
        cancelled=request.query_params.get("cancelled") == "1",
        **values,
    )


@router.get("/{file_id}/progress")
async def file_progress(request: Request, context: Ctx, viewer: SignedIn, file_id: str) -> Response:
    """The progress section alone, polled by htmx while calls of the file are pending."""
    return render(request, "files/_progress.html", **await _file_values(context, viewer.team_id, file_id))


@router.post("/{file_id}/cancel")
async def cancel_file(request: Request, context: Ctx, viewer: SignedIn, _csrf: CsrfChecked, file_id: str) -> Response:
    """Cancel the file's calls that are still queued; calls under way finish."""
    async with context.db.transaction() as db:
        lead_file = await files.cancel_file(db, viewer.team_id, file_id)
    return RedirectResponse(f"{PREFIX}/files/{lead_file.id}?cancelled=1", status_code=303)


@router.get("/{file_id}/results.csv")
async def results(request: Request, context: Ctx, viewer: SignedIn, file_id: str) -> Response:
    """The results spreadsheet (the API's ``/v1/files/{id}/results.csv``), authenticated by the session."""
    links = RecordingLinks.from_settings(context.settings, str(request.base_url))
    export = await exports.file_results(context.db, viewer.team_id, file_id, links=links)
    safe = "".join(c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in export.file_name)
    return StreamingResponse(
        export.lines,
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": f'attachment; filename="{safe}"'},
    )
